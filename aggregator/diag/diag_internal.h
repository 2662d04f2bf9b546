/*
 * diag_internal.h — what the diagnostics files share (not an API): the
 * per-node state that diag.c owns and the others fill, and small JSON
 * helpers.
 *
 *   diag.c            per-node state, diag_apply (the one entry point per sample)
 *   diag_tables.c     table and index health (vacuum/analyze need, bloat, unused
 *                     and duplicate indexes)
 *   diag_statements.c statement deltas and the regression test
 *   diag_recommend.c  recommendations drawn from the above
 *   diag_pressure.c   wraparound, temp files, checkpoints, connections
 *   diag_backup.c     the backup verification and restore test as served
 *   diag_json.c       the helpers below
 */
#ifndef PGVIGIL_DIAG_INTERNAL_H
#define PGVIGIL_DIAG_INTERNAL_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "diag.h"

/* A statement unseen this long is forgotten. */
#define DIAG_FORGET_US (8LL * 86400 * 1000000)

typedef struct {
    diag_stmt_t *st;
    int64_t queryid, last_seen;
} diag_entry_t;

typedef struct {
    json_t *tables, *indexes, *statements, *backup, *recs, *doc;
    zhashx_t *stmts; /* "queryid/database/user" -> diag_entry_t */
    Pgvigil__Connections conn;
    Pgvigil__Checkpointer ckpt;
    bool has_conn, has_ckpt;
    unsigned regressions;
    int64_t rec_at_us;
    json_t *wraparound;             /* from the last wraparound section */
    uint64_t temp_files, temp_bytes; /* pg_stat_database totals at temp_at_us */
    int64_t temp_at_us;
    json_t *temp;                   /* the last interval's temp file rates */
} diag_node_t;

/* JSON helpers (diag_json.c): null when absent (or not finite, or not a
 * time after 1970); RFC 3339 for times. */
json_t *diag_time(bool has, int64_t us);
json_t *diag_real(bool has, double v);
json_t *diag_uint(bool has, uint64_t v);
/* "schema"."name", each quoted (caller frees). */
char *diag_qualified(const char *schema, const char *name);
/* o[k] as a string ("" when absent) and as a number (0 when absent). */
const char *diag_js(const json_t *o, const char *k);
double diag_jnum(const json_t *o, const char *k);
/* A catalogue metric (fleet/metric.h) derived from a connections or a
 * wraparound section alone, so pressure and recommendations read the same
 * derivation as alerting and /metrics. False when it cannot be derived. */
bool diag_metric(int metric, const Pgvigil__Connections *conn, const Pgvigil__Wraparound *wrap, double *out);

/* Values computed only on the collector's hourly cadence carry over from
 * the previous list to the new one (diag_tables.c). */
void diag_carry(const json_t *before, json_t *now, const char *name_key, const char *const *keys);
/* Feed one statements section; rebuild n->statements with verdicts
 * (diag_statements.c). */
void diag_statements(const diag_options_t *opt, diag_node_t *n, const Pgvigil__Statements *s, int64_t at_us);
/* Pressure (diag_pressure.c): the wraparound section as served, the temp
 * file rates since the last databases section, and the whole "pressure"
 * object of the document. */
json_t *diag_wraparound(const Pgvigil__Wraparound *w);
void diag_temp(diag_node_t *n, const Pgvigil__Databases *d, int64_t at_us);
json_t *diag_pressure(const diag_node_t *n);

#endif
