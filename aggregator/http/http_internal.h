/*
 * http_internal.h — what http.c shares with the route files (http_alerts.c).
 */
#ifndef PGVIGIL_HTTP_INTERNAL_H
#define PGVIGIL_HTTP_INTERNAL_H

#include <civetweb.h>
#include <stdatomic.h>
#include <jansson.h>
#include <stdbool.h>

#include "history.h"
#include "http.h"

struct http {
    struct mg_context *ctx;
    snapshot_holder_t *snapshots;
    ingest_counters_t *counters;
    store_t *store;               /* NULL: no history */
    history_t *history;           /* NULL: no history */
    notify_stats_t *notify_stats; /* NULL in tests */
    const agg_config_t *cfg;
    auth_limiter_t *limiter;      /* NULL: no rate limit */
    atomic_int streams;           /* open /api/v1/stream connections */
    atomic_bool stopping;         /* set before mg_stop: streams end */
};

/* Event streams open at once; each holds a worker thread. */
#define HTTP_STREAMS_MAX 16

typedef struct {
    struct mg_connection *conn;
    http_t *http;
    const snapshot_t *snap;
    const char *path;   /* local URI */
    const char *query;  /* may be NULL */
    const char *method; /* GET, HEAD, POST, PATCH, DELETE, ... */
    const char *client; /* remote address */
    const char *who;    /* token name, or "anonymous" */
    auth_role_t role;   /* AUTH_ADMIN when auth is not configured */
} http_req_t;

/* Largest request body accepted. */
#define HTTP_BODY_MAX 65536

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
/* A query parameter into buf; false when absent. */
bool http_param(const http_req_t *r, const char *name, char *buf, size_t len);

/* /api/v1/alerts[/{id}] and /api/v1/silences[/{id}] (http_alerts.c); rest
 * is what follows the collection's slash, or NULL. */
int http_alerts(const http_req_t *r, const char *rest);
int http_silences(const http_req_t *r, const char *rest);
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
/* /api/v1/nodes/{node}/{tables,indexes,statements,recommendations},
 * /api/v1/recommendations and /api/v1/maintenance[/{id}] (http_diag.c). */
int http_node_diag(const http_req_t *r, const char *node, const char *sub);
int http_recommendations(const http_req_t *r);
int http_maintenance(const http_req_t *r, const char *rest);
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
