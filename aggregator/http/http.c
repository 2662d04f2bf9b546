/*
 * http.c — the aggregator's HTTP server (civetweb): one route table, and the
 * gate every request passes before its handler.
 *
 * The route table below is the only place that says which paths exist (as
 * patterns: "{node}" captures one path segment, "{file...}" the rest),
 * which methods each takes, who may call it (public, viewer, operator, admin) and
 * whether a call changes state (audited; refusals counted, see
 * http_refusals.h). The gate, in order: CORS preflight; the path must be
 * valid UTF-8 without NUL bytes (400/404); the method must be one the path
 * takes (405); the per-client and per-token rate limits (429); the bearer
 * token (401) and the role (401/403). Then the handler runs with the
 * current snapshot.
 *
 * Handlers run on civetweb's worker threads and read the snapshot
 * (snapshot.h): they never touch the core's state, never wait for it, and
 * never change reference counts of its values (http_copy). Responses are
 * JSON (jansson) with one error shape:
 *   {"error": {"code": "not_found", "message": "..."}}
 *
 * Slow clients: every connection has read deadlines (request_timeout_ms for
 * a request's head and body, keep_alive_timeout_ms between requests) and
 * there are many more workers than a handful of slow clients can hold, so a
 * hundred connections trickling a byte a second do not keep a health probe
 * waiting (tests/integration/test_http_hardening.py).
 */
#include "http.h"
#include "http_internal.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "core.h"
#include "history.h"
#include "log.h"

enum {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PATCH = 1 << 3,
    HTTP_DELETE = 1 << 4,
    HTTP_READ = HTTP_GET | HTTP_HEAD,
};

typedef struct {
    const char *pattern;    /* the path; "{x}" captures one segment, "{x...}" the rest */
    unsigned methods;       /* HTTP_GET | ... */
    http_handler_fn handler;
    auth_role_t role;       /* AUTH_NONE: public, no token needed */
    bool mutation;          /* changes state: audited, refusals counted */
    bool unlimited;         /* probes: not rate-limited */
    const char *part;       /* handed to the handler as r->part */
} http_route_t;

static int http_status_html(const http_req_t *r)
{
    return http_status(r, true);
}

static int http_status_json(const http_req_t *r)
{
    return http_status(r, false);
}

static int http_not_found(const http_req_t *r)
{
    return http_error(r->conn, 404, "not_found", "no resource at %s", r->path);
}

#define NODE "/api/v1/nodes/{node}"

static const http_route_t http_routes[] = {
    /* pattern                         methods      handler                 role           mutation unlimited part */
    {"/healthz",                       HTTP_READ,   http_healthz,           AUTH_NONE,     false, true,  NULL},
    {"/readyz",                        HTTP_READ,   http_readyz,            AUTH_NONE,     false, true,  NULL},
    {"/status",                        HTTP_READ,   http_status_html,       AUTH_NONE,     false, false, NULL},
    {"/api/v1/status",                 HTTP_READ,   http_status_json,       AUTH_NONE,     false, false, NULL},
    {"/api/v1/whoami",                 HTTP_READ,   http_whoami,            AUTH_NONE,     false, false, NULL},
    {"/",                              HTTP_READ,   http_web,               AUTH_NONE,     false, false, NULL},
    {"/index.html",                    HTTP_READ,   http_web,               AUTH_NONE,     false, false, NULL},
    {"/ui/{file...}",                  HTTP_READ,   http_web,               AUTH_NONE,     false, false, NULL},
    {"/metrics",                       HTTP_READ,   http_metrics,           AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/health",                 HTTP_READ,   http_health,            AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/clusters",               HTTP_READ,   http_clusters,          AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/clusters/{cluster}",     HTTP_READ,   http_cluster,           AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/nodes",                  HTTP_READ,   http_nodes,             AUTH_VIEWER,   false, false, NULL},
    {NODE,                             HTTP_READ,   http_node,              AUTH_VIEWER,   false, false, NULL},
    {NODE "/history",                  HTTP_READ,   http_node_history,      AUTH_VIEWER,   false, false, "history"},
    {NODE "/lag",                      HTTP_READ,   http_node_history,      AUTH_VIEWER,   false, false, "lag"},
    {NODE "/uptime",                   HTTP_READ,   http_node_history,      AUTH_VIEWER,   false, false, "uptime"},
    {NODE "/statements/{queryid}/history", HTTP_READ, http_statement_history, AUTH_VIEWER, false, false, NULL},
    {NODE "/tables",                   HTTP_READ,   http_node_diag,         AUTH_VIEWER,   false, false, "tables"},
    {NODE "/indexes",                  HTTP_READ,   http_node_diag,         AUTH_VIEWER,   false, false, "indexes"},
    {NODE "/statements",               HTTP_READ,   http_node_diag,         AUTH_VIEWER,   false, false, "statements"},
    {NODE "/recommendations",          HTTP_READ,   http_node_diag,         AUTH_VIEWER,   false, false, "recommendations"},
    {NODE "/backup",                   HTTP_READ,   http_node_diag,         AUTH_VIEWER,   false, false, "backup"},
    {NODE "/diagnostics",              HTTP_READ,   http_node_diag,         AUTH_VIEWER,   false, false, "diagnostics"},
    {"/api/v1/events",                 HTTP_READ,   http_events,            AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/metrics",                HTTP_READ,   http_metric_names,      AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/stream",                 HTTP_READ,   http_stream,            AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/alerts",                 HTTP_READ,   http_alerts,            AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/alerts/{id}",            HTTP_READ,   http_alert,             AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/alerts/{id}",            HTTP_PATCH,  http_alert_change,      AUTH_OPERATOR, true,  false, NULL},
    {"/api/v1/silences",               HTTP_READ,   http_silences,          AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/silences",               HTTP_POST,   http_silence_add,       AUTH_OPERATOR, true,  false, NULL},
    {"/api/v1/silences/{id}",          HTTP_READ,   http_silence,           AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/silences/{id}",          HTTP_DELETE, http_silence_delete,    AUTH_OPERATOR, true,  false, NULL},
    {"/api/v1/receivers/{name}/test",  HTTP_POST,   http_receiver_test,     AUTH_OPERATOR, true,  false, NULL},
    {"/api/v1/recommendations",        HTTP_READ,   http_recommendations,   AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/maintenance",            HTTP_READ,   http_maintenance,       AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/maintenance",            HTTP_POST,   http_maintenance_add,   AUTH_OPERATOR, true,  false, NULL},
    {"/api/v1/maintenance/{id}",       HTTP_READ,   http_maintenance_one,   AUTH_VIEWER,   false, false, NULL},
    {"/api/v1/audit",                  HTTP_READ,   http_audit,             AUTH_ADMIN,    false, false, NULL},
};

/* Longest decoded path served. */
#define HTTP_PATH_MAX 2048

/* Anything else: 404 for those who may read the API (401 before that). */
static const http_route_t http_fallback = {"", HTTP_READ, http_not_found, AUTH_VIEWER, false, false, NULL};

static unsigned http_method_bit(const char *method)
{
    static const struct {
        const char *name;
        unsigned bit;
    } methods[] = {{"GET", HTTP_GET}, {"HEAD", HTTP_HEAD}, {"POST", HTTP_POST}, {"PATCH", HTTP_PATCH},
                   {"DELETE", HTTP_DELETE}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(methods[i].name, method) == 0)
            return methods[i].bit;
    return 0;
}

/* Does path match pattern? Captures go to args (at most HTTP_ARGS_MAX,
 * each non-empty and shorter than HTTP_ARG_MAX, or there is no match). */
static bool http_route_matches(const char *pattern, const char *path, char args[][HTTP_ARG_MAX])
{
    const char *p = pattern, *s = path;
    int n = 0;
    while (*p) {
        if (*p != '{') {
            if (*p++ != *s++)
                return false;
            continue;
        }
        const char *close = strchr(p, '}');
        bool tail = close - p > 4 && strncmp(close - 3, "...", 3) == 0;
        size_t len = tail ? strlen(s) : strcspn(s, "/");
        if (len == 0 || len >= HTTP_ARG_MAX || n == HTTP_ARGS_MAX)
            return false;
        memcpy(args[n], s, len);
        args[n++][len] = '\0';
        s += len;
        p = close + 1;
    }
    return *s == '\0';
}

/* The route for r->path and method, its captures in r->arg; NULL when the
 * path exists but not for this method (405). */
static const http_route_t *http_route_find(http_req_t *r, const char *method)
{
    unsigned bit = http_method_bit(method);
    bool path_known = false;
    for (size_t i = 0; i < sizeof http_routes / sizeof http_routes[0]; i++) {
        if (!http_route_matches(http_routes[i].pattern, r->path, r->arg))
            continue;
        if (http_routes[i].methods & bit)
            return &http_routes[i];
        path_known = true;
    }
    return path_known || !(http_fallback.methods & bit) ? NULL : &http_fallback;
}

/* Write one audit record of a refusal (or a count of them). */
static void http_audit_write(const char *who, const char *role, const char *action, const char *target,
                             const char *client, int status)
{
    json_t *body = NULL, *cmd = json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:i}}", "cmd", "audit", "audit", "who", who,
                                          "role", role, "action", action, "target", target, "client", client,
                                          "result", status);
    if (!cmd)
        return; /* names that are not UTF-8: nothing to record them by */
    core_command(cmd, 1000, &body);
    json_decref(cmd);
    json_decref(body);
}

static void http_audit_counts(const http_refusal_t *due, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char action[160], since[40];
        clock_format_rfc3339(due[i].since_us, since, sizeof since);
        snprintf(action, sizeof action, "%llu more refused requests in the minute from %s",
                 (unsigned long long)due[i].count, since);
        http_audit_write(due[i].who, due[i].role, action, "*", due[i].client, due[i].status);
    }
}

/* Record a refused change: the first per client, token and status in a
 * minute as itself, the rest as one count when the minute is over. */
static void http_audit_refusal(const http_req_t *r, int status)
{
    http_refusal_t due[8];
    size_t n_due = 0;
    const char *client = r->client ? r->client : "";
    bool first = http_refusals_note(r->http->refusals, client, r->who, auth_role_name(r->role), status,
                                    clock_wall_us(), due, 8, &n_due);
    http_audit_counts(due, n_due);
    if (first)
        http_audit_write(r->who, auth_role_name(r->role), r->method, r->path, client, status);
}

static int http_refuse(const http_req_t *r, bool mutation, int status, const char *extra, const char *code,
                       const char *message)
{
    if (mutation)
        http_audit_refusal(r, status);
    char *text = http_error_text(code, message);
    int rc = http_send_ex(r->conn, status, "application/json", text ? text : "{}", text ? strlen(text) : 2, extra);
    free(text);
    return rc;
}

/* The request's path, decoded here (civetweb runs with decode_url=no, so
 * that a %00 cannot silently cut the path short: "/ui/index.html%00.js"
 * must not name index.html). 0 with path filled, or the status sent: 404
 * for a NUL byte or an overlong path, 400 for bytes that are not UTF-8. */
static int http_decode_path(struct mg_connection *conn, const struct mg_request_info *ri, char *path, size_t len)
{
    const char *raw = ri->local_uri ? ri->local_uri : "";
    int n = mg_url_decode(raw, (int)strlen(raw), path, (int)len, 0);
    if (n < 0 || (size_t)n >= len)
        return http_error(conn, 404, "not_found", "no resource at a path that long");
    if (memchr(path, '\0', (size_t)n))
        return http_error(conn, 404, "not_found", "no resource at a path holding a NUL byte");
    json_t *s = json_stringn(path, (size_t)n);
    if (!s)
        return http_error(conn, 400, "bad_request", "the path is not valid UTF-8");
    json_decref(s);
    return 0;
}

/* "/api/v1/alerts/" names the collection, as "/api/v1/alerts" does. */
static void http_trim_slash(char *path)
{
    size_t n = strlen(path);
    if (n > 8 && strncmp(path, "/api/v1/", 8) == 0 && path[n - 1] == '/')
        path[n - 1] = '\0';
}

/* Rate limits first, so that guessing tokens is throttled like anything
 * else; then the token and the role. 0, or the status already sent. */
static int http_gate(http_req_t *r, const http_route_t *route)
{
    http_t *self = r->http;
    const auth_config_t *auth = http_auth(self);
    const auth_token_t *tok = NULL;
    const char *hdr = auth->enabled ? mg_get_header(r->conn, "Authorization") : NULL;
    if (auth->enabled) {
        tok = auth_check(auth, hdr);
        r->role = tok ? tok->role : auth->anonymous;
        r->who = tok ? tok->name : "anonymous";
    }
    if (self->limiter && !route->unlimited) {
        char key[80], extra[64];
        snprintf(key, sizeof key, "ip:%s", r->client);
        int wait = auth_limiter_take(self->limiter, key, clock_mono_us());
        if (tok) {
            snprintf(key, sizeof key, "token:%s", tok->name);
            int w2 = auth_limiter_take(self->limiter, key, clock_mono_us());
            wait = w2 > wait ? w2 : wait;
        }
        if (wait > 0) {
            snprintf(extra, sizeof extra, "Retry-After: %d\r\n", wait);
            return http_refuse(r, route->mutation, 429, extra, "rate_limited", "too many requests; retry later");
        }
    }
    bool public = route->role == AUTH_NONE;
    if (hdr && !tok && !public)
        return http_refuse(r, route->mutation, 401, "WWW-Authenticate: Bearer\r\n", "unauthorized",
                           "the bearer token is not valid");
    if (r->role < route->role)
        return r->role == AUTH_NONE
                   ? http_refuse(r, route->mutation, 401, "WWW-Authenticate: Bearer\r\n", "unauthorized",
                                 "a bearer token is required")
                   : http_refuse(r, route->mutation, 403, NULL, "forbidden", "the token's role does not allow this");
    return 0;
}

static int http_handler(struct mg_connection *conn, void *cbdata)
{
    http_t *self = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *method = ri->request_method;
    char path[HTTP_PATH_MAX];
    if (strcmp(method, "OPTIONS") == 0 && self->cfg->auth.cors_origin)
        return http_send_ex(conn, 204, "text/plain", "", 0,
                            "Access-Control-Allow-Methods: GET, POST, PATCH, DELETE\r\n"
                            "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
                            "Access-Control-Max-Age: 600\r\n");
    int bad = http_decode_path(conn, ri, path, sizeof path);
    if (bad)
        return bad;
    http_trim_slash(path);
    http_req_t r = {conn, self, NULL, path, ri->query_string, method, ri->remote_addr, "anonymous", AUTH_ADMIN,
                    NULL, {{0}}};
    const http_route_t *route = http_route_find(&r, method);
    if (!route)
        return http_error(conn, 405, "method_not_allowed", "%s is not allowed here", method);
    r.part = route->part;
    int refused = http_gate(&r, route);
    if (refused)
        return refused;
    r.snap = snapshot_acquire(self->snapshots);
    int rc = route->handler(&r);
    snapshot_release(self->snapshots, r.snap);
    return rc;
}

static int http_log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warning("http: %s", message);
    return 1;
}

/* civetweb's listening_ports (TLS "s", an HTTP port redirecting "r") and
 * the host name it uses in its redirects to HTTPS. */
static void http_listen_names(const agg_config_t *cfg, char *ports, size_t ports_len, char *host, size_t host_len)
{
    snprintf(ports, ports_len, "%s%s%s%s", cfg->http_listen, cfg->auth.tls_certificate ? "s" : "",
             cfg->auth.redirect_from ? "," : "", cfg->auth.redirect_from ? cfg->auth.redirect_from : "");
    size_t n = strlen(ports);
    if (cfg->auth.redirect_from && n + 1 < ports_len) {
        ports[n] = 'r';
        ports[n + 1] = '\0';
    }
    snprintf(host, host_len, "%s", cfg->auth.public_name ? cfg->auth.public_name : cfg->http_listen);
    if (!cfg->auth.public_name) {
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0)
            snprintf(host, host_len, "localhost");
    }
}

http_t *http_new(const agg_config_t *cfg, snapshot_holder_t *snapshots, ingest_counters_t *counters,
                 store_t *store, notify_stats_t *notify_stats, cluster_fence_t *fence, char *err, size_t errlen)
{
    http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->snapshots = snapshots;
    self->counters = counters;
    self->store = store;
    self->notify_stats = notify_stats;
    self->fence = fence;
    self->cfg = cfg;
    atomic_init(&self->auth, &cfg->auth);
    self->limiter = auth_limiter_new(cfg->auth.rate_per_second, cfg->auth.rate_burst);
    self->refusals = http_refusals_new(HTTP_REFUSALS_WINDOW_US);
    if (!self->refusals) {
        auth_limiter_destroy(&self->limiter);
        free(self);
        return NULL;
    }
    if (cfg->storage_dsn && !(self->history = history_new(cfg->storage_dsn))) {
        http_refusals_destroy(&self->refusals);
        auth_limiter_destroy(&self->limiter);
        free(self);
        return NULL;
    }
    char ports[512], host[256];
    http_listen_names(cfg, ports, sizeof ports, host, sizeof host);
    /* Deadlines per connection (a request's head and body; the wait for the
     * next request on a kept-alive connection; lingering at close) and far
     * more workers than slow clients usually hold: see the header comment. */
    const char *options[] = {"listening_ports", ports, "num_threads", HTTP_WORKERS, "authentication_domain", host,
                             "request_timeout_ms", "5000", "enable_keep_alive", "yes",
                             "keep_alive_timeout_ms", "10000", "linger_timeout_ms", "500",
                             "listen_backlog", "1024", "connection_queue", "256", "tcp_nodelay", "1",
                             "decode_url", "no",
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
        http_refusals_destroy(&self->refusals);
        free(self);
        return NULL;
    }
    mg_set_request_handler(self->ctx, "/", http_handler, self);
    return self;
}

void http_set_auth(http_t *self, const auth_config_t *auth)
{
    if (self && auth)
        atomic_store_explicit(&self->auth, auth, memory_order_release);
}

void http_destroy(http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    atomic_store(&(*self_p)->stopping, true); /* event streams end within 200 ms */
    mg_stop((*self_p)->ctx);
    http_refusal_t due[64];
    size_t n = http_refusals_drain((*self_p)->refusals, due, 64);
    for (size_t i = 0; i < n; i++) /* the core may be gone: say it here */
        log_info("http: %llu more requests from %s (%s) refused with %d since the last audit record",
                 (unsigned long long)due[i].count, due[i].client, due[i].who, due[i].status);
    http_refusals_destroy(&(*self_p)->refusals);
    history_destroy(&(*self_p)->history);
    auth_limiter_destroy(&(*self_p)->limiter);
    free(*self_p);
    *self_p = NULL;
}
