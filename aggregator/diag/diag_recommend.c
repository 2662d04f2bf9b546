/*
 * diag_recommend.c — recommendations drawn from a node's table, index and
 * statement diagnostics and its connection and checkpoint figures: what to
 * vacuum, analyze, index, reindex or drop, and which regressed statements
 * to look at, each with its evidence, a priority and the SQL to run.
 * Pure functions; owns nothing.
 */
#include "diag_internal.h"

#include "metric.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void diag_rec(json_t *out, const char *node, const char *kind, const char *severity, double priority,
                     const json_t *obj, const char *index, json_t *evidence, char *sql, const char *fmt, ...)
    __attribute__((format(printf, 10, 11)));

static void diag_rec(json_t *out, const char *node, const char *kind, const char *severity, double priority,
                     const json_t *obj, const char *index, json_t *evidence, char *sql, const char *fmt, ...)
{
    char title[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(title, sizeof title, fmt, ap);
    va_end(ap);
    json_t *r = json_pack("{s:s,s:s,s:s,s:f,s:s}", "node", node, "kind", kind, "severity", severity, "priority",
                          round(priority * 10) / 10, "title", title);
    if (obj) {
        json_object_set_new(r, "database", json_string(diag_js(obj, "database")));
        json_object_set_new(r, "schema", json_string(diag_js(obj, "schema")));
        json_object_set_new(r, "table", json_string(diag_js(obj, "table")));
    }
    if (index)
        json_object_set_new(r, "index", json_string(index));
    json_object_set_new(r, "evidence", evidence ? evidence : json_object());
    json_object_set_new(r, "sql", json_string(sql ? sql : ""));
    free(sql);
    json_array_append_new(out, r);
}

static char *diag_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *diag_sql(const char *fmt, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

/* Case-insensitive whole-word search of a table name in a query text. */
static bool diag_mentions(const char *query, const char *name)
{
    size_t n = strlen(name);
    if (!query || n == 0)
        return false;
    for (const char *p = query; *p; p++) {
        if (strncasecmp(p, name, n) != 0)
            continue;
        bool left = p == query || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool right = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (left && right)
            return true;
    }
    return false;
}

/* Vacuum, analyze and freeze: the table's upkeep. q: its quoted name. */
static void diag_rec_upkeep(json_t *out, const char *node, const json_t *t, const char *q)
{
    double dead = diag_jnum(t, "dead_tuples"), ratio = diag_jnum(t, "dead_ratio");
    bool av = !json_is_false(json_object_get(t, "autovacuum_enabled"));
    if (json_is_true(json_object_get(t, "needs_vacuum"))) {
        const char *last = json_string_value(json_object_get(t, "last_vacuum_any"));
        json_t *ev = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "dead_tuples",
                               json_object_get(t, "dead_tuples"), "live_tuples", json_object_get(t, "live_tuples"),
                               "dead_ratio", json_object_get(t, "dead_ratio"), "vacuum_threshold",
                               json_object_get(t, "vacuum_threshold"), "vacuum_reasons",
                               json_object_get(t, "vacuum_reasons"), "last_vacuum", json_object_get(t, "last_vacuum"),
                               "last_autovacuum", json_object_get(t, "last_autovacuum"), "autovacuum_enabled",
                               json_object_get(t, "autovacuum_enabled"));
        diag_rec(out, node, "vacuum", ratio >= 0.2 ? "warning" : "info", 50 + 40 * ratio, t, NULL, ev,
                 diag_sql("VACUUM (ANALYZE) %s;", q),
                 "vacuum %s now: %.0f dead tuples (%.0f%%)%s%s%s", q, dead, ratio * 100,
                 av ? "" : ", autovacuum is off for it", last ? ", last vacuumed " : ", never vacuumed",
                 last ? last : "");
    } else if (json_is_true(json_object_get(t, "needs_analyze"))) {
        json_t *ev = json_pack("{s:O,s:O,s:O,s:O}", "modifications_since_analyze",
                               json_object_get(t, "modifications_since_analyze"), "analyze_threshold",
                               json_object_get(t, "analyze_threshold"), "last_analyze",
                               json_object_get(t, "last_analyze"), "last_autoanalyze",
                               json_object_get(t, "last_autoanalyze"));
        diag_rec(out, node, "analyze", "info", 30, t, NULL, ev, diag_sql("ANALYZE %s;", q),
                 "analyze %s now: %.0f rows changed since its statistics were gathered", q,
                 diag_jnum(t, "modifications_since_analyze"));
    }
    double xid_age = diag_jnum(t, "relfrozenxid_age");
    if (xid_age >= 1e9)
        diag_rec(out, node, "freeze", xid_age >= 1.5e9 ? "critical" : "warning", 80, t, NULL,
                 json_pack("{s:f}", "relfrozenxid_age", xid_age), diag_sql("VACUUM (FREEZE, VERBOSE) %s;", q),
                 "freeze %s: its oldest transaction ID is %.0f transactions old", q, xid_age);
}

/* Mostly sequential scans over a big table: an index, with the statements
 * that read it as evidence. */
static void diag_rec_seq_scans(json_t *out, const char *node, const json_t *t, const char *q,
                               const json_t *statements, const diag_options_t *opt)
{
    const char *name = diag_js(t, "table");
    double seq = diag_jnum(t, "seq_scan"), idx = diag_jnum(t, "idx_scan"), seq_rows = diag_jnum(t, "seq_tup_read");
    double live = diag_jnum(t, "live_tuples");
    if (seq > 0 && seq > idx && live >= (double)opt->seq_scan_min_rows &&
        seq_rows / seq >= (double)opt->seq_scan_min_rows) {
        json_t *reads = json_array();
        size_t k;
        const json_t *s;
        json_array_foreach(json_object_get(statements, "statements"), k, s)
        {
            if (json_array_size(reads) < 5 && diag_mentions(diag_js(s, "query"), name))
                json_array_append_new(reads, json_pack("{s:O,s:O,s:O,s:O}", "queryid", json_object_get(s, "queryid"),
                                                       "query", json_object_get(s, "query"), "calls",
                                                       json_object_get(s, "calls"), "mean_time_ms",
                                                       json_object_get(s, "mean_time_ms")));
        }
        json_t *ev = json_pack("{s:f,s:f,s:f,s:f,s:o}", "seq_scan", seq, "idx_scan", idx, "rows_per_seq_scan",
                               round(seq_rows / seq), "live_tuples", live, "statements", reads);
        diag_rec(out, node, "add_index", "info", 35, t, NULL, ev,
                 diag_sql("-- index the columns the statements above filter or join on:\n"
                          "CREATE INDEX CONCURRENTLY ON %s (column_name);",
                          q),
                 "%s is read mostly by sequential scans (%.0f, %.0f rows each): add an index", q, seq,
                 round(seq_rows / seq));
    }
}

static void diag_rec_bloat(json_t *out, const char *node, const json_t *t, const char *q)
{
    double bloat = diag_jnum(t, "bloat_bytes"), bratio = diag_jnum(t, "bloat_ratio");
    if (bratio >= 0.5 && bloat >= 100.0 * 1048576)
        diag_rec(out, node, "bloat", "info", 25, t, NULL,
                 json_pack("{s:f,s:f,s:O}", "bloat_bytes", bloat, "bloat_ratio", bratio, "table_bytes",
                           json_object_get(t, "table_bytes")),
                 diag_sql("VACUUM FULL %s;  -- ACCESS EXCLUSIVE lock for the whole rewrite; pg_repack avoids it", q),
                 "%s is about %.0f%% bloat (%.0f MB): rewrite it off-peak", q, bratio * 100, bloat / 1048576);
}

static void diag_rec_tables(json_t *out, const char *node, const json_t *tables, const json_t *statements,
                            const diag_options_t *opt)
{
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(tables, "tables"), i, t)
    {
        char *q = diag_qualified(diag_js(t, "schema"), diag_js(t, "table"));
        if (!q)
            continue;
        diag_rec_upkeep(out, node, t, q);
        diag_rec_seq_scans(out, node, t, q, statements, opt);
        diag_rec_bloat(out, node, t, q);
        free(q);
    }
}

static void diag_rec_indexes(json_t *out, const char *node, const json_t *indexes)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(indexes, "indexes"), i, x)
    {
        char *q = diag_qualified(diag_js(x, "schema"), diag_js(x, "index"));
        double size = diag_jnum(x, "size_bytes");
        json_t *ev = json_pack("{s:O,s:O,s:O}", "size_bytes", json_object_get(x, "size_bytes"), "scans",
                               json_object_get(x, "scans"), "definition", json_object_get(x, "definition"));
        if (!json_is_true(json_object_get(x, "valid"))) {
            diag_rec(out, node, "reindex_invalid", "warning", 60, x, diag_js(x, "index"), ev,
                     diag_sql("REINDEX INDEX CONCURRENTLY %s;", q),
                     "index %s is invalid (a failed CREATE INDEX CONCURRENTLY?): rebuild or drop it", q);
        } else if (json_is_string(json_object_get(x, "duplicate_of")) && !json_is_true(json_object_get(x, "unique"))) {
            json_object_set(ev, "duplicate_of", json_object_get(x, "duplicate_of"));
            diag_rec(out, node, "drop_duplicate_index", "info", 40, x, diag_js(x, "index"), ev,
                     diag_sql("DROP INDEX CONCURRENTLY %s;", q),
                     "index %s duplicates %s (same table, same columns): drop it and save %.0f kB", q,
                     diag_js(x, "duplicate_of"), size / 1024);
        } else if (json_is_true(json_object_get(x, "unused"))) {
            json_object_set_new(ev, "note", json_string("scans counted on this node since its statistics were reset; "
                                                        "replicas count their own"));
            diag_rec(out, node, "drop_unused_index", "info", 20 + fmin(15, log2(size / 8192 + 1)), x, diag_js(x, "index"),
                     ev, diag_sql("DROP INDEX CONCURRENTLY %s;", q),
                     "index %s has never been scanned: drop it and save %.0f kB", q, size / 1024);
        } else {
            json_decref(ev);
        }
        free(q);
    }
}

static void diag_rec_statements(json_t *out, const char *node, const json_t *statements)
{
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(statements, "regressions"), i, s)
    {
        char *sql = NULL;
        const char *q = diag_js(s, "query");
        if (asprintf(&sql, "EXPLAIN (ANALYZE, BUFFERS) %s;  -- with representative parameters", *q ? q : "<query>") < 0)
            sql = NULL;
        json_t *r = json_pack("{s:s,s:s,s:s,s:f,s:s}", "node", node, "kind", "query_regression", "severity", "warning",
                              "priority", 45.0, "title", "");
        char title[256];
        snprintf(title, sizeof title, "query %" JSON_INTEGER_FORMAT " got %.1fx slower than its baseline (%.2f ms -> %.2f ms)",
                 json_integer_value(json_object_get(s, "queryid")), diag_jnum(s, "ratio"), diag_jnum(s, "baseline_mean_ms"),
                 diag_jnum(s, "recent_mean_ms"));
        json_object_set_new(r, "title", json_string(title));
        json_object_set_new(r, "database", json_string(diag_js(s, "database")));
        json_object_set_new(r, "evidence", json_deep_copy(s));
        json_object_set_new(r, "sql", json_string(sql ? sql : ""));
        free(sql);
        json_array_append_new(out, r);
    }
}

static int diag_by_priority(const void *a, const void *b)
{
    double x = diag_jnum(*(json_t *const *)a, "priority"), y = diag_jnum(*(json_t *const *)b, "priority");
    return x < y ? 1 : x > y ? -1 : 0;
}

void diag_sort_by_priority(json_t *list)
{
    size_t n = json_array_size(list);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    if (!items)
        return;
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(list, i));
    qsort(items, n, sizeof *items, diag_by_priority);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, items[i]);
    free(items);
}

json_t *diag_recommend(const char *node, const json_t *tables, const json_t *indexes, const json_t *statements,
                       const Pgvigil__Connections *conn, const Pgvigil__Checkpointer *ckpt,
                       const diag_options_t *opt)
{
    json_t *out = json_array();
    if (tables)
        diag_rec_tables(out, node, tables, statements, opt);
    if (indexes)
        diag_rec_indexes(out, node, indexes);
    if (statements)
        diag_rec_statements(out, node, statements);
    double used = 0;
    if (conn && conn->has_max_connections && conn->has_total &&
        diag_metric(METRIC_CONNECTION_SATURATION, conn, NULL, &used)) {
        double usable = (double)(conn->max_connections - conn->superuser_reserved);
        if (used >= 0.8) {
            char *sql = NULL;
            if (asprintf(&sql,
                         "-- put a pooler (PgBouncer, transaction mode) in front, or:\n"
                         "ALTER SYSTEM SET max_connections = %u;  -- takes effect at the next restart",
                         (unsigned)ceil(conn->max_connections * 1.5)) < 0)
                sql = NULL;
            diag_rec(out, node, "connections", used >= 0.95 ? "critical" : "warning", 55 + 30 * used, NULL, NULL,
                     json_pack("{s:i,s:i,s:i,s:i,s:i}", "total", (int)conn->total, "active", (int)conn->active, "idle",
                               (int)conn->idle, "max_connections", (int)conn->max_connections,
                               "superuser_reserved_connections", (int)conn->superuser_reserved),
                     sql, "%u of %.0f connections in use (%.0f%%): use a pooler or raise max_connections",
                     conn->total, usable, used * 100);
        }
    }
    if (ckpt && ckpt->has_checkpoints_requested && ckpt->has_checkpoints_timed) {
        double all = (double)(ckpt->checkpoints_requested + ckpt->checkpoints_timed);
        double req = all > 0 ? (double)ckpt->checkpoints_requested / all : 0;
        if (all >= 10 && req >= 0.2)
            diag_rec(out, node, "checkpoints", "info", 30, NULL, NULL,
                     json_pack("{s:I,s:I,s:f}", "checkpoints_requested", (json_int_t)ckpt->checkpoints_requested,
                               "checkpoints_timed", (json_int_t)ckpt->checkpoints_timed, "requested_ratio", req),
                     diag_sql("-- WAL volume forces checkpoints before checkpoint_timeout; double max_wal_size:\n"
                              "SELECT current_setting('max_wal_size');\n"
                              "ALTER SYSTEM SET max_wal_size = '<twice the value above>';\n"
                              "SELECT pg_reload_conf();"),
                     "%.0f%% of checkpoints are requested, not timed: raise max_wal_size", req * 100);
    }
    diag_sort_by_priority(out);
    return out;
}
