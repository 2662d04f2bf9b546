/*
 * diag.c — tables, indexes, statements and recommendations (see diag.h).
 */
#include "diag.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "clock.h"

#define DIAG_RECENT_CAP 16
#define DIAG_FORGET_US (8LL * 86400 * 1000000)

void diag_options_default(diag_options_t *o)
{
    *o = (diag_options_t){.regression_factor = 3,
                          .regression_min_increase_ms = 5,
                          .regression_min_calls = 10,
                          .regression_recent_ms = 15 * 60000,
                          .regression_half_life_ms = 24 * 3600000ULL,
                          .regression_min_baseline_ms = 3600000,
                          .seq_scan_min_rows = 10000,
                          .statements_top = 50};
}

/* ---- one statement's regression state ---- */

typedef struct {
    int64_t at;
    uint64_t calls;
    double total_ms;
} diag_interval_t;

struct diag_stmt {
    int64_t first_seen;
    diag_interval_t recent[DIAG_RECENT_CAP]; /* oldest at head */
    size_t head, n;
    double base_calls, base_total;           /* decayed to base_at */
    int64_t base_at;
};

diag_stmt_t *diag_stmt_new(int64_t first_seen_us)
{
    diag_stmt_t *st = calloc(1, sizeof *st);
    if (st)
        st->first_seen = first_seen_us;
    return st;
}

void diag_stmt_free(diag_stmt_t *st) { free(st); }

static double diag_decay(int64_t from, int64_t to, const diag_options_t *opt)
{
    if (to <= from || opt->regression_half_life_ms == 0)
        return 1;
    return pow(0.5, (double)(to - from) / ((double)opt->regression_half_life_ms * 1000));
}

static void diag_stmt_fold(diag_stmt_t *st, const diag_options_t *opt)
{
    const diag_interval_t *i = &st->recent[st->head];
    double f = st->base_at ? diag_decay(st->base_at, i->at, opt) : 1;
    st->base_calls = st->base_calls * f + (double)i->calls;
    st->base_total = st->base_total * f + i->total_ms;
    if (i->at > st->base_at)
        st->base_at = i->at;
    st->head = (st->head + 1) % DIAG_RECENT_CAP;
    st->n--;
}

void diag_stmt_add(diag_stmt_t *st, int64_t at_us, uint64_t calls, double total_ms, const diag_options_t *opt)
{
    if (st->n == DIAG_RECENT_CAP)
        diag_stmt_fold(st, opt);
    st->recent[(st->head + st->n) % DIAG_RECENT_CAP] = (diag_interval_t){at_us, calls, total_ms};
    st->n++;
}

void diag_stmt_age(diag_stmt_t *st, int64_t now_us, const diag_options_t *opt)
{
    int64_t edge = now_us - (int64_t)opt->regression_recent_ms * 1000;
    while (st->n && st->recent[st->head].at < edge)
        diag_stmt_fold(st, opt);
}

diag_stmt_verdict_t diag_stmt_judge(const diag_stmt_t *st, int64_t now_us, const diag_options_t *opt)
{
    diag_stmt_verdict_t v = {NAN, NAN, 0, 0, false};
    double total = 0;
    for (size_t k = 0; k < st->n; k++) {
        const diag_interval_t *i = &st->recent[(st->head + k) % DIAG_RECENT_CAP];
        v.recent_calls += i->calls;
        total += i->total_ms;
    }
    if (v.recent_calls)
        v.recent_mean_ms = total / (double)v.recent_calls;
    if (st->base_calls > 0)
        v.baseline_mean_ms = st->base_total / st->base_calls;
    v.baseline_calls = st->base_calls * diag_decay(st->base_at, now_us, opt);
    v.regression = now_us - st->first_seen >= (int64_t)opt->regression_min_baseline_ms * 1000 &&
                   v.recent_calls >= opt->regression_min_calls &&
                   v.baseline_calls >= (double)opt->regression_min_calls && !isnan(v.recent_mean_ms) &&
                   !isnan(v.baseline_mean_ms) &&
                   v.recent_mean_ms >= opt->regression_factor * v.baseline_mean_ms &&
                   v.recent_mean_ms - v.baseline_mean_ms >= opt->regression_min_increase_ms;
    return v;
}

/* ---- JSON helpers ---- */

static json_t *diag_time(bool has, int64_t us)
{
    char buf[40];
    return has && us > 0 ? json_string(clock_format_rfc3339(us, buf, sizeof buf)) : json_null();
}

static json_t *diag_real(bool has, double v)
{
    return has && isfinite(v) ? json_real(v) : json_null();
}

static json_t *diag_uint(bool has, uint64_t v)
{
    return has ? json_integer((json_int_t)v) : json_null();
}

char *diag_quote_ident(const char *name)
{
    size_t n = strlen(name), k = 0;
    char *out = malloc(2 * n + 3);
    if (!out)
        return NULL;
    out[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"')
            out[k++] = '"';
        out[k++] = name[i];
    }
    out[k++] = '"';
    out[k] = '\0';
    return out;
}

/* "schema"."name" */
static char *diag_qualified(const char *schema, const char *name)
{
    char *a = diag_quote_ident(schema ? schema : "public"), *b = diag_quote_ident(name ? name : "");
    char *out = NULL;
    if (a && b && asprintf(&out, "%s.%s", a, b) < 0)
        out = NULL;
    free(a);
    free(b);
    return out;
}

json_t *diag_table_json(const Pgvigil__TableStats *t)
{
    bool vac_dead = t->has_vacuum_threshold && t->has_dead_tuples && (double)t->dead_tuples > t->vacuum_threshold;
    bool vac_ins = t->has_insert_threshold && t->has_n_ins_since_vacuum &&
                   (double)t->n_ins_since_vacuum > t->insert_threshold;
    bool analyze = t->has_analyze_threshold && t->has_mod_since_analyze &&
                   (double)t->mod_since_analyze > t->analyze_threshold;
    uint64_t rows = t->live_tuples + t->dead_tuples;
    json_t *reasons = json_array();
    if (vac_dead)
        json_array_append_new(reasons, json_string("dead_tuples"));
    if (vac_ins)
        json_array_append_new(reasons, json_string("inserts"));
    json_t *o = json_object();
    json_object_set_new(o, "database", json_string(t->database ? t->database : ""));
    json_object_set_new(o, "schema", json_string(t->schema ? t->schema : ""));
    json_object_set_new(o, "table", json_string(t->table ? t->table : ""));
    json_object_set_new(o, "live_tuples", diag_uint(t->has_live_tuples, t->live_tuples));
    json_object_set_new(o, "dead_tuples", diag_uint(t->has_dead_tuples, t->dead_tuples));
    json_object_set_new(o, "dead_ratio", rows ? json_real((double)t->dead_tuples / (double)rows) : json_real(0));
    json_object_set_new(o, "needs_vacuum", json_boolean(vac_dead || vac_ins));
    json_object_set_new(o, "vacuum_reasons", reasons);
    json_object_set_new(o, "needs_analyze", json_boolean(analyze));
    json_object_set_new(o, "vacuum_threshold", diag_real(t->has_vacuum_threshold, t->vacuum_threshold));
    json_object_set_new(o, "analyze_threshold", diag_real(t->has_analyze_threshold, t->analyze_threshold));
    json_object_set_new(o, "insert_threshold", diag_real(t->has_insert_threshold, t->insert_threshold));
    json_object_set_new(o, "autovacuum_enabled",
                        t->has_autovacuum_enabled ? json_boolean(t->autovacuum_enabled) : json_null());
    json_object_set_new(o, "modifications_since_analyze", diag_uint(t->has_mod_since_analyze, t->mod_since_analyze));
    json_object_set_new(o, "inserts_since_vacuum", diag_uint(t->has_n_ins_since_vacuum, t->n_ins_since_vacuum));
    json_object_set_new(o, "total_bytes", diag_uint(t->has_total_bytes, t->total_bytes));
    json_object_set_new(o, "table_bytes", diag_uint(t->has_table_bytes, t->table_bytes));
    json_object_set_new(o, "index_bytes", diag_uint(t->has_index_bytes, t->index_bytes));
    json_object_set_new(o, "toast_bytes", diag_uint(t->has_toast_bytes, t->toast_bytes));
    json_object_set_new(o, "bloat_bytes", diag_uint(t->has_bloat_bytes, t->bloat_bytes));
    json_object_set_new(o, "bloat_ratio", t->has_bloat_bytes && t->table_bytes
                                              ? json_real((double)t->bloat_bytes / (double)t->table_bytes)
                                              : json_null());
    json_object_set_new(o, "seq_scan", diag_uint(t->has_seq_scan, t->seq_scan));
    json_object_set_new(o, "seq_tup_read", diag_uint(t->has_seq_tup_read, t->seq_tup_read));
    json_object_set_new(o, "idx_scan", diag_uint(t->has_idx_scan, t->idx_scan));
    json_object_set_new(o, "idx_tup_fetch", diag_uint(t->has_idx_tup_fetch, t->idx_tup_fetch));
    json_object_set_new(o, "last_vacuum", diag_time(t->has_last_vacuum_at_us, t->last_vacuum_at_us));
    json_object_set_new(o, "last_autovacuum", diag_time(t->has_last_autovacuum_at_us, t->last_autovacuum_at_us));
    json_object_set_new(o, "last_analyze", diag_time(t->has_last_analyze_at_us, t->last_analyze_at_us));
    json_object_set_new(o, "last_autoanalyze",
                        diag_time(t->has_last_autoanalyze_at_us, t->last_autoanalyze_at_us));
    json_object_set_new(o, "vacuum_count", diag_uint(t->has_vacuum_count, t->vacuum_count));
    json_object_set_new(o, "autovacuum_count", diag_uint(t->has_autovacuum_count, t->autovacuum_count));
    json_object_set_new(o, "relfrozenxid_age", diag_uint(t->has_relfrozenxid_age, t->relfrozenxid_age));
    /* The later of the manual and the automatic vacuum. */
    int64_t last = t->last_vacuum_at_us > t->last_autovacuum_at_us ? t->last_vacuum_at_us : t->last_autovacuum_at_us;
    json_object_set_new(o, "last_vacuum_any", diag_time(last > 0, last));
    return o;
}

static bool diag_same(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* Which of two duplicate indexes to keep: primary, then unique, then the
 * more used, then the name that sorts first. */
static bool diag_keep_first(const Pgvigil__IndexStats *a, const Pgvigil__IndexStats *b)
{
    if (a->is_primary != b->is_primary)
        return a->is_primary;
    if (a->is_unique != b->is_unique)
        return a->is_unique;
    if (a->idx_scan != b->idx_scan)
        return a->idx_scan > b->idx_scan;
    return strcmp(a->index ? a->index : "", b->index ? b->index : "") <= 0;
}

json_t *diag_indexes_json(const Pgvigil__Indexes *x)
{
    json_t *out = json_array();
    for (size_t i = 0; i < x->n_indexes; i++) {
        const Pgvigil__IndexStats *ix = x->indexes[i];
        const Pgvigil__IndexStats *keeper = NULL;
        json_t *dups = json_array();
        for (size_t j = 0; ix->signature && j < x->n_indexes; j++) {
            const Pgvigil__IndexStats *o = x->indexes[j];
            if (j == i || !o->signature || !diag_same(o->database, ix->database) ||
                !diag_same(o->schema, ix->schema) || !diag_same(o->table, ix->table) ||
                strcmp(o->signature, ix->signature) != 0 || !o->is_valid)
                continue;
            json_array_append_new(dups, json_string(o->index ? o->index : ""));
            if (!diag_keep_first(ix, o) && (!keeper || diag_keep_first(o, keeper)))
                keeper = o;
        }
        bool unused = ix->has_idx_scan && ix->idx_scan == 0 && !ix->is_unique && !ix->is_primary &&
                      (!ix->has_is_valid || ix->is_valid);
        json_t *o = json_object();
        json_object_set_new(o, "database", json_string(ix->database ? ix->database : ""));
        json_object_set_new(o, "schema", json_string(ix->schema ? ix->schema : ""));
        json_object_set_new(o, "table", json_string(ix->table ? ix->table : ""));
        json_object_set_new(o, "index", json_string(ix->index ? ix->index : ""));
        json_object_set_new(o, "size_bytes", diag_uint(ix->has_size_bytes, ix->size_bytes));
        json_object_set_new(o, "scans", diag_uint(ix->has_idx_scan, ix->idx_scan));
        json_object_set_new(o, "tuples_read", diag_uint(ix->has_idx_tup_read, ix->idx_tup_read));
        json_object_set_new(o, "unique", json_boolean(ix->is_unique));
        json_object_set_new(o, "primary", json_boolean(ix->is_primary));
        json_object_set_new(o, "valid", json_boolean(!ix->has_is_valid || ix->is_valid));
        json_object_set_new(o, "unused", json_boolean(unused));
        json_object_set_new(o, "duplicates", dups);
        json_object_set_new(o, "duplicate_of",
                            keeper && ix->is_valid ? json_string(keeper->index ? keeper->index : "") : json_null());
        json_object_set_new(o, "definition", ix->definition ? json_string(ix->definition) : json_null());
        json_array_append_new(out, o);
    }
    return out;
}

/* ---- recommendations ---- */

static const char *js(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static double jnum(const json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

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
        json_object_set_new(r, "database", json_string(js(obj, "database")));
        json_object_set_new(r, "schema", json_string(js(obj, "schema")));
        json_object_set_new(r, "table", json_string(js(obj, "table")));
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

static void diag_rec_tables(json_t *out, const char *node, const json_t *tables, const json_t *statements,
                            const diag_options_t *opt)
{
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(tables, "tables"), i, t)
    {
        char *q = diag_qualified(js(t, "schema"), js(t, "table"));
        const char *name = js(t, "table");
        double dead = jnum(t, "dead_tuples"), ratio = jnum(t, "dead_ratio");
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
                     jnum(t, "modifications_since_analyze"));
        }
        double xid_age = jnum(t, "relfrozenxid_age");
        if (xid_age >= 1e9)
            diag_rec(out, node, "freeze", xid_age >= 1.5e9 ? "critical" : "warning", 80, t, NULL,
                     json_pack("{s:f}", "relfrozenxid_age", xid_age), diag_sql("VACUUM (FREEZE, VERBOSE) %s;", q),
                     "freeze %s: its oldest transaction ID is %.0f transactions old", q, xid_age);
        double seq = jnum(t, "seq_scan"), idx = jnum(t, "idx_scan"), seq_rows = jnum(t, "seq_tup_read");
        double live = jnum(t, "live_tuples");
        if (seq > 0 && seq > idx && live >= (double)opt->seq_scan_min_rows &&
            seq_rows / seq >= (double)opt->seq_scan_min_rows) {
            json_t *reads = json_array();
            size_t k;
            const json_t *s;
            json_array_foreach(json_object_get(statements, "statements"), k, s)
            {
                if (json_array_size(reads) < 5 && diag_mentions(js(s, "query"), name))
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
        double bloat = jnum(t, "bloat_bytes"), bratio = jnum(t, "bloat_ratio");
        if (bratio >= 0.5 && bloat >= 100.0 * 1048576)
            diag_rec(out, node, "bloat", "info", 25, t, NULL,
                     json_pack("{s:f,s:f,s:O}", "bloat_bytes", bloat, "bloat_ratio", bratio, "table_bytes",
                               json_object_get(t, "table_bytes")),
                     diag_sql("VACUUM FULL %s;  -- ACCESS EXCLUSIVE lock for the whole rewrite; pg_repack avoids it", q),
                     "%s is about %.0f%% bloat (%.0f MB): rewrite it off-peak", q, bratio * 100, bloat / 1048576);
        free(q);
    }
}

static void diag_rec_indexes(json_t *out, const char *node, const json_t *indexes)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(indexes, "indexes"), i, x)
    {
        char *q = diag_qualified(js(x, "schema"), js(x, "index"));
        double size = jnum(x, "size_bytes");
        json_t *ev = json_pack("{s:O,s:O,s:O}", "size_bytes", json_object_get(x, "size_bytes"), "scans",
                               json_object_get(x, "scans"), "definition", json_object_get(x, "definition"));
        if (!json_is_true(json_object_get(x, "valid"))) {
            diag_rec(out, node, "reindex_invalid", "warning", 60, x, js(x, "index"), ev,
                     diag_sql("REINDEX INDEX CONCURRENTLY %s;", q),
                     "index %s is invalid (a failed CREATE INDEX CONCURRENTLY?): rebuild or drop it", q);
        } else if (json_is_string(json_object_get(x, "duplicate_of")) && !json_is_true(json_object_get(x, "unique"))) {
            json_object_set(ev, "duplicate_of", json_object_get(x, "duplicate_of"));
            diag_rec(out, node, "drop_duplicate_index", "info", 40, x, js(x, "index"), ev,
                     diag_sql("DROP INDEX CONCURRENTLY %s;", q),
                     "index %s duplicates %s (same table, same columns): drop it and save %.0f kB", q,
                     js(x, "duplicate_of"), size / 1024);
        } else if (json_is_true(json_object_get(x, "unused"))) {
            json_object_set_new(ev, "note", json_string("scans counted on this node since its statistics were reset; "
                                                        "replicas count their own"));
            diag_rec(out, node, "drop_unused_index", "info", 20 + fmin(15, log2(size / 8192 + 1)), x, js(x, "index"),
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
        const char *q = js(s, "query");
        if (asprintf(&sql, "EXPLAIN (ANALYZE, BUFFERS) %s;  -- with representative parameters", *q ? q : "<query>") < 0)
            sql = NULL;
        json_t *r = json_pack("{s:s,s:s,s:s,s:f,s:s}", "node", node, "kind", "query_regression", "severity", "warning",
                              "priority", 45.0, "title", "");
        char title[256];
        snprintf(title, sizeof title, "query %" JSON_INTEGER_FORMAT " got %.1fx slower than its baseline (%.2f ms -> %.2f ms)",
                 json_integer_value(json_object_get(s, "queryid")), jnum(s, "ratio"), jnum(s, "baseline_mean_ms"),
                 jnum(s, "recent_mean_ms"));
        json_object_set_new(r, "title", json_string(title));
        json_object_set_new(r, "database", json_string(js(s, "database")));
        json_object_set_new(r, "evidence", json_deep_copy(s));
        json_object_set_new(r, "sql", json_string(sql ? sql : ""));
        free(sql);
        json_array_append_new(out, r);
    }
}

static int diag_by_priority(const void *a, const void *b)
{
    double x = jnum(*(json_t *const *)a, "priority"), y = jnum(*(json_t *const *)b, "priority");
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
    if (conn && conn->has_max_connections && conn->has_total && conn->max_connections > conn->superuser_reserved) {
        double usable = (double)(conn->max_connections - conn->superuser_reserved);
        double used = (double)conn->total / usable;
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

/* ---- per node ---- */

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

struct diag {
    diag_options_t opt;
    zhashx_t *nodes;
};

static void diag_entry_free(void **item)
{
    diag_entry_t *e = *item;
    if (e) {
        diag_stmt_free(e->st);
        free(e);
    }
    *item = NULL;
}

static void diag_node_free(void **item)
{
    diag_node_t *n = *item;
    if (n) {
        json_decref(n->tables);
        json_decref(n->indexes);
        json_decref(n->statements);
        json_decref(n->backup);
        json_decref(n->recs);
        json_decref(n->wraparound);
        json_decref(n->temp);
        json_decref(n->doc);
        zhashx_destroy(&n->stmts);
        free(n);
    }
    *item = NULL;
}

diag_t *diag_new(const diag_options_t *opt)
{
    diag_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (opt)
        self->opt = *opt;
    else
        diag_options_default(&self->opt);
    self->nodes = zhashx_new();
    if (!self->nodes) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->nodes, diag_node_free);
    return self;
}

void diag_destroy(diag_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->nodes);
    free(*self_p);
    *self_p = NULL;
}

static diag_node_t *diag_node(diag_t *self, const char *name)
{
    diag_node_t *n = zhashx_lookup(self->nodes, name);
    if (n)
        return n;
    n = calloc(1, sizeof *n);
    if (!n || !(n->stmts = zhashx_new())) {
        free(n);
        return NULL;
    }
    zhashx_set_destructor(n->stmts, diag_entry_free);
    zhashx_insert(self->nodes, name, n);
    return n;
}

static json_t *diag_statement_json(const Pgvigil__StatementDelta *d, const diag_stmt_verdict_t *v)
{
    json_t *o = json_object();
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, d->queryid);
    json_object_set_new(o, "queryid", json_integer(d->queryid));
    json_object_set_new(o, "queryid_text", json_string(id)); /* exact in JavaScript too */
    json_object_set_new(o, "database", json_string(d->database ? d->database : ""));
    json_object_set_new(o, "user", json_string(d->user ? d->user : ""));
    json_object_set_new(o, "query", d->query ? json_string(d->query) : json_null());
    json_object_set_new(o, "calls", json_integer((json_int_t)d->calls));
    json_object_set_new(o, "total_time_ms", json_real(d->total_time_ms));
    json_object_set_new(o, "mean_time_ms", json_real(d->mean_time_ms));
    json_object_set_new(o, "rows", json_integer((json_int_t)d->rows));
    json_object_set_new(o, "shared_blks_hit", json_integer((json_int_t)d->shared_blks_hit));
    json_object_set_new(o, "shared_blks_read", json_integer((json_int_t)d->shared_blks_read));
    json_object_set_new(o, "temp_blks_read", json_integer((json_int_t)d->temp_blks_read));
    json_object_set_new(o, "temp_blks_written", json_integer((json_int_t)d->temp_blks_written));
    if (v) {
        json_object_set_new(o, "recent_mean_ms", diag_real(true, v->recent_mean_ms));
        json_object_set_new(o, "baseline_mean_ms", diag_real(true, v->baseline_mean_ms));
        json_object_set_new(o, "regression", json_boolean(v->regression));
    }
    return o;
}

static void diag_key(const Pgvigil__StatementDelta *d, char *key, size_t len)
{
    snprintf(key, len, "%" PRId64 "/%s/%s", d->queryid, d->database ? d->database : "", d->user ? d->user : "");
}

/* Feed one statements section; rebuild its JSON with verdicts. */
static void diag_statements(diag_t *self, diag_node_t *n, const Pgvigil__Statements *s, int64_t at_us)
{
    const diag_options_t *o = &self->opt;
    char key[320];
    for (size_t i = 0; i < s->n_statements && s->window_us > 0; i++) {
        const Pgvigil__StatementDelta *d = s->statements[i];
        diag_key(d, key, sizeof key);
        diag_entry_t *e = zhashx_lookup(n->stmts, key);
        if (!e) {
            if (zhashx_size(n->stmts) >= DIAG_STATEMENTS_MAX)
                continue; /* full; forgetting below makes room over time */
            e = calloc(1, sizeof *e);
            if (!e || !(e->st = diag_stmt_new(at_us))) {
                free(e);
                continue;
            }
            e->queryid = d->queryid;
            zhashx_insert(n->stmts, key, e);
        }
        diag_stmt_add(e->st, at_us, d->calls, d->total_time_ms, o);
        e->last_seen = at_us;
    }
    /* Age every statement (those that did not run this window too). */
    zlistx_t *gone = zlistx_new();
    for (diag_entry_t *e = zhashx_first(n->stmts); e; e = zhashx_next(n->stmts)) {
        diag_stmt_age(e->st, at_us, o);
        if (at_us - e->last_seen > DIAG_FORGET_US && gone)
            zlistx_add_end(gone, (void *)zhashx_cursor(n->stmts));
    }
    for (const char *k = gone ? zlistx_first(gone) : NULL; k; k = zlistx_next(gone))
        zhashx_delete(n->stmts, k);
    zlistx_destroy(&gone);

    json_t *list = json_array(), *regressions = json_array();
    n->regressions = 0;
    for (size_t i = 0; i < s->n_statements; i++) {
        const Pgvigil__StatementDelta *d = s->statements[i];
        diag_key(d, key, sizeof key);
        diag_entry_t *e = zhashx_lookup(n->stmts, key);
        diag_stmt_verdict_t v = {NAN, NAN, 0, 0, false};
        if (e)
            v = diag_stmt_judge(e->st, at_us, o);
        if (i < o->statements_top)
            json_array_append_new(list, diag_statement_json(d, e ? &v : NULL));
        if (v.regression) {
            n->regressions++;
            json_t *r = diag_statement_json(d, &v);
            json_object_set_new(r, "ratio", json_real(round(v.recent_mean_ms / v.baseline_mean_ms * 10) / 10));
            json_object_set_new(r, "recent_calls", json_integer((json_int_t)v.recent_calls));
            json_object_set_new(r, "baseline_calls", json_real(round(v.baseline_calls)));
            json_array_append_new(regressions, r);
        }
    }
    char at[40];
    json_decref(n->statements);
    n->statements = json_pack("{s:s,s:f,s:b,s:o,s:o}", "collected_at", clock_format_rfc3339(at_us, at, sizeof at),
                              "window_seconds", (double)s->window_us / 1e6, "reset_detected", s->reset_detected,
                              "statements", list, "regressions", regressions);
}

/* Values computed only on the collector's hourly cadence (bloat, index
 * definitions) carry over from the previous list to the new one. */
static void diag_carry(const json_t *before, json_t *now, const char *name_key, const char *const *keys)
{
    zhashx_t *old = zhashx_new();
    size_t i;
    json_t *x;
    char key[400];
    if (!old)
        return;
    json_array_foreach(before, i, x)
    {
        snprintf(key, sizeof key, "%s/%s/%s", js(x, "database"), js(x, "schema"), js(x, name_key));
        zhashx_update(old, key, x);
    }
    json_array_foreach(now, i, x)
    {
        snprintf(key, sizeof key, "%s/%s/%s", js(x, "database"), js(x, "schema"), js(x, name_key));
        const json_t *prev = zhashx_lookup(old, key);
        for (size_t k = 0; prev && keys[k]; k++)
            json_object_set(x, keys[k], json_object_get(prev, keys[k]));
    }
    zhashx_destroy(&old);
}

json_t *diag_backup_json(const char *node, const Pgvigil__Backup *b)
{
    json_t *o = json_object();
    json_object_set_new(o, "node", json_string(node));
    json_object_set_new(o, "path", b->path ? json_string(b->path) : json_null());
    json_object_set_new(o, "ok", json_boolean(b->ok));
    json_object_set_new(o, "error", b->error ? json_string(b->error) : json_null());
    json_object_set_new(o, "verified_at", diag_time(b->has_verified_at_us, b->verified_at_us));
    json_object_set_new(o, "duration_ms", diag_uint(b->has_duration_ms, b->duration_ms));
    json_object_set_new(o, "backup_at", diag_time(b->has_backup_at_us, b->backup_at_us));
    json_object_set_new(o, "size_bytes", diag_uint(b->has_size_bytes, b->size_bytes));
    json_object_set_new(o, "interval_ms", diag_uint(b->has_interval_ms, b->interval_ms));
    if (b->restore) {
        const Pgvigil__RestoreTest *r = b->restore;
        json_object_set_new(o, "restore_ok", json_boolean(r->ok));
        json_object_set_new(o, "restore_error", r->error ? json_string(r->error) : json_null());
        json_object_set_new(o, "restore_finished_at", diag_time(r->has_finished_at_us, r->finished_at_us));
        json_object_set_new(o, "restore_ms", diag_uint(r->has_duration_ms, r->duration_ms));
        json_object_set_new(o, "restore_rto_ms", diag_uint(r->has_rto_ms, r->rto_ms));
        json_object_set_new(o, "restore_result", r->result ? json_string(r->result) : json_null());
    }
    return o;
}

static json_t *diag_wraparound(const Pgvigil__Wraparound *w)
{
    json_t *dbs = json_array();
    const Pgvigil__DatabaseAge *oldest = NULL;
    for (size_t i = 0; i < w->n_databases; i++) {
        const Pgvigil__DatabaseAge *d = w->databases[i];
        if (!oldest || d->datfrozenxid_age > oldest->datfrozenxid_age)
            oldest = d;
        json_array_append_new(dbs, json_pack("{s:s,s:I,s:I}", "database", d->datname ? d->datname : "",
                                             "datfrozenxid_age", (json_int_t)d->datfrozenxid_age, "datminmxid_age",
                                             (json_int_t)d->datminmxid_age));
    }
    uint64_t age = oldest ? oldest->datfrozenxid_age : 0;
    return json_pack("{s:s?,s:I,s:o,s:f,s:f,s:o}", "oldest_database", oldest ? oldest->datname : NULL,
                     "datfrozenxid_age", (json_int_t)age, "autovacuum_freeze_max_age",
                     w->has_autovacuum_freeze_max_age ? json_integer((json_int_t)w->autovacuum_freeze_max_age)
                                                      : json_null(),
                     "wraparound_ratio", (double)age / 2147483648.0, "freeze_max_age_ratio",
                     w->autovacuum_freeze_max_age ? (double)age / (double)w->autovacuum_freeze_max_age : 0.0,
                     "databases", dbs);
}

/* Temp files written since the previous databases section, per second. */
static void diag_temp(diag_node_t *n, const Pgvigil__Databases *d, int64_t at_us)
{
    uint64_t files = 0, bytes = 0;
    for (size_t i = 0; i < d->n_databases; i++) {
        files += d->databases[i]->temp_files;
        bytes += d->databases[i]->temp_bytes;
    }
    if (n->temp_at_us && at_us > n->temp_at_us && files >= n->temp_files && bytes >= n->temp_bytes) {
        double secs = (double)(at_us - n->temp_at_us) / 1e6;
        json_decref(n->temp);
        n->temp = json_pack("{s:f,s:f,s:f,s:I,s:I}", "window_seconds", secs, "files_per_second",
                            (double)(files - n->temp_files) / secs, "bytes_per_second",
                            (double)(bytes - n->temp_bytes) / secs, "total_files", (json_int_t)files, "total_bytes",
                            (json_int_t)bytes);
    }
    n->temp_files = files;
    n->temp_bytes = bytes;
    n->temp_at_us = at_us;
}

/* Wraparound, temp files, checkpoints and connections, as last reported. */
static json_t *diag_pressure(const diag_node_t *n)
{
    json_t *p = json_object();
    json_object_set(p, "wraparound", n->wraparound ? n->wraparound : json_null());
    json_object_set(p, "temp_files", n->temp ? n->temp : json_null());
    if (n->has_ckpt) {
        double all = (double)(n->ckpt.checkpoints_timed + n->ckpt.checkpoints_requested);
        json_object_set_new(p, "checkpoints",
                            json_pack("{s:I,s:I,s:f}", "timed", (json_int_t)n->ckpt.checkpoints_timed, "requested",
                                      (json_int_t)n->ckpt.checkpoints_requested, "requested_ratio",
                                      all > 0 ? (double)n->ckpt.checkpoints_requested / all : 0.0));
    }
    if (n->has_conn) {
        double usable = (double)n->conn.max_connections - (double)n->conn.superuser_reserved;
        json_object_set_new(p, "connections",
                            json_pack("{s:i,s:i,s:i,s:i,s:i,s:f}", "total", (int)n->conn.total, "active",
                                      (int)n->conn.active, "idle_in_transaction", (int)n->conn.idle_in_transaction,
                                      "waiting", (int)n->conn.waiting, "max_connections", (int)n->conn.max_connections,
                                      "saturation", usable > 0 ? (double)n->conn.total / usable : 0.0));
    }
    return p;
}

bool diag_apply(diag_t *self, const Pgvigil__Sample *s, int64_t at_us)
{
    if (!s->node || !(s->tables || s->indexes || s->statements || s->connections || s->checkpointer || s->backup ||
                      s->wraparound || s->databases))
        return false;
    diag_node_t *n = diag_node(self, s->node);
    if (!n)
        return false;
    char at[40];
    clock_format_rfc3339(s->has_collected_at_us ? s->collected_at_us : at_us, at, sizeof at);
    /* stats: what the recommendations read changed; other: only the rest of
     * the document (pressure, backup) did. */
    bool stats = false, other = false;
    if (s->connections) {
        n->conn = *s->connections;
        n->has_conn = true;
    }
    if (s->checkpointer) {
        n->ckpt = *s->checkpointer;
        n->has_ckpt = true;
    }
    if (s->tables) {
        json_t *list = json_array();
        for (size_t i = 0; i < s->tables->n_tables; i++)
            json_array_append_new(list, diag_table_json(s->tables->tables[i]));
        if (s->tables->has_estimates && !s->tables->estimates && n->tables) {
            static const char *const keys[] = {"bloat_bytes", "bloat_ratio", NULL};
            diag_carry(json_object_get(n->tables, "tables"), list, "table", keys);
        }
        json_decref(n->tables);
        n->tables = json_pack("{s:s,s:o}", "collected_at", at, "tables", list);
        stats = true;
    }
    if (s->indexes) {
        json_t *list = diag_indexes_json(s->indexes);
        if (s->indexes->has_definitions && !s->indexes->definitions && n->indexes) {
            static const char *const keys[] = {"definition", NULL};
            diag_carry(json_object_get(n->indexes, "indexes"), list, "index", keys);
        }
        json_decref(n->indexes);
        n->indexes = json_pack("{s:s,s:o}", "collected_at", at, "indexes", list);
        stats = true;
    }
    if (s->statements) {
        diag_statements(self, n, s->statements, at_us);
        stats = true;
    }
    if (s->wraparound) {
        json_decref(n->wraparound);
        n->wraparound = diag_wraparound(s->wraparound);
        other = true;
    }
    if (s->databases) {
        diag_temp(n, s->databases, at_us);
        other = true;
    }
    if (s->backup) {
        json_decref(n->backup);
        n->backup = diag_backup_json(s->node, s->backup);
        other = true;
    }
    /* Connection and checkpoint figures arrive every second: recommend from
     * them at most once a minute unless the stats sections changed. */
    bool recommend = stats || !n->recs || at_us - n->rec_at_us >= 60LL * 1000000;
    if (!recommend && !other)
        return false;
    if (recommend) {
        n->rec_at_us = at_us;
        json_decref(n->recs);
        n->recs = diag_recommend(s->node, n->tables, n->indexes, n->statements, n->has_conn ? &n->conn : NULL,
                                 n->has_ckpt ? &n->ckpt : NULL, &self->opt);
    }
    json_decref(n->doc);
    n->doc = json_pack("{s:s,s:s,s:O?,s:O?,s:O?,s:O?,s:o,s:O}", "node", s->node, "updated_at",
                       clock_format_rfc3339(at_us, at, sizeof at), "tables", n->tables, "indexes", n->indexes,
                       "statements", n->statements, "backup", n->backup, "pressure", diag_pressure(n),
                       "recommendations", n->recs);
    return true;
}

const json_t *diag_node_doc(diag_t *self, const char *node)
{
    diag_node_t *n = zhashx_lookup(self->nodes, node);
    return n ? n->doc : NULL;
}

unsigned diag_regressions(diag_t *self, const char *node)
{
    diag_node_t *n = zhashx_lookup(self->nodes, node);
    return n ? n->regressions : 0;
}

json_t *diag_all(diag_t *self)
{
    json_t *all = json_object();
    for (diag_node_t *n = zhashx_first(self->nodes); n; n = zhashx_next(self->nodes))
        if (n->doc)
            json_object_set(all, zhashx_cursor(self->nodes), n->doc);
    return all;
}

