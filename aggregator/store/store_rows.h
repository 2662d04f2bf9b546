/*
 * store_rows.h — the store's observer of the fleet (fleet.h): renders the
 * history rows (node samples, replication lag, node status transitions,
 * events) from node views and hands them to a store writer.
 *
 * Runs on the core thread, inside the fleet's notification; the writer
 * belongs to the core (store_writer_new/destroy), this module keeps no state.
 */
#ifndef PGVIGIL_STORE_ROWS_H
#define PGVIGIL_STORE_ROWS_H

#include <stddef.h>

#include "fleet.h"
#include "nodeview.h"

/* A fleet_observer_fn; arg is the store_writer_t to put rows through. */
void store_rows_observe(void *arg, const fleet_note_t *note);

/* The view's history values as a PostgreSQL array literal, one position per
 * catalogue history slot ("{1.5,NULL,...}"), into buf; the text length,
 * or -1 when len is too small. */
int store_rows_metric_values(const node_view_t *v, char *buf, size_t len);

/* value as printf's "%.9g" writes it (whole numbers below 1e9 without
 * printf: the store formats some thirty of them a sample), NUL-terminated;
 * the text length, or -1 when len is too small. Pure. */
int store_rows_number(double value, char *buf, size_t len);

#endif
