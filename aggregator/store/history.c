/*
 * history.c — history reads for the HTTP API (see history.h).
 *
 * Node metric series read node_samples.metric_values at the metric's history
 * slot from the catalogue (metric.h): any catalogue metric with a slot can be
 * charted, and nothing here names one. User input always travels as
 * parameters; the slot is a number from the catalogue.
 * The resolution follows the range (history_range): up to an hour, each
 * raw sample; up to two days, 1-minute buckets read from node_samples_1m;
 * beyond, 1-hour buckets read from node_samples_1h (sql/012_rollups.sql;
 * rollups are written by the store's rollup pass, so the newest minute
 * shows once a pass has run, within storage.rollup_interval). The answer's
 * "source" names the table read. Statement and lag series bin raw rows with
 * date_bin (PostgreSQL 14 or later for the history database).
 *
 * Every query is a statement of history_stmts, prepared once per pool
 * connection and executed after (no parse or analysis per request), with
 * typed parameters. The time bounds on a partitioned table's key are
 * parameters or immutable expressions of them (date_bin, never
 * timestamptz +/- interval, which is only stable), so each custom plan
 * prunes the partitions outside the range at planning and never plans or
 * opens them: a 24-hour range plans the two daily 1-minute partitions it
 * covers, not all sixty.
 */
#include "history.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "history_pool.h"
#include "log.h"
#include "metric.h"

struct history {
    history_pool_t *pool; /* the connections (history_pool.h) */
};

/* Names for /api/v1/metrics: the catalogue's metrics kept in history, then
 * the older names the API still accepts for some of them. */
static const char *history_names[METRIC_MAX * 2 + 1];
static pthread_once_t history_names_once = PTHREAD_ONCE_INIT;

static void history_names_init(void)
{
    size_t k = 0;
    for (size_t id = 0; id < metric_count(); id++)
        if (metric_info((int)id)->slot > 0)
            history_names[k++] = metric_info((int)id)->name;
    static const char *const older[] = {"up", "probe_rtt_ms", "oldest_query_age_s"};
    for (size_t i = 0; i < sizeof older / sizeof older[0]; i++)
        if (metric_find(older[i]) >= 0)
            history_names[k++] = older[i];
    history_names[k] = NULL;
}

const char *const *history_metric_names(void)
{
    pthread_once(&history_names_once, history_names_init);
    return history_names;
}

history_t *history_new(const char *dsn)
{
    history_t *self = calloc(1, sizeof *self);
    if (!self || !(self->pool = history_pool_new(dsn, HISTORY_POOL_SIZE))) {
        free(self);
        return NULL;
    }
    return self;
}

void history_destroy(history_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    history_pool_destroy(&(*self_p)->pool);
    free(*self_p);
    *self_p = NULL;
}

/* Parameter types (pg_type OIDs, fixed since PostgreSQL 7). */
#define HISTORY_TEXT 25
#define HISTORY_INT4 23
#define HISTORY_TIMESTAMPTZ 1184

/* The statements, by number (bit k of history_conn_t.prepared). */
typedef enum {
    HISTORY_Q_RANGE,
    HISTORY_Q_RAW,
    HISTORY_Q_1M,
    HISTORY_Q_1H,
    HISTORY_Q_STATEMENT,
    HISTORY_Q_LAG,
    HISTORY_Q_UPTIME,
    HISTORY_Q_AUDIT,
    HISTORY_Q_COUNT
} history_stmt_t;

typedef struct {
    const char *sql;
    int nparams;
    Oid types[5];
} history_stmt_def_t;

static const history_stmt_def_t history_stmts[HISTORY_Q_COUNT]; /* below */

/* Run statement stmt on a connection of the pool, preparing it first if
 * that connection has not yet. The database's own error text is logged,
 * never returned: err gets a message of ours. */
static PGresult *history_query(history_t *self, history_stmt_t stmt, const char *const *params,
                               history_result_t *rc, char *err, size_t errlen)
{
    const history_stmt_def_t *def = &history_stmts[stmt];
    char name[32];
    snprintf(name, sizeof name, "pgvigil_history_%d", (int)stmt);
    history_conn_t *conn = history_pool_take(self->pool);
    PGresult *r = NULL;
    if (!(conn->prepared & (1u << stmt))) {
        r = PQprepare(conn->pg, name, def->sql, def->nparams, def->types);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            conn->prepared |= 1u << stmt;
            PQclear(r);
            r = NULL;
        }
    }
    if (!r)
        r = PQexecPrepared(conn->pg, name, def->nparams, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        history_pool_give(self->pool, conn);
        *rc = HISTORY_OK;
        return r;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    /* Class 22: data exceptions (a time that does not parse). */
    *rc = state && strncmp(state, "22", 2) == 0 ? HISTORY_BAD_REQUEST : HISTORY_UNAVAILABLE;
    if (*rc == HISTORY_BAD_REQUEST)
        log_info("history: a request's parameters were refused by the database: %s",
                 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    else
        log_warning("history: query failed: %s",
                    r ? PQresultErrorMessage(r) : PQerrorMessage(conn->pg));
    history_pool_give(self->pool, conn);
    snprintf(err, errlen, "%s",
             *rc == HISTORY_BAD_REQUEST
                 ? "a parameter is not valid: from and to are RFC 3339, Unix seconds or a duration ago (-1h)"
                 : "the history database is not available");
    PQclear(r);
    return NULL;
}

/* A time parameter as text PostgreSQL parses: relative "-1h", Unix seconds,
 * or passed through (RFC 3339). def_offset_s applies when text is NULL. */
static void history_time(const char *text, int64_t def_offset_s, char *buf, size_t len)
{
    int64_t now = clock_wall_us();
    uint64_t ms;
    char *end;
    if (!text || !*text) {
        clock_format_rfc3339(now - def_offset_s * 1000000, buf, len);
    } else if (text[0] == '-' && config_parse_duration_ms(text + 1, &ms) == 0) {
        clock_format_rfc3339(now - (int64_t)ms * 1000, buf, len);
    } else {
        double s = strtod(text, &end);
        if (end != text && *end == '\0')
            clock_format_rfc3339((int64_t)(s * 1e6), buf, len);
        else
            snprintf(buf, len, "%s", text);
    }
}

/* Resolve from/to and pick the bucket width; fills the shared fields of out. */
static history_result_t history_range(history_t *self, const char *from, const char *to, char *f,
                                      char *t, size_t len, int *bucket_s, json_t *out, char *err,
                                      size_t errlen)
{
    history_time(from, 3600, f, len);
    history_time(to, 0, t, len);
    const char *params[2] = {f, t};
    history_result_t rc;
    PGresult *r = history_query(self, HISTORY_Q_RANGE, params, &rc, err, errlen);
    if (!r)
        return rc;
    double a = strtod(PQgetvalue(r, 0, 0), NULL), b = strtod(PQgetvalue(r, 0, 1), NULL);
    PQclear(r);
    if (b < a) {
        snprintf(err, errlen, "\"to\" is before \"from\"");
        return HISTORY_BAD_REQUEST;
    }
    *bucket_s = b - a <= 3600 ? 0 : b - a <= 2 * 86400 ? 60 : 3600;
    json_object_set_new(out, "from", json_real(a));
    json_object_set_new(out, "to", json_real(b));
    json_object_set_new(out, "resolution_s", json_integer(*bucket_s));
    return HISTORY_OK;
}

static json_t *history_rows(PGresult *r)
{
    json_t *points = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = json_array();
        for (int c = 0; c < PQnfields(r); c++) {
            const char *v = PQgetvalue(r, i, c);
            json_array_append_new(row, PQgetisnull(r, i, c)         ? json_null()
                                       : v[0] == 't' || v[0] == 'f' ? json_boolean(v[0] == 't')
                                                                    : json_real(strtod(v, NULL)));
        }
        json_array_append_new(points, row);
    }
    return points;
}

/* Fill *out (built by the caller with its identifying fields; NULL when a
 * name was not valid UTF-8) with from, to, resolution_s and the points of
 * the statement of the range's tier (stmts: raw, 1-minute, 1-hour), whose
 * parameters are $1 node, $2 from, $3 to, $4 the bucket width in seconds
 * and $5 extra. On failure *out is freed. */
static history_result_t history_series_tiered(history_t *self, const char *node, const char *from,
                                              const char *to, const history_stmt_t stmts[3],
                                              const char *extra, json_t **out, char *err,
                                              size_t errlen)
{
    char f[64], t[64], bucket[16];
    int bucket_s = 0;
    if (!*out) {
        snprintf(err, errlen, "the node name is not valid UTF-8");
        return HISTORY_BAD_REQUEST;
    }
    history_result_t rc = history_range(self, from, to, f, t, sizeof f, &bucket_s, *out, err, errlen);
    if (rc == HISTORY_OK) {
        snprintf(bucket, sizeof bucket, "%d", bucket_s);
        const char *params[5] = {node, f, t, bucket, extra};
        int tier = bucket_s == 0 ? 0 : bucket_s <= 60 ? 1 : 2;
        PGresult *r = history_query(self, stmts[tier], params, &rc, err, errlen);
        if (r) {
            static const char *const source[3] = {"node_samples", "node_samples_1m", "node_samples_1h"};
            if (stmts[0] != stmts[1])
                json_object_set_new(*out, "source", json_string(source[tier]));
            json_object_set_new(*out, "points", history_rows(r));
            PQclear(r);
            return HISTORY_OK;
        }
    }
    json_decref(*out);
    *out = NULL;
    return rc;
}

/* The same statement at every resolution (raw rows binned by $4). */
static history_result_t history_series(history_t *self, const char *node, const char *from, const char *to,
                                       history_stmt_t stmt, const char *extra, json_t **out, char *err,
                                       size_t errlen)
{
    const history_stmt_t stmts[3] = {stmt, stmt, stmt};
    return history_series_tiered(self, node, from, to, stmts, extra, out, err, errlen);
}

/* Raw rows in [$2, $3] bucketed by $4 s (0: each sample). */
#define HISTORY_BUCKET(col)                                                                        \
    "CASE WHEN $4 = 0 THEN " col " ELSE date_bin(make_interval(secs => $4), " col ", 'epoch') END"

/* A node's samples in [$2, $3], the metric of history slot $5 (rates are
 * stored per second already, so every metric averages per bucket; $4 is 0
 * for this tier; unused parameters are fine, their types are given). */
#define HISTORY_RAW_SQL                                                                            \
    "SELECT extract(epoch FROM collected_at), avg(metric_values[$5]) FROM node_samples"           \
    " WHERE node = $1 AND collected_at >= $2 AND collected_at <= $3"                   \
    " GROUP BY collected_at HAVING avg(metric_values[$5]) IS NOT NULL ORDER BY 1 LIMIT 10000"

/* The same from a rollup table (tbl, buckets of width, $4 = its seconds):
 * each bucket's average (NULL exactly when the slot had no value in it; an
 * index-only scan, see sql/013_rollup_covering.sql), then the raw rows
 * after the newest rolled-up bucket (written since the last rollup pass),
 * binned alike. Every bound on a partition key is $2, $3 or date_bin of $2
 * (immutable), so the planner prunes both tables to the range. */
#define HISTORY_ROLLUP_SQL(tbl, width)                                                             \
    "SELECT extract(epoch FROM b), v FROM (SELECT bucket AS b, avg_values[$5]::float8 AS v"       \
    " FROM " tbl " WHERE node = $1 AND bucket >= date_bin(interval '" width "', $2, 'epoch')"     \
    " AND bucket <= $3"                                                                           \
    " UNION ALL SELECT date_bin(interval '" width "', collected_at, 'epoch'),"                     \
    " avg(metric_values[$5]) FROM node_samples WHERE node = $1 AND collected_at >= $2"            \
    " AND collected_at <= $3 AND collected_at >= coalesce((SELECT max(bucket) + interval '" width \
    "' FROM " tbl " WHERE node = $1 AND bucket >= date_bin(interval '" width "', $2, 'epoch')"    \
    " AND bucket <= $3), $2) GROUP BY 1) x WHERE v IS NOT NULL ORDER BY 1 LIMIT 10000"

#define HISTORY_T HISTORY_TEXT
#define HISTORY_TS HISTORY_TIMESTAMPTZ
#define HISTORY_SERIES_TYPES(extra) {HISTORY_T, HISTORY_TS, HISTORY_TS, HISTORY_INT4, extra}

static const history_stmt_def_t history_stmts[HISTORY_Q_COUNT] = {
    [HISTORY_Q_RANGE] = {"SELECT extract(epoch FROM $1), extract(epoch FROM $2)", 2,
                         {HISTORY_TS, HISTORY_TS}},
    [HISTORY_Q_RAW] = {HISTORY_RAW_SQL, 5, HISTORY_SERIES_TYPES(HISTORY_INT4)},
    [HISTORY_Q_1M] = {HISTORY_ROLLUP_SQL("node_samples_1m", "1 minute"), 5,
                      HISTORY_SERIES_TYPES(HISTORY_INT4)},
    [HISTORY_Q_1H] = {HISTORY_ROLLUP_SQL("node_samples_1h", "1 hour"), 5,
                      HISTORY_SERIES_TYPES(HISTORY_INT4)},
    [HISTORY_Q_STATEMENT] =
        {"SELECT extract(epoch FROM b), sum(calls), sum(total),"
         " CASE WHEN sum(calls) > 0 THEN sum(total) / sum(calls) END, sum(nrows)"
         " FROM (SELECT " HISTORY_BUCKET("collected_at") " AS b, (s->>'calls')::float8 AS calls,"
         " (s->>'total_time_ms')::float8 AS total, (s->>'rows')::float8 AS nrows"
         " FROM node_samples, jsonb_array_elements(metrics->'statements'->'statements') s"
         " WHERE node = $1 AND collected_at >= $2 AND collected_at <= $3"
         " AND metrics ? 'statements' AND s->>'queryid' = $5) x GROUP BY 1 ORDER BY 1 LIMIT 10000",
         5, HISTORY_SERIES_TYPES(HISTORY_TEXT)},
    [HISTORY_Q_LAG] =
        {"SELECT extract(epoch FROM b), max(lag_bytes), max(lag_seconds), max(receive_lag_bytes),"
         " bool_or(replay_paused) FROM (SELECT " HISTORY_BUCKET("at") " AS b, * FROM replication_lag"
         " WHERE node = $1 AND at >= $2 AND at <= $3) x"
         " GROUP BY 1 ORDER BY 1 LIMIT 10000",
         4, HISTORY_SERIES_TYPES(0)},
    /* The state at "from" is the last transition before it. */
    [HISTORY_Q_UPTIME] =
        {"WITH s AS ((SELECT $2 AS at, state, reason FROM node_status_transitions"
         "   WHERE node = $1 AND at < $2 ORDER BY at DESC LIMIT 1)"
         "  UNION ALL SELECT at, state, reason FROM node_status_transitions"
         "   WHERE node = $1 AND at >= $2 AND at <= $3),"
         " o AS (SELECT at, state, reason, lead(at, 1, $3) OVER (ORDER BY at) AS until FROM s)"
         " SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), state, reason,"
         " extract(epoch FROM until - at) FROM o ORDER BY at",
         3, {HISTORY_T, HISTORY_TS, HISTORY_TS}},
    [HISTORY_Q_AUDIT] =
        {"SELECT coalesce(json_agg(json_build_object('id', id, 'at', at, 'who', who, 'role',"
         " role, 'action', action, 'target', target, 'client', client, 'result', result)"
         " ORDER BY id DESC), '[]') FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT $1) a",
         1, {HISTORY_INT4}},
};

history_result_t history_node_metric(history_t *self, const char *node, const char *metric,
                                     const char *from, const char *to, json_t **out, char *err,
                                     size_t errlen)
{
    const metric_t *m = metric_info(metric_find(metric));
    if (!m || m->slot <= 0) {
        snprintf(err, errlen, "unknown metric \"%s\"; see /api/v1/metrics", metric ? metric : "");
        return HISTORY_BAD_REQUEST;
    }
    char slot[16];
    snprintf(slot, sizeof slot, "%d", m->slot);
    static const history_stmt_t stmts[3] = {HISTORY_Q_RAW, HISTORY_Q_1M, HISTORY_Q_1H};
    *out = json_pack("{s:s, s:s}", "node", node, "metric", metric);
    return history_series_tiered(self, node, from, to, stmts, slot, out, err, errlen);
}

history_result_t history_statement(history_t *self, const char *node, const char *queryid, const char *from,
                                   const char *to, json_t **out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long long id = strtoll(queryid, &end, 10);
    if (errno || *end || end == queryid) {
        snprintf(err, errlen, "a query id is a (signed 64-bit) number, got \"%s\"", queryid);
        return HISTORY_BAD_REQUEST;
    }
    *out = json_pack("{s:s,s:I}", "node", node, "queryid", (json_int_t)id);
    return history_series(self, node, from, to, HISTORY_Q_STATEMENT, queryid, out, err, errlen);
}

history_result_t history_lag(history_t *self, const char *node, const char *from, const char *to,
                             json_t **out, char *err, size_t errlen)
{
    *out = json_pack("{s:s}", "node", node);
    return history_series(self, node, from, to, HISTORY_Q_LAG, NULL, out, err, errlen);
}

history_result_t history_uptime(history_t *self, const char *node, const char *from, const char *to,
                                json_t **out, char *err, size_t errlen)
{
    char f[64], t[64];
    int bucket_s = 0;
    *out = json_pack("{s:s}", "node", node);
    if (!*out) {
        snprintf(err, errlen, "the node name is not valid UTF-8");
        return HISTORY_BAD_REQUEST;
    }
    history_result_t rc =
        history_range(self, from, to, f, t, sizeof f, &bucket_s, *out, err, errlen);
    if (rc != HISTORY_OK)
        goto fail;
    const char *params[3] = {node, f, t};
    PGresult *r = history_query(self, HISTORY_Q_UPTIME, params, &rc, err, errlen);
    if (!r)
        goto fail;
    double secs[3] = {0, 0, 0}, total = json_real_value(json_object_get(*out, "to")) -
                                        json_real_value(json_object_get(*out, "from"));
    static const char *const states[3] = {"up", "down", "stale"};
    json_t *transitions = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        for (int k = 0; k < 3; k++)
            if (strcmp(PQgetvalue(r, i, 1), states[k]) == 0)
                secs[k] += strtod(PQgetvalue(r, i, 3), NULL);
        json_array_append_new(transitions,
                              json_pack("{s:s, s:s, s:s?}", "at", PQgetvalue(r, i, 0), "state",
                                        PQgetvalue(r, i, 1), "reason",
                                        PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2)));
    }
    PQclear(r);
    double known = secs[0] + secs[1] + secs[2];
    json_object_set_new(*out, "seconds",
                        json_pack("{s:f, s:f, s:f, s:f}", "up", secs[0], "down", secs[1], "stale",
                                  secs[2], "unknown", total > known ? total - known : 0));
    json_object_set_new(*out, "uptime_ratio", known > 0 ? json_real(secs[0] / known) : json_null());
    json_object_set_new(*out, "transitions", transitions);
    return HISTORY_OK;
fail:
    json_decref(*out);
    *out = NULL;
    return rc;
}

history_result_t history_audit(history_t *self, int limit, json_t **out, char *err, size_t errlen)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {lim};
    history_result_t rc;
    PGresult *r = history_query(self, HISTORY_Q_AUDIT, params, &rc, err, errlen);
    if (!r)
        return rc;
    json_t *rows = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    *out = json_pack("{s:o}", "audit", rows ? rows : json_array());
    return HISTORY_OK;
}
