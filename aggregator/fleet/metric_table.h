/*
 * metric_table.h — the catalogue's rows (metric_table.c), for metric.c only.
 */
#ifndef PGVIGIL_METRIC_TABLE_H
#define PGVIGIL_METRIC_TABLE_H

#include <stddef.h>

#include "metric.h"

typedef struct {
    const char *alias, *name;
} metric_alias_t;

extern const metric_t metric_table[];
extern const size_t metric_table_count;
extern const metric_alias_t metric_aliases[]; /* ends with {NULL, NULL} */

#endif
