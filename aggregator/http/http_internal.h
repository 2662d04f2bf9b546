/*
 * http_internal.h — what http.c (the route table and the gate) shares with
 * the route files: http_fleet.c, http_metrics.c, http_alerts.c,
 * http_diag.c, http_web.c, http_status.c, http_stream.c, and the helpers
 * of http_reply.c.
 */
#ifndef PGVIGIL_HTTP_INTERNAL_H
#define PGVIGIL_HTTP_INTERNAL_H

#include <civetweb.h>
#include <stdatomic.h>
#include <jansson.h>
#include <stdbool.h>

#include "history.h"
#include "http.h"
#include "http_body.h"
#include "http_refusals.h"

struct http {
    struct mg_context *ctx;
    snapshot_holder_t *snapshots;
    ingest_counters_t *counters;
    store_t *store;               /* NULL: no history */
    history_t *history;           /* NULL: no history */
    notify_stats_t *notify_stats; /* NULL in tests */
    cluster_fence_t *fence;       /* NULL: a lone aggregator */
    const agg_config_t *cfg;      /* as at start: listen, TLS, CORS, limits */
    /* The token table in force: swapped by http_set_auth (SIGHUP) while
     * civetweb threads read it; the tables it points into are immutable
     * and kept alive until exit (main keeps every loaded configuration). */
    _Atomic(const auth_config_t *) auth;
    auth_limiter_t *limiter;      /* NULL: no rate limit */
    http_refusals_t *refusals;    /* refused changes, counted for the audit log */
    atomic_int streams;           /* open /api/v1/stream connections */
    atomic_bool stopping;         /* set before mg_stop: streams end */
};

/* The token table in force (acquire: it was fully built before the swap). */
static inline const auth_config_t *http_auth(http_t *self)
{
    return atomic_load_explicit(&self->auth, memory_order_acquire);
}

/* civetweb worker threads (each holds one connection at a time). */
#define HTTP_WORKERS "256"
/* Refusals of one client, token and status are audited once per window. */
#define HTTP_REFUSALS_WINDOW_US (60 * 1000000LL)

/* Event streams open at once; each holds a worker thread. */
#define HTTP_STREAMS_MAX 16

/* Captures of a route's path pattern ("{node}", "{id}", "{file...}"). */
#define HTTP_ARGS_MAX 2
#define HTTP_ARG_MAX 256

typedef struct {
    struct mg_connection *conn;
    http_t *http;
    const snapshot_t *snap;
    const char *path;   /* the decoded path (http.c checks it) */
    const char *query;  /* may be NULL */
    const char *method; /* GET, HEAD, POST, PATCH, DELETE, ... */
    const char *client; /* remote address */
    const char *who;    /* token name, or "anonymous" */
    auth_role_t role;   /* AUTH_ADMIN when auth is not configured */
    const char *part;   /* the route's part name ("tables", "lag", ...) or NULL */
    char arg[HTTP_ARGS_MAX][HTTP_ARG_MAX]; /* the pattern's captures, in order */
} http_req_t;

/* A route's handler (http.c's table). Returns the HTTP status sent. */
typedef int (*http_handler_fn)(const http_req_t *r);

int http_send(struct mg_connection *conn, int status, const char *ctype, const char *body, size_t len);
/* The same with extra header lines ("Retry-After: 3\r\n"); one holding
 * Cache-Control replaces the default no-store. */
int http_send_ex(struct mg_connection *conn, int status, const char *ctype, const char *body, size_t len,
                 const char *extra);
/* Serialize and send j (stolen). */
int http_json(struct mg_connection *conn, int status, json_t *j);
/* {"error":{"code","message"}} */
__attribute__((format(printf, 4, 5))) int http_error(struct mg_connection *conn, int status, const char *code,
                                                      const char *fmt, ...);
/* The error shape's text for code and message (malloc'ed; a message that
 * is not UTF-8 is replaced by one saying so). */
char *http_error_text(const char *code, const char *message);
/* A query parameter into buf; false when absent. */
bool http_param(const http_req_t *r, const char *name, char *buf, size_t len);
/* A time parameter (RFC 3339, Unix seconds, "-1h"): *out is buf, or NULL
 * when absent. Returns 0, or the status of the 400 already sent when it is
 * out of range (Unix seconds beyond year 9999, an overflowing duration). */
int http_time_param(const http_req_t *r, const char *name, char *buf, size_t len, const char **out);
/* Pure check behind http_time_param (NULL and "" are valid: absent). */
bool http_time_valid(const char *text);
/* A deep copy of a snapshot value (NULL for NULL), so an answer never
 * shares, and never changes the reference count of, what other threads
 * read. */
json_t *http_copy(const json_t *shared);

/* Fleet reads (http_fleet.c). */
/* Fleet reads (http_fleet.c); arg[0] is {cluster} or {node}, arg[1]
 * {queryid}; part names the node history ("history", "lag", "uptime"). */
int http_healthz(const http_req_t *r);
int http_readyz(const http_req_t *r);
int http_health(const http_req_t *r);
int http_clusters(const http_req_t *r);
int http_cluster(const http_req_t *r);
int http_nodes(const http_req_t *r);
int http_node(const http_req_t *r);
int http_node_history(const http_req_t *r);
int http_statement_history(const http_req_t *r);
int http_events(const http_req_t *r);
int http_metric_names(const http_req_t *r);
int http_audit(const http_req_t *r);
/* GET /metrics (http_metrics.c). */
int http_metrics(const http_req_t *r);
/* /api/v1/alerts[/{id}] and /api/v1/silences[/{id}] (http_alerts.c); arg[0]
 * is {id}. */
int http_alerts(const http_req_t *r);
int http_alert(const http_req_t *r);
int http_alert_change(const http_req_t *r);
int http_silences(const http_req_t *r);
int http_silence(const http_req_t *r);
int http_silence_add(const http_req_t *r);
int http_silence_delete(const http_req_t *r);
/* A positive decimal id (alerts, silences, operations). */
bool http_id(const char *text, uint64_t *id);
/* GET of one item of a snapshot list by its "id": {"<kind>": item}, or 404
 * "no <kind> <id><hint>". */
int http_item(const http_req_t *r, const json_t *list, uint64_t id, const char *kind, const char *hint);
/* The request body as a JSON object (at most HTTP_BODY_MAX bytes), or NULL
 * with the error already sent. */
json_t *http_read_json(const http_req_t *r);
/* Send cmd (stolen) to the core with an audit record of this request and
 * answer with the core's status and body. */
int http_core_command(const http_req_t *r, json_t *cmd, const char *action, const char *target);
/* The same without answering: the core's status and *body (may be NULL). */
int http_core_call(const http_req_t *r, json_t *cmd, const char *action, const char *target, json_t **body);
/* POST /api/v1/receivers/{name}/test (http_receivers.c). */
int http_receiver_test(const http_req_t *r);
/* /api/v1/nodes/{node}/{part} for the diagnostics parts (tables, indexes,
 * statements, recommendations, backup, diagnostics), /api/v1/recommendations
 * and /api/v1/maintenance[/{id}] (http_diag.c). */
int http_node_diag(const http_req_t *r);
int http_recommendations(const http_req_t *r);
int http_maintenance(const http_req_t *r);
int http_maintenance_one(const http_req_t *r);
int http_maintenance_add(const http_req_t *r);
/* The fleet lists, filtered and paged, with ETag (http_list.c). */
int http_list(const http_req_t *r, bool clusters);
/* Send body gzip-compressed when the client accepts it and it is not tiny
 * (extra: more header lines, or NULL). */
int http_send_compressed(const http_req_t *r, int status, const char *ctype, const char *body, size_t len,
                         const char *extra);
/* gzip (http_web.c): does the client take it, and one whole buffer
 * compressed (malloc'ed into *out; 0 on success). */
bool http_accepts_gzip(struct mg_connection *conn);
int http_gzip(const void *in, size_t len, unsigned char **out, size_t *out_len);
/* The dashboard's files (/, /ui/...) and /api/v1/whoami (http_web.c). */
int http_web(const http_req_t *r);
int http_whoami(const http_req_t *r);

/* /api/v1/stream (http_stream.c): Server-Sent Events of the fleet. */
int http_stream(const http_req_t *r);
/* /status (html) and /api/v1/status (http_status.c): public, cacheable. */
int http_status(const http_req_t *r, bool html);

#endif
