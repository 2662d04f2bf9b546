/*
 * log.c — the process-wide logger. One line per message on stderr, written
 * with a single write() so lines from several threads do not interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static char log_program[32] = "pgvigil";
static log_level_t log_min_level = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void log_init(const char *program, log_level_t level)
{
    snprintf(log_program, sizeof log_program, "%s", program ? program : "pgvigil");
    log_min_level = level;
}

void log_set_level(log_level_t level) { log_min_level = level; }

log_level_t log_get_level(void) { return log_min_level; }

int log_parse_level(const char *name, log_level_t *out)
{
    static const char *const lower[] = {"debug", "info", "warning", "error"};
    for (int i = 0; i < 4; i++) {
        if (name && strcasecmp(name, lower[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

/* Append a formatted piece to buf at *len, never past cap. */
static void log_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void log_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = (*len + (size_t)n < cap - 1) ? *len + (size_t)n : cap - 1;
}

void log_report(log_level_t level, const char *detail, const char *hint, const char *fmt, ...)
{
    if (level < log_min_level)
        return;
    char line[4096];
    size_t len = 0;
    char when[32];
    clock_format_rfc3339(clock_wall_us(), when, sizeof when);
    log_append(line, sizeof line, &len, "%s %s[%d] %s: ", when, log_program, (int)getpid(),
               log_level_names[level]);

    va_list ap;
    va_start(ap, fmt);
    if (len < sizeof line - 1) {
        int n = vsnprintf(line + len, sizeof line - len, fmt, ap);
        if (n > 0)
            len = (len + (size_t)n < sizeof line - 1) ? len + (size_t)n : sizeof line - 1;
    }
    va_end(ap);
    if (detail)
        log_append(line, sizeof line, &len, "\n\tDETAIL: %s", detail);
    if (hint)
        log_append(line, sizeof line, &len, "\n\tHINT: %s", hint);
    log_append(line, sizeof line, &len, "\n");
    if (line[len - 1] != '\n')
        line[len - 1] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

/* Is the text at p the keyword "password" followed by optional blanks and '='? */
static size_t log_password_keyword(const char *p)
{
    if (strncasecmp(p, "password", 8) != 0)
        return 0;
    size_t i = 8;
    while (p[i] == ' ' || p[i] == '\t')
        i++;
    return p[i] == '=' ? i + 1 : 0;
}

char *log_sanitize_dsn(const char *dsn, char *buf, size_t buflen)
{
    size_t o = 0;
    if (buflen == 0)
        return buf;
    const char *p = dsn ? dsn : "";
    const char *scheme = strstr(p, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = NULL;
    if (at) {
        for (const char *q = scheme + 3; q < at; q++)
            if (*q == ':') {
                colon = q;
                break;
            }
    }
    while (*p && o + 1 < buflen) {
        size_t kw = (p == dsn || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '&' || p[-1] == '?')
                        ? log_password_keyword(p)
                        : 0;
        if (colon && p == colon + 1) {
            /* URI form user:secret@host: mask up to the '@'. */
            for (const char *m = "***"; *m && o + 1 < buflen; m++)
                buf[o++] = *m;
            p = at;
            continue;
        }
        if (kw) {
            for (size_t i = 0; i < kw && o + 1 < buflen; i++)
                buf[o++] = p[i];
            p += kw;
            while (*p == ' ')
                p++;
            if (*p == '\'') { /* quoted value, with \' escapes */
                p++;
                while (*p && *p != '\'')
                    p += (*p == '\\' && p[1]) ? 2 : 1;
                if (*p)
                    p++;
            } else {
                while (*p && *p != ' ' && *p != '&')
                    p++;
            }
            for (const char *m = "***"; *m && o + 1 < buflen; m++)
                buf[o++] = *m;
            continue;
        }
        buf[o++] = *p++;
    }
    buf[o] = '\0';
    return buf;
}
