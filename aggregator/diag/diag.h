/*
 * diag.h — diagnostics of one node's tables, indexes and statements, and
 * the recommendations drawn from them (core thread only).
 *
 * The collector sends table, index and pg_stat_statements sections on its
 * stats cadence; diag turns each into the JSON the API serves (computed
 * once per arrival, immutable afterwards) and keeps, per statement, the
 * state of the regression test:
 *
 *   recent   = calls-weighted mean execution time over the intervals of the
 *              last `recent` window (default 15 min);
 *   baseline = calls-weighted mean over everything older, each interval
 *              weighted by 0.5^(age / half_life) (default half-life 24 h, so
 *              the last few days dominate and a week ago counts 1/128);
 *   regressed when recent >= factor x baseline (default 3) and
 *              recent - baseline >= min_increase (default 5 ms), with at
 *              least min_calls calls on each side (default 10) and a
 *              baseline at least min_baseline old (default 1 h).
 *
 * A statement unseen for 8 days is forgotten; a node keeps at most
 * DIAG_STATEMENTS_MAX statements (least recently seen go first).
 *
 * Per node JSON document (diag_node_doc), as served:
 *   {"node", "updated_at",
 *    "tables": {"collected_at", "tables": [{"database","schema","table",
 *        "live_tuples","dead_tuples","dead_ratio","needs_vacuum","needs_analyze",
 *        "vacuum_threshold","analyze_threshold","insert_threshold",
 *        "autovacuum_enabled","total_bytes","table_bytes","index_bytes",
 *        "toast_bytes","bloat_bytes","bloat_ratio","seq_scan","seq_tup_read",
 *        "idx_scan","last_vacuum","last_autovacuum","last_analyze",
 *        "last_autoanalyze","last_vacuum_any","relfrozenxid_age", ...}]} | null,
 *    "indexes": {"collected_at", "indexes": [{"database","schema","table",
 *        "index","size_bytes","scans","unique","primary","valid","unused",
 *        "duplicate_of","definition"}]} | null,
 *    "statements": {"collected_at","window_seconds","reset_detected",
 *        "statements": [... deltas + "baseline_mean_ms","recent_mean_ms",
 *        "regression"], "regressions": [...]} | null,
 *    "backup": <diag_backup_json> | null,
 *    "pressure": {"wraparound": {"oldest_database","datfrozenxid_age",
 *        "autovacuum_freeze_max_age","wraparound_ratio","freeze_max_age_ratio",
 *        "databases":[...]}, "temp_files": {"window_seconds","files_per_second",
 *        "bytes_per_second","total_files","total_bytes"}, "checkpoints":
 *        {"timed","requested","requested_ratio"}, "connections": {"total",
 *        "active","idle_in_transaction","waiting","max_connections","saturation"}},
 *    "recommendations": [{"node","kind","severity","priority","title",
 *        "database","schema","table","index","evidence":{...},"sql"}]}
 */
#ifndef PGVIGIL_DIAG_H
#define PGVIGIL_DIAG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "pgvigil.pb-c.h"

#define DIAG_STATEMENTS_MAX 5000

typedef struct {
    double regression_factor;          /* default 3 */
    double regression_min_increase_ms; /* default 5 */
    uint64_t regression_min_calls;     /* default 10 */
    uint64_t regression_recent_ms;     /* default 15 min */
    uint64_t regression_half_life_ms;  /* default 24 h */
    uint64_t regression_min_baseline_ms; /* default 1 h */
    uint64_t seq_scan_min_rows;        /* average rows per sequential scan worth an index, default 10000 */
    uint32_t statements_top;           /* statements listed per interval, default 50 */
} diag_options_t;

void diag_options_default(diag_options_t *o);

typedef struct diag diag_t;

diag_t *diag_new(const diag_options_t *opt);
void diag_destroy(diag_t **self_p);

/* Take what a sample of node carries (tables, indexes, statements,
 * checkpointer, connections, wraparound); returns true if the node's
 * document changed. at_us: the sample's time on the aggregator clock. */
bool diag_apply(diag_t *self, const Pgvigil__Sample *s, int64_t at_us);
/* The node's current document (borrowed; immutable; NULL if none). */
const json_t *diag_node_doc(diag_t *self, const char *node);
/* Regressed statements of node now (for the query_regression rule). */
unsigned diag_regressions(diag_t *self, const char *node);
/* node -> document, every node (new reference, values shared; never
 * modified once returned). Built again when a document changed, at most once
 * a second (now_us, monotonic): a fleet's diagnostics change every second
 * somewhere, and the map costs its size. */
json_t *diag_all(diag_t *self, int64_t now_us);

/* ---- pure parts, exposed for the unit tests ---- */

/* Table JSON with needs_vacuum/needs_analyze/dead_ratio/bloat_ratio. */
json_t *diag_table_json(const Pgvigil__TableStats *t);
/* Index list JSON with unused/duplicate_of flags. */
json_t *diag_indexes_json(const Pgvigil__Indexes *x);
/* Recommendations for one node from its document's parts (any may be NULL)
 * and the last known connection and checkpoint figures (may be NULL). */
json_t *diag_recommend(const char *node, const json_t *tables, const json_t *indexes,
                       const json_t *statements, const Pgvigil__Connections *conn,
                       const Pgvigil__Checkpointer *ckpt, const diag_options_t *opt);
/* The backup verification as the API shows it (and the history stores it):
 * {"node","path","ok","error","verified_at","duration_ms","backup_at",
 *  "size_bytes","interval_ms", and with a restore test "restore_ok",
 *  "restore_error","restore_finished_at","restore_ms","restore_rto_ms",
 *  "restore_result"} */
json_t *diag_backup_json(const char *node, const Pgvigil__Backup *b);
/* Recommendations in place, highest "priority" first. */
void diag_sort_by_priority(json_t *list);
/* A SQL identifier quoted like quote_ident() always-quoted: "a""b". Caller frees. */
char *diag_quote_ident(const char *name);

typedef struct diag_stmt diag_stmt_t;
/* Regression state of one statement: feed intervals in time order. */
diag_stmt_t *diag_stmt_new(int64_t first_seen_us);
void diag_stmt_free(diag_stmt_t *st);
void diag_stmt_add(diag_stmt_t *st, int64_t at_us, uint64_t calls, double total_ms, const diag_options_t *opt);
/* Fold intervals older than the recent window into the baseline. */
void diag_stmt_age(diag_stmt_t *st, int64_t now_us, const diag_options_t *opt);
typedef struct {
    double recent_mean_ms, baseline_mean_ms; /* NAN when no calls */
    uint64_t recent_calls;
    double baseline_calls;                   /* decayed */
    bool regression;
} diag_stmt_verdict_t;
diag_stmt_verdict_t diag_stmt_judge(const diag_stmt_t *st, int64_t now_us, const diag_options_t *opt);

#endif
