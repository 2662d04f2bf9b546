/*
 * store_line.h — one row in PostgreSQL's COPY text format, built column by
 * column with the format's escaping (backslash, tab, newline, carriage
 * return; NULL as \N). Pure.
 */
#ifndef PGVIGIL_STORE_LINE_H
#define PGVIGIL_STORE_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int cols;
    bool oom;
} store_line_t;

void store_line_init(store_line_t *l);
void store_line_free(store_line_t *l);
void store_line_text(store_line_t *l, const char *v); /* NULL -> \N */
void store_line_int(store_line_t *l, int64_t v);
void store_line_u64(store_line_t *l, uint64_t v);
void store_line_double(store_line_t *l, double v); /* NaN -> \N */
void store_line_bool(store_line_t *l, bool v);
void store_line_time(store_line_t *l, int64_t t_us); /* timestamptz, UTC */
void store_line_null(store_line_t *l);
/* Terminate with a newline; returns the text (owned by l), NULL if out of memory. */
const char *store_line_end(store_line_t *l);

#endif
