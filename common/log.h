/*
 * log.h — the process-wide logger (the one allowed global).
 *
 * Lines go to stderr as "TIME PROGRAM[PID] LEVEL: message", with optional
 * DETAIL and HINT lines in PostgreSQL's style. Never log secrets: DSNs go
 * through log_sanitize_dsn() first.
 */
#ifndef PGVIGIL_LOG_H
#define PGVIGIL_LOG_H

#include <stddef.h>

typedef enum {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARNING = 2,
    LOG_LEVEL_ERROR = 3,
} log_level_t;

/* Set the program name shown on every line and the minimum level. */
void log_init(const char *program, log_level_t level);
void log_set_level(log_level_t level);
log_level_t log_get_level(void);

/* "debug", "info", "warning", "error" -> level. Returns 0, or -1 if unknown. */
int log_parse_level(const char *name, log_level_t *out);

/* A message with optional detail and hint lines (either may be NULL). */
void log_report(log_level_t level, const char *detail, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_report(LOG_LEVEL_DEBUG, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_report(LOG_LEVEL_INFO, NULL, NULL, __VA_ARGS__)
#define log_warning(...) log_report(LOG_LEVEL_WARNING, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_report(LOG_LEVEL_ERROR, NULL, NULL, __VA_ARGS__)

/*
 * Copy a libpq connection string into buf with the value of any password
 * keyword (key=value form) or the password part of a URI replaced by "***".
 * Returns buf.
 */
char *log_sanitize_dsn(const char *dsn, char *buf, size_t buflen);

#endif
