/*
 * http.c — the HTTP API (civetweb): liveness, readiness, health verdicts,
 * fleet, cluster and node views, recent events and Prometheus metrics.
 *
 * Handlers run on civetweb's worker threads and read the current snapshot
 * (snapshot.h): they never touch the core's state and never wait for it.
 * Responses are JSON (jansson) with one error shape:
 *   {"error": {"code": "not_found", "message": "..."}}
 */
#include "http.h"
#include "http_internal.h"

#include <civetweb.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "core.h"
#include "history.h"
#include "log.h"


static const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 201: return "Created";
    case 204: return "No Content";
    case 429: return "Too Many Requests";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

int http_send_ex(struct mg_connection *conn, int status, const char *ctype, const char *body, size_t len,
                 const char *extra)
{
    const http_t *self = mg_get_user_data(mg_get_context(conn));
    const char *cors = self && self->cfg ? self->cfg->auth.cors_origin : NULL;
    /* Headers and body in one write: two small writes on a keep-alive
     * connection meet Nagle's algorithm and the peer's delayed ACK. */
    char head[1024];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
                     "%sReferrer-Policy: no-referrer\r\n%s%s%s%s\r\n",
                     status, http_reason(status), ctype, len,
                     extra && strstr(extra, "Cache-Control:") ? "" : "Cache-Control: no-store\r\n",
                     extra && strstr(extra, "Content-Security-Policy:")
                         ? ""
                         : "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n",
                     cors ? "Access-Control-Allow-Origin: " : "", cors ? cors : "", cors ? "\r\nVary: Origin\r\n" : "",
                     extra ? extra : "");
    if (h < 0 || (size_t)h >= sizeof head)
        return 500;
    if (len <= 4096) {
        char buf[1024 + 4096];
        memcpy(buf, head, (size_t)h);
        memcpy(buf + h, body, len);
        mg_write(conn, buf, (size_t)h + len);
    } else {
        mg_write(conn, head, (size_t)h);
        mg_write(conn, body, len);
    }
    return status;
}

int http_send(struct mg_connection *conn, int status, const char *ctype, const char *body, size_t len)
{
    return http_send_ex(conn, status, ctype, body, len, NULL);
}

/* Serialize and send j (stolen). */
int http_json(struct mg_connection *conn, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return http_send(conn, 500, "application/json", "{}", 2);
    int rc = http_send(conn, status, "application/json", text, strlen(text));
    free(text);
    return rc;
}

int http_error(struct mg_connection *conn, int status,
                                                             const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return http_json(conn, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* A query parameter into buf; false when absent. */
bool http_param(const http_req_t *r, const char *name, char *buf, size_t len)
{
    char tmp[256];
    if (!r->query || mg_get_var(r->query, strlen(r->query), name, tmp, sizeof tmp) < 0)
        return false; /* mg_get_var empties its buffer even when absent */
    size_t n = strnlen(tmp, sizeof tmp);
    n = n < len ? n : len - 1; /* an overlong value is cut and then fails validation */
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return true;
}

static int http_health(const http_req_t *r)
{
    char type[16] = "quick";
    http_param(r, "type", type, sizeof type);
    const snapshot_t *s = r->snap;
    if (strcmp(type, "quick") != 0 && strcmp(type, "full") != 0)
        return http_error(r->conn, 400, "bad_request", "type must be quick or full, not \"%s\"", type);
    if (strcmp(type, "quick") == 0) {
        char body[256];
        int n = snprintf(body, sizeof body,
                         "{\"status\":\"%s\",\"clusters\":%u,\"nodes\":%u,\"up\":%u,\"down\":%u,\"stale\":%u}",
                         s->status, s->cluster_count, s->node_count, s->nodes_up, s->nodes_down,
                         s->nodes_stale);
        return http_send(r->conn, 200, "application/json", body, (size_t)n);
    }
    char built[40];
    clock_format_rfc3339(s->built_at_us, built, sizeof built);
    return http_json(r->conn, 200,
                     json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:O}", "status", s->status, "clusters",
                               (int)s->cluster_count, "nodes", (int)s->node_count, "up", (int)s->nodes_up,
                               "down", (int)s->nodes_down, "stale", (int)s->nodes_stale, "as_of", built,
                               "cluster_details", s->clusters));
}

static int http_clusters(const http_req_t *r, const char *id)
{
    if (!id[0]) {
        const char *body = r->snap->clusters_json ? r->snap->clusters_json : "{\"clusters\":[]}";
        return http_send(r->conn, 200, "application/json", body, strlen(body));
    }
    size_t i;
    json_t *c;
    json_array_foreach(r->snap->clusters, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0 ||
            strcmp(json_string_value(json_object_get(c, "name")), id) == 0)
            return http_json(r->conn, 200, json_pack("{s:O}", "cluster", c));
    }
    return http_error(r->conn, 404, "not_found", "no cluster with id or name \"%s\"", id);
}

static int http_nodes(const http_req_t *r)
{
    json_t *arr = json_array();
    const char *name;
    json_t *n;
    json_object_foreach(r->snap->nodes, name, n)
    {
        json_t *summary = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(n, k, v) if (strcmp(k, "sample") != 0) json_object_set(summary, k, v);
        json_array_append_new(arr, summary);
    }
    return http_json(r->conn, 200, json_pack("{s:o}", "nodes", arr));
}

static int http_node_history(const http_req_t *r, const char *name, const char *sub)
{
    char metric[64] = "", from[64] = "", to[64] = "", err[256] = "";
    bool is_history = strcmp(sub, "history") == 0;
    if (!is_history && strcmp(sub, "lag") != 0 && strcmp(sub, "uptime") != 0)
        return http_error(r->conn, 404, "not_found", "no resource \"%s\" for node \"%s\"", sub, name);
    if (!r->http->history)
        return http_error(r->conn, 503, "unavailable", "no history is kept: storage is not configured");
    if (is_history && !http_param(r, "metric", metric, sizeof metric))
        return http_error(r->conn, 400, "bad_request", "the metric parameter is required");
    bool has_from = http_param(r, "from", from, sizeof from), has_to = http_param(r, "to", to, sizeof to);
    json_t *out = NULL;
    history_result_t rc =
        is_history ? history_node_metric(r->http->history, name, metric, has_from ? from : NULL,
                                         has_to ? to : NULL, &out, err, sizeof err)
        : strcmp(sub, "lag") == 0
            ? history_lag(r->http->history, name, has_from ? from : NULL, has_to ? to : NULL, &out, err,
                          sizeof err)
            : history_uptime(r->http->history, name, has_from ? from : NULL, has_to ? to : NULL, &out,
                             err, sizeof err);
    if (rc == HISTORY_BAD_REQUEST)
        return http_error(r->conn, 400, "bad_request", "%s", err);
    if (rc != HISTORY_OK)
        return http_error(r->conn, 503, "unavailable", "%s", err);
    return http_json(r->conn, 200, out);
}

/* /api/v1/nodes/{node}/statements/{queryid}/history?from=&to= */
static int http_statement_history(const http_req_t *r, const char *name, const char *rest)
{
    char id[32], from[64] = "", to[64] = "", err[256] = "";
    const char *slash = strchr(rest, '/');
    if (!slash || strcmp(slash, "/history") != 0 || (size_t)(slash - rest) >= sizeof id)
        return http_error(r->conn, 404, "not_found", "expected /api/v1/nodes/%s/statements/{queryid}/history", name);
    memcpy(id, rest, (size_t)(slash - rest));
    id[slash - rest] = '\0';
    if (!r->http->history)
        return http_error(r->conn, 503, "unavailable", "no history is kept: storage is not configured");
    bool has_from = http_param(r, "from", from, sizeof from), has_to = http_param(r, "to", to, sizeof to);
    json_t *out = NULL;
    history_result_t rc = history_statement(r->http->history, name, id, has_from ? from : NULL, has_to ? to : NULL,
                                            &out, err, sizeof err);
    if (rc == HISTORY_BAD_REQUEST)
        return http_error(r->conn, 400, "bad_request", "%s", err);
    if (rc != HISTORY_OK)
        return http_error(r->conn, 503, "unavailable", "%s", err);
    return http_json(r->conn, 200, out);
}

static int http_node(const http_req_t *r, const char *rest)
{
    char name[128];
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (len == 0 || len >= sizeof name)
        return http_error(r->conn, 404, "not_found", "no such node");
    memcpy(name, rest, len);
    name[len] = '\0';
    json_t *n = json_object_get(r->snap->nodes, name);
    if (!n)
        return http_error(r->conn, 404, "not_found", "no node named \"%s\"", name);
    if (!slash)
        return http_json(r->conn, 200, json_pack("{s:O}", "node", n));
    const char *sub = slash + 1;
    if (strncmp(sub, "statements/", 11) == 0)
        return http_statement_history(r, name, sub + 11);
    if (strcmp(sub, "tables") == 0 || strcmp(sub, "indexes") == 0 || strcmp(sub, "statements") == 0 ||
        strcmp(sub, "recommendations") == 0 || strcmp(sub, "backup") == 0 || strcmp(sub, "diagnostics") == 0)
        return http_node_diag(r, name, sub);
    return http_node_history(r, name, sub);
}

static int http_events(const http_req_t *r)
{
    char cluster[80] = "", node[80] = "", limit_text[16] = "100";
    http_param(r, "cluster", cluster, sizeof cluster);
    http_param(r, "node", node, sizeof node);
    http_param(r, "limit", limit_text, sizeof limit_text);
    char *end;
    long limit = strtol(limit_text, &end, 10);
    if (*end || limit < 1 || limit > 1000)
        return http_error(r->conn, 400, "bad_request", "limit must be a number from 1 to 1000");
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(r->snap->events, i, e)
    {
        const char *en = json_string_value(json_object_get(e, "node"));
        if ((cluster[0] && strcmp(json_string_value(json_object_get(e, "cluster")), cluster) != 0) ||
            (node[0] && (!en || strcmp(en, node) != 0)))
            continue;
        json_array_append(out, e);
        if ((long)json_array_size(out) >= limit)
            break;
    }
    return http_json(r->conn, 200, json_pack("{s:o}", "events", out));
}

static int http_metrics(const http_req_t *r)
{
    ingest_counters_t *c = r->http->counters;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return http_error(r->conn, 500, "internal", "out of memory");
    fputs(r->snap->metrics_text ? r->snap->metrics_text : "", f);
    fprintf(f,
            "# HELP pgvigil_ingest_received_total Messages received on the ingest socket\n"
            "# TYPE pgvigil_ingest_received_total counter\npgvigil_ingest_received_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_accepted_total Samples accepted\n"
            "# TYPE pgvigil_ingest_accepted_total counter\npgvigil_ingest_accepted_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_bytes_total Sample body bytes received\n"
            "# TYPE pgvigil_ingest_bytes_total counter\npgvigil_ingest_bytes_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_unauthenticated_total CURVE handshakes refused\n"
            "# TYPE pgvigil_ingest_unauthenticated_total counter\n"
            "pgvigil_ingest_unauthenticated_total %" PRIu64 "\n"
            "# HELP pgvigil_core_samples_applied_total Samples applied to the fleet (as of the snapshot)\n"
            "# TYPE pgvigil_core_samples_applied_total counter\npgvigil_core_samples_applied_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_rejected_total Messages dropped, by reason\n"
            "# TYPE pgvigil_ingest_rejected_total counter\n",
            (uint64_t)atomic_load(&c->received), (uint64_t)atomic_load(&c->accepted),
            (uint64_t)atomic_load(&c->bytes), (uint64_t)atomic_load(&c->unauthenticated),
            r->snap->samples_applied);
    for (int i = 1; i < INGEST_REASON_COUNT; i++)
        fprintf(f, "pgvigil_ingest_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
                ingest_reject_name((ingest_reject_t)i), (uint64_t)atomic_load(&c->rejected[i]));
    fprintf(f,
            "# HELP pgvigil_alerts_firing Alerts firing, by severity\n"
            "# TYPE pgvigil_alerts_firing gauge\n"
            "pgvigil_alerts_firing{severity=\"warning\"} %u\npgvigil_alerts_firing{severity=\"critical\"} %u\n"
            "# HELP pgvigil_peak 1 while a region is in its peak window\n# TYPE pgvigil_peak gauge\n",
            r->snap->alerts_warning, r->snap->alerts_critical);
    size_t pi;
    json_t *pr;
    json_array_foreach(r->snap->peak_regions, pi, pr)
        fprintf(f, "pgvigil_peak{region=\"%s\"} 1\n", json_string_value(pr));
    if (r->http->notify_stats) {
        notify_stats_t *ns = r->http->notify_stats;
        fprintf(f,
                "# HELP pgvigil_notifications_total Notifications, by outcome\n"
                "# TYPE pgvigil_notifications_total counter\n"
                "pgvigil_notifications_total{outcome=\"queued\"} %" PRIu64 "\n"
                "pgvigil_notifications_total{outcome=\"delivered\"} %" PRIu64 "\n"
                "pgvigil_notifications_total{outcome=\"failed\"} %" PRIu64 "\n"
                "# HELP pgvigil_notification_attempts_total Delivery attempts (retries included)\n"
                "# TYPE pgvigil_notification_attempts_total counter\n"
                "pgvigil_notification_attempts_total %" PRIu64 "\n"
                "# HELP pgvigil_notification_breakers_open Receivers whose circuit breaker is open\n"
                "# TYPE pgvigil_notification_breakers_open gauge\npgvigil_notification_breakers_open %u\n"
                "# HELP pgvigil_alert_writes_pending Alert writes waiting for the database\n"
                "# TYPE pgvigil_alert_writes_pending gauge\npgvigil_alert_writes_pending %" PRIu64 "\n",
                (uint64_t)atomic_load(&ns->queued), (uint64_t)atomic_load(&ns->delivered),
                (uint64_t)atomic_load(&ns->failed), (uint64_t)atomic_load(&ns->attempts),
                (unsigned)atomic_load(&ns->breakers_open), (uint64_t)atomic_load(&ns->db_pending));
    }
    if (r->http->store) {
        store_stats_t st;
        store_stats(r->http->store, &st);
        fprintf(f,
                "# HELP pgvigil_store_connected 1 while the history database is reachable\n"
                "# TYPE pgvigil_store_connected gauge\npgvigil_store_connected %d\n"
                "# HELP pgvigil_store_rows_written_total History rows committed\n"
                "# TYPE pgvigil_store_rows_written_total counter\n"
                "pgvigil_store_rows_written_total %" PRIu64 "\n"
                "# HELP pgvigil_store_rows_buffered History rows waiting in memory\n"
                "# TYPE pgvigil_store_rows_buffered gauge\npgvigil_store_rows_buffered %" PRIu64 "\n"
                "# HELP pgvigil_store_rows_spooled History rows waiting in the spool file\n"
                "# TYPE pgvigil_store_rows_spooled gauge\npgvigil_store_rows_spooled %" PRIu64 "\n"
                "# HELP pgvigil_store_write_errors_total Failed history batches (retried)\n"
                "# TYPE pgvigil_store_write_errors_total counter\n"
                "pgvigil_store_write_errors_total %" PRIu64 "\n"
                "# HELP pgvigil_store_partitions_dropped_total Expired partitions dropped\n"
                "# TYPE pgvigil_store_partitions_dropped_total counter\n"
                "pgvigil_store_partitions_dropped_total %" PRIu64 "\n",
                st.connected, st.rows_written, st.rows_buffered, st.rows_spooled, st.write_errors,
                st.partitions_dropped);
        fprintf(f,
                "# HELP pgvigil_store_rows_quarantined_total History rows the database refused,"
                " set aside in history_quarantine\n"
                "# TYPE pgvigil_store_rows_quarantined_total counter\n"
                "pgvigil_store_rows_quarantined_total %" PRIu64 "\n"
                "# HELP pgvigil_store_samples_durable_total Samples made durable (acknowledged)\n"
                "# TYPE pgvigil_store_samples_durable_total counter\n"
                "pgvigil_store_samples_durable_total %" PRIu64 "\n"
                "# HELP pgvigil_store_backpressure 1 while the spool is full and ingest is paused\n"
                "# TYPE pgvigil_store_backpressure gauge\npgvigil_store_backpressure %d\n",
                st.rows_quarantined, st.marks_durable, st.backpressure);
    }
    fclose(f);
    int rc = http_send(r->conn, 200, "text/plain; version=0.0.4", text, len);
    free(text);
    return rc;
}

static int http_audit(const http_req_t *r)
{
    char limit_text[16] = "100";
    http_param(r, "limit", limit_text, sizeof limit_text);
    char *end, err[256];
    long limit = strtol(limit_text, &end, 10);
    if (*end || limit < 1 || limit > 1000)
        return http_error(r->conn, 400, "bad_request", "limit must be a number from 1 to 1000");
    if (!r->http->history)
        return http_error(r->conn, 503, "unavailable", "the audit log needs storage to be configured");
    json_t *out = NULL;
    if (history_audit(r->http->history, (int)limit, &out, err, sizeof err) != HISTORY_OK)
        return http_error(r->conn, 503, "unavailable", "%s", err);
    return http_json(r->conn, 200, out);
}

static int http_route(const http_req_t *r)
{
    const char *p = r->path;
    if (strcmp(p, "/healthz") == 0)
        return http_send(r->conn, 200, "application/json", "{\"status\":\"ok\"}", 15);
    if (strcmp(p, "/readyz") == 0) {
        store_stats_t st = {.connected = true};
        if (r->http->store)
            store_stats(r->http->store, &st);
        return st.connected ? http_send(r->conn, 200, "application/json", "{\"status\":\"ready\"}", 18)
                            : http_error(r->conn, 503, "unavailable",
                                         "the history database is not reachable; samples are buffered");
    }
    if (strcmp(p, "/metrics") == 0)
        return http_metrics(r);
    if (strcmp(p, "/api/v1/health") == 0)
        return http_health(r);
    if (strcmp(p, "/api/v1/clusters") == 0)
        return http_clusters(r, "");
    if (strncmp(p, "/api/v1/clusters/", 17) == 0)
        return http_clusters(r, p + 17);
    if (strcmp(p, "/api/v1/nodes") == 0)
        return http_nodes(r);
    if (strncmp(p, "/api/v1/nodes/", 14) == 0)
        return http_node(r, p + 14);
    if (strcmp(p, "/api/v1/events") == 0)
        return http_events(r);
    if (strncmp(p, "/api/v1/alerts", 14) == 0 && (p[14] == '\0' || p[14] == '/'))
        return http_alerts(r, p[14] ? p + 15 : NULL);
    if (strncmp(p, "/api/v1/silences", 16) == 0 && (p[16] == '\0' || p[16] == '/'))
        return http_silences(r, p[16] ? p + 17 : NULL);
    if (strcmp(p, "/api/v1/recommendations") == 0)
        return http_recommendations(r);
    if (strncmp(p, "/api/v1/maintenance", 19) == 0 && (p[19] == '\0' || p[19] == '/'))
        return http_maintenance(r, p[19] ? p + 20 : "");
    if (strcmp(p, "/api/v1/audit") == 0)
        return http_audit(r);
    if (strcmp(p, "/api/v1/stream") == 0)
        return http_stream(r);
    if (strcmp(p, "/api/v1/status") == 0 || strcmp(p, "/status") == 0)
        return http_status(r, p[1] == 's');
    if (strcmp(p, "/api/v1/whoami") == 0)
        return http_whoami(r);
    if (strcmp(p, "/") == 0 || strcmp(p, "/index.html") == 0 || strncmp(p, "/ui/", 4) == 0)
        return http_web(r);
    if (strcmp(p, "/api/v1/metrics") == 0) {
        json_t *names = json_array();
        for (const char *const *n = history_metric_names(); *n; n++)
            json_array_append_new(names, json_string(*n));
        return http_json(r->conn, 200, json_pack("{s:o}", "metrics", names));
    }
    return http_error(r->conn, 404, "not_found", "no resource at %s", p);
}

/* Record a refused change (the core writes it to audit_log). */
static void http_audit_refusal(const http_req_t *r, int status)
{
    json_t *body = NULL, *cmd = json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:i}}", "cmd", "audit", "audit", "who", r->who,
                                          "role", auth_role_name(r->role), "action", r->method, "target", r->path,
                                          "client", r->client ? r->client : "", "result", status);
    core_command(cmd, 1000, &body);
    json_decref(cmd);
    json_decref(body);
}

static int http_refuse(const http_req_t *r, bool mutation, int status, const char *extra, const char *code,
                       const char *message)
{
    if (mutation)
        http_audit_refusal(r, status);
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int rc = http_send_ex(r->conn, status, "application/json", text ? text : "{}", text ? strlen(text) : 2, extra);
    free(text);
    return rc;
}

static bool http_public(const char *path)
{
    return strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 || strcmp(path, "/status") == 0 ||
           strcmp(path, "/api/v1/status") == 0 || strcmp(path, "/api/v1/whoami") == 0 || strcmp(path, "/") == 0 ||
           strcmp(path, "/index.html") == 0 || strncmp(path, "/ui/", 4) == 0;
}

static int http_handler(struct mg_connection *conn, void *cbdata)
{
    http_t *self = cbdata;
    const auth_config_t *auth = &self->cfg->auth;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *path = ri->local_uri, *method = ri->request_method;
    if (strcmp(method, "OPTIONS") == 0 && auth->cors_origin)
        return http_send_ex(conn, 204, "text/plain", "", 0,
                            "Access-Control-Allow-Methods: GET, POST, PATCH, DELETE\r\n"
                            "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
                            "Access-Control-Max-Age: 600\r\n");
    bool read_only = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool mutation_path = strncmp(path, "/api/v1/alerts/", 15) == 0 || strncmp(path, "/api/v1/silences", 16) == 0 ||
                         strcmp(path, "/api/v1/maintenance") == 0;
    if (!read_only && !mutation_path)
        return http_error(conn, 405, "method_not_allowed", "%s is not allowed here", method);
    http_req_t r = {conn, self, NULL, path, ri->query_string, method, ri->remote_addr, "anonymous", AUTH_ADMIN};
    bool mutation = !read_only;
    const auth_token_t *tok = NULL;
    const char *hdr = auth->enabled ? mg_get_header(conn, "Authorization") : NULL;
    if (auth->enabled) {
        tok = auth_check(auth, hdr);
        r.role = tok ? tok->role : auth->anonymous;
        r.who = tok ? tok->name : "anonymous";
    }
    /* Limits first, so that guessing tokens is throttled like anything else. */
    if (self->limiter && strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0) {
        char key[80], extra[64];
        snprintf(key, sizeof key, "ip:%s", ri->remote_addr);
        int wait = auth_limiter_take(self->limiter, key, clock_mono_us());
        if (tok) {
            snprintf(key, sizeof key, "token:%s", tok->name);
            int w2 = auth_limiter_take(self->limiter, key, clock_mono_us());
            wait = w2 > wait ? w2 : wait;
        }
        if (wait > 0) {
            snprintf(extra, sizeof extra, "Retry-After: %d\r\n", wait);
            return http_refuse(&r, mutation, 429, extra, "rate_limited", "too many requests; retry later");
        }
    }
    if (hdr && !tok && !http_public(path))
        return http_refuse(&r, mutation, 401, "WWW-Authenticate: Bearer\r\n", "unauthorized",
                           "the bearer token is not valid");
    auth_role_t need = http_public(path)                         ? AUTH_NONE
                       : mutation                                 ? AUTH_OPERATOR
                       : strncmp(path, "/api/v1/audit", 13) == 0 ? AUTH_ADMIN
                                                                  : AUTH_VIEWER;
    if (r.role < need)
        return r.role == AUTH_NONE
                   ? http_refuse(&r, mutation, 401, "WWW-Authenticate: Bearer\r\n", "unauthorized",
                                 "a bearer token is required")
                   : http_refuse(&r, mutation, 403, NULL, "forbidden", "the token's role does not allow this");
    r.snap = snapshot_acquire(self->snapshots);
    int rc = http_route(&r);
    snapshot_release(self->snapshots, r.snap);
    return rc;
}

static int http_log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warning("http: %s", message);
    return 1;
}

http_t *http_new(const agg_config_t *cfg, snapshot_holder_t *snapshots, ingest_counters_t *counters,
                 store_t *store, notify_stats_t *notify_stats, char *err, size_t errlen)
{
    http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->snapshots = snapshots;
    self->counters = counters;
    self->store = store;
    self->notify_stats = notify_stats;
    self->cfg = cfg;
    self->limiter = auth_limiter_new(cfg->auth.rate_per_second, cfg->auth.rate_burst);
    if (cfg->storage_dsn && !(self->history = history_new(cfg->storage_dsn))) {
        free(self);
        return NULL;
    }
    char ports[512];
    snprintf(ports, sizeof ports, "%s%s%s%s", cfg->http_listen, cfg->auth.tls_certificate ? "s" : "",
             cfg->auth.redirect_from ? "," : "", cfg->auth.redirect_from ? cfg->auth.redirect_from : "");
    if (cfg->auth.redirect_from)
        strncat(ports, "r", sizeof ports - strlen(ports) - 1);
    /* civetweb names this host in its redirects to HTTPS. */
    char host[256];
    snprintf(host, sizeof host, "%s", cfg->auth.public_name ? cfg->auth.public_name : cfg->http_listen);
    if (!cfg->auth.public_name) {
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0)
            snprintf(host, sizeof host, "localhost");
    }
    const char *options[] = {"listening_ports", ports, "num_threads", "40", "authentication_domain", host,
                             "request_timeout_ms", "10000", "enable_keep_alive", "yes",
                             "keep_alive_timeout_ms", "30000", "tcp_nodelay", "1",
                             cfg->auth.tls_certificate ? "ssl_certificate" : NULL, cfg->auth.tls_certificate,
                             NULL};
    if (!cfg->auth.enabled)
        log_warning("auth is not configured: anyone who reaches %s may read and change alerts", cfg->http_listen);
    struct mg_callbacks cb = {.log_message = http_log_message};
    self->ctx = mg_start(&cb, self, options);
    if (!self->ctx) {
        snprintf(err, errlen, "could not listen on \"%s\" for HTTP%s", ports,
                 cfg->auth.tls_certificate ? "S (check http.tls_certificate: a PEM with certificate and key)" : "");
        history_destroy(&self->history);
        auth_limiter_destroy(&self->limiter);
        free(self);
        return NULL;
    }
    mg_set_request_handler(self->ctx, "/", http_handler, self);
    return self;
}

void http_destroy(http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    atomic_store(&(*self_p)->stopping, true); /* event streams end within 200 ms */
    mg_stop((*self_p)->ctx);
    history_destroy(&(*self_p)->history);
    auth_limiter_destroy(&(*self_p)->limiter);
    free(*self_p);
    *self_p = NULL;
}
