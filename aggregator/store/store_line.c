/*
 * store_line.c — see store_line.h.
 */
#include "store_line.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void store_line_init(store_line_t *l) { memset(l, 0, sizeof *l); }

void store_line_free(store_line_t *l)
{
    free(l->buf);
    memset(l, 0, sizeof *l);
}

static void store_line_put(store_line_t *l, const char *s, size_t n)
{
    if (l->oom)
        return;
    if (l->len + n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        while (cap < l->len + n + 2)
            cap *= 2;
        char *b = realloc(l->buf, cap);
        if (!b) {
            l->oom = true;
            return;
        }
        l->buf = b;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}

static void store_line_sep(store_line_t *l)
{
    if (l->cols++ > 0)
        store_line_put(l, "\t", 1);
}

void store_line_null(store_line_t *l)
{
    store_line_sep(l);
    store_line_put(l, "\\N", 2);
}

void store_line_text(store_line_t *l, const char *v)
{
    if (!v) {
        store_line_null(l);
        return;
    }
    store_line_sep(l);
    for (const char *p = v; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '\\': esc = "\\\\"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        default: break;
        }
        if (esc)
            store_line_put(l, esc, 2);
        else
            store_line_put(l, p, 1);
    }
}

void store_line_int(store_line_t *l, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    store_line_sep(l);
    store_line_put(l, b, (size_t)n);
}

void store_line_u64(store_line_t *l, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRIu64, v);
    store_line_sep(l);
    store_line_put(l, b, (size_t)n);
}

void store_line_double(store_line_t *l, double v)
{
    if (isnan(v) || isinf(v)) {
        store_line_null(l);
        return;
    }
    char b[32];
    int n = snprintf(b, sizeof b, "%.17g", v);
    store_line_sep(l);
    store_line_put(l, b, (size_t)n);
}

void store_line_bool(store_line_t *l, bool v)
{
    store_line_sep(l);
    store_line_put(l, v ? "t" : "f", 1);
}

/* v in width decimal digits (zero-padded) at p; returns past them. */
static char *store_line_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

void store_line_time(store_line_t *l, int64_t t_us)
{
    int64_t s = t_us >= 0 ? t_us / 1000000 : -((-t_us + 999999) / 1000000);
    int64_t us = t_us - s * 1000000;
    time_t tt = (time_t)s;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char b[48];
    int n;
    if (tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999) {
        /* Two of these a sample: written by hand, as snprintf would. */
        char *p = store_line_digits(b, (unsigned)(tm.tm_year + 1900), 4);
        *p++ = '-';
        p = store_line_digits(p, (unsigned)tm.tm_mon + 1, 2);
        *p++ = '-';
        p = store_line_digits(p, (unsigned)tm.tm_mday, 2);
        *p++ = ' ';
        p = store_line_digits(p, (unsigned)tm.tm_hour, 2);
        *p++ = ':';
        p = store_line_digits(p, (unsigned)tm.tm_min, 2);
        *p++ = ':';
        p = store_line_digits(p, (unsigned)tm.tm_sec, 2);
        *p++ = '.';
        p = store_line_digits(p, (unsigned)us, 6);
        memcpy(p, "+00", 3);
        n = (int)(p + 3 - b);
    } else {
        n = snprintf(b, sizeof b, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)us);
    }
    store_line_sep(l);
    store_line_put(l, b, (size_t)n);
}

const char *store_line_end(store_line_t *l)
{
    store_line_put(l, "\n", 1);
    return l->oom ? NULL : l->buf;
}
