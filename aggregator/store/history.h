/*
 * history.h — read queries on the history database for the HTTP API.
 *
 * Called from civetweb worker threads. Queries run on a small pool of
 * connections (history_pool.h), so one slow query does not hold up the
 * others; the ingest path never touches this module. Every query has a 5 s
 * statement_timeout and takes its input as parameters. The database's error
 * text is logged, never handed back: err holds a message of ours.
 */
#ifndef PGVIGIL_HISTORY_H
#define PGVIGIL_HISTORY_H

#include <jansson.h>
#include <stddef.h>

typedef struct history history_t;

typedef enum {
    HISTORY_OK = 0,
    HISTORY_BAD_REQUEST = -1, /* unknown metric, unparsable time: 400 */
    HISTORY_UNAVAILABLE = -2, /* database down or timed out: 503 */
} history_result_t;

history_t *history_new(const char *dsn);
void history_destroy(history_t **self_p);

/* Metric names accepted by history_node_metric(), NULL-terminated. */
const char *const *history_metric_names(void);

/* from and to: RFC 3339, Unix seconds, or relative to now ("-1h", "-15m");
 * NULL means the last hour. The resolution follows the range: raw samples
 * up to 1 h, 1-minute averages up to 2 days, 1-hour averages beyond.
 *   {"node","metric","from","to","resolution_s","points":[[unix_s, value]...]} */
history_result_t history_node_metric(history_t *self, const char *node, const char *metric,
                                     const char *from, const char *to, json_t **out, char *err,
                                     size_t errlen);

/* {"node","from","to","resolution_s",
 *  "points":[[unix_s, bytes, seconds, receive_bytes, replay_paused]...]} (maxima per bucket) */
/* One statement's per-interval deltas from the stored samples:
 * {"node","queryid","from","to","resolution_s","points":[[t, calls,
 * total_time_ms, mean_time_ms, rows], ...]} (all databases and users of
 * that query id added up). */
history_result_t history_statement(history_t *self, const char *node, const char *queryid, const char *from,
                                   const char *to, json_t **out, char *err, size_t errlen);
history_result_t history_lag(history_t *self, const char *node, const char *from, const char *to,
                             json_t **out, char *err, size_t errlen);

/* Time per state from node_status_transitions over [from, to]:
 * {"node","from","to","seconds":{"up":..,"down":..,"stale":..,"unknown":..},
 *  "uptime_ratio":X,"transitions":[{"at","state","reason"}...]} */
history_result_t history_uptime(history_t *self, const char *node, const char *from, const char *to,
                                json_t **out, char *err, size_t errlen);

/* The newest audit records (admin API): {"audit":[{"id","at","who","role","action","target","client",
 * "result"}...]}. */
history_result_t history_audit(history_t *self, int limit, json_t **out, char *err, size_t errlen);

#endif
