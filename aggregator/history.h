/*
 * history.h — read queries on the history database for the HTTP API.
 *
 * Called from civetweb worker threads; a small pool of libpq connections
 * (guarded by a mutex: this is not the ingest hot path) with a short
 * statement_timeout. Every function returns a new json_t reference in *out.
 * Times are microseconds since the Unix epoch.
 */
#ifndef PGVIGIL_HISTORY_H
#define PGVIGIL_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct history history_t;

typedef enum {
    HISTORY_OK = 0,
    HISTORY_BAD_REQUEST = -1,   /* unknown metric, bad range: answer 400 */
    HISTORY_NOT_FOUND = -2,     /* no such node in history: answer 404 */
    HISTORY_UNAVAILABLE = -3,   /* database down or timed out: answer 503 */
} history_result_t;

history_t *history_new(const char *dsn, int pool_size);
void history_destroy(history_t **self_p);

/* Metric names accepted by history_node_metric() (NULL-terminated), e.g.
 * "connections_total", "probe_rtt_ms", "xact_commit_rate", "wal_bytes_rate". */
const char *const *history_metric_names(void);

/* Resolution picked from the range: raw up to 1 h, 1-minute buckets up to
 * 2 days, 1-hour buckets beyond. Answers {"node","metric","from","to",
 * "resolution_s","points":[[t_unix_seconds, value], ...]}. */
history_result_t history_node_metric(history_t *self, const char *node, const char *metric,
                                     int64_t from_us, int64_t to_us, json_t **out,
                                     char *err, size_t errlen);

/* {"node","from","to","resolution_s","points":[[t, bytes, seconds, receive_bytes], ...]} */
history_result_t history_lag(history_t *self, const char *node, int64_t from_us, int64_t to_us,
                             json_t **out, char *err, size_t errlen);

/* Uptime from node_status_transitions over [from, to]:
 * {"node","from","to","up_seconds","down_seconds","stale_seconds","unknown_seconds",
 *  "uptime_ratio","transitions":[{"at","state","reason"}...]} */
history_result_t history_uptime(history_t *self, const char *node, int64_t from_us, int64_t to_us,
                                json_t **out, char *err, size_t errlen);

/* Newest first. cluster_id 0 and node NULL mean any.
 * {"events":[{"at","cluster","node","kind","severity","message","details"}]} */
history_result_t history_events(history_t *self, uint64_t cluster_id, const char *node,
                                int64_t since_us, int limit, json_t **out,
                                char *err, size_t errlen);

#endif
