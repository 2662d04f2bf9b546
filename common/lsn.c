/*
 * lsn.c — LSN text conversion, PostgreSQL's "X/Y" form.
 */
#include "lsn.h"

#include <stdio.h>

/* Parse 1..8 hex digits at *p, advancing it. Returns 0 or -1. */
static int lsn_parse_half(const char **p, uint32_t *out)
{
    uint32_t v = 0;
    int digits = 0;
    for (;; (*p)++) {
        char c = **p;
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (++digits > 8)
            return -1;
        v = (v << 4) | (uint32_t)d;
    }
    if (digits == 0)
        return -1;
    *out = v;
    return 0;
}

int lsn_parse(const char *text, uint64_t *out)
{
    if (!text)
        return -1;
    const char *p = text;
    uint32_t hi, lo;
    if (lsn_parse_half(&p, &hi) != 0 || *p++ != '/')
        return -1;
    if (lsn_parse_half(&p, &lo) != 0 || *p != '\0')
        return -1;
    *out = ((uint64_t)hi << 32) | lo;
    return 0;
}

char *lsn_format(uint64_t lsn, char *buf)
{
    snprintf(buf, LSN_TEXT_MAX, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
    return buf;
}
