/*
 * http_fleet.c — the fleet's read routes:
 *
 *   GET /healthz, /readyz               liveness; readiness (the history database)
 *   GET /api/v1/health[?type=full]      the verdict, counts (and the clusters)
 *   GET /api/v1/clusters[/{id|name}]
 *   GET /api/v1/nodes[/{node}]
 *   GET /api/v1/nodes/{node}/{history?metric=,lag,uptime}?from=&to=
 *   GET /api/v1/nodes/{node}/statements/{queryid}/history?from=&to=
 *   GET /api/v1/events?cluster=&node=&limit=
 *   GET /api/v1/metrics                 metric names for history
 *   GET /api/v1/audit?limit=            (admin)
 *
 * Everything comes from the request's snapshot (snapshot.h) or, for
 * history, from the history database (history.h). Snapshot values are
 * copied, never shared, into answers (http_copy).
 */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "history.h"

int http_healthz(const http_req_t *r)
{
    return http_send(r->conn, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

int http_readyz(const http_req_t *r)
{
    store_stats_t st = {.connected = true};
    if (r->http->store)
        store_stats(r->http->store, &st);
    if (st.connected && cluster_fence_state(r->http->fence) == CLUSTER_STATE_DEGRADED)
        return http_json(r->conn, 200, json_pack("{s:s,s:s}", "status", "degraded", "detail",
                                                 "Redis is unreachable: this aggregator monitors and notifies "
                                                 "everything it hears; duplicates are possible"));
    return st.connected ? http_send(r->conn, 200, "application/json", "{\"status\":\"ready\"}", 18)
                        : http_error(r->conn, 503, "unavailable",
                                     "the history database is not reachable; samples are buffered");
}

int http_health(const http_req_t *r)
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
                     json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:o}", "status", s->status, "clusters",
                               (int)s->cluster_count, "nodes", (int)s->node_count, "up", (int)s->nodes_up,
                               "down", (int)s->nodes_down, "stale", (int)s->nodes_stale, "as_of", built,
                               "cluster_details", snapshot_clusters(s) ? http_copy(snapshot_clusters(s)) : json_array()));
}

int http_clusters(const http_req_t *r) { return http_list(r, true); }

int http_cluster(const http_req_t *r)
{
    const char *id = r->arg[0];
    frag_t *c = frag_set_find_cluster(r->snap->cluster_frags, id);
    const frag_text_t *t = c ? frag_json(c) : NULL;
    json_t *j = t ? json_loadb(t->text, t->len, 0, NULL) : NULL;
    if (j)
        return http_json(r->conn, 200, json_pack("{s:o}", "cluster", j));
    return http_error(r->conn, 404, "not_found", "no cluster with id or name \"%s\"", id);
}

int http_nodes(const http_req_t *r) { return http_list(r, false); }

/* from and to, checked; non-zero: the status already sent. */
static int hf_range(const http_req_t *r, char *from, char *to, size_t len, const char **f, const char **t)
{
    int rc = http_time_param(r, "from", from, len, f);
    return rc ? rc : http_time_param(r, "to", to, len, t);
}

static int hf_answer(const http_req_t *r, history_result_t rc, json_t *out, const char *err)
{
    if (rc == HISTORY_BAD_REQUEST)
        return http_error(r->conn, 400, "bad_request", "%s", err);
    if (rc != HISTORY_OK)
        return http_error(r->conn, 503, "unavailable", "%s", err);
    return http_json(r->conn, 200, out);
}

/* The node of the path, known to the snapshot; else 404 (sent: NULL). */
static const char *hf_node(const http_req_t *r)
{
    if (frag_set_find_node(r->snap->node_frags, r->arg[0]))
        return r->arg[0];
    http_error(r->conn, 404, "not_found", "no node named \"%s\"", r->arg[0]);
    return NULL;
}

/* /api/v1/nodes/{node}/{history,lag,uptime}?from=&to= (history: &metric=) */
int http_node_history(const http_req_t *r)
{
    char metric[64] = "", from[64] = "", to[64] = "", err[256] = "";
    const char *f, *t, *name = hf_node(r), *sub = r->part;
    if (!name)
        return 404;
    bool is_history = strcmp(sub, "history") == 0;
    if (!r->http->history)
        return http_error(r->conn, 503, "unavailable", "no history is kept: storage is not configured");
    if (is_history && !http_param(r, "metric", metric, sizeof metric))
        return http_error(r->conn, 400, "bad_request", "the metric parameter is required");
    int sent = hf_range(r, from, to, sizeof from, &f, &t);
    if (sent)
        return sent;
    json_t *out = NULL;
    history_result_t rc = is_history ? history_node_metric(r->http->history, name, metric, f, t, &out, err, sizeof err)
                          : strcmp(sub, "lag") == 0
                              ? history_lag(r->http->history, name, f, t, &out, err, sizeof err)
                              : history_uptime(r->http->history, name, f, t, &out, err, sizeof err);
    return hf_answer(r, rc, out, err);
}

/* /api/v1/nodes/{node}/statements/{queryid}/history?from=&to= */
int http_statement_history(const http_req_t *r)
{
    char from[64] = "", to[64] = "", err[256] = "";
    const char *f, *t, *name = hf_node(r), *id = r->arg[1];
    if (!name)
        return 404;
    if (!r->http->history)
        return http_error(r->conn, 503, "unavailable", "no history is kept: storage is not configured");
    int sent = hf_range(r, from, to, sizeof from, &f, &t);
    if (sent)
        return sent;
    json_t *out = NULL;
    history_result_t rc = history_statement(r->http->history, name, id, f, t, &out, err, sizeof err);
    return hf_answer(r, rc, out, err);
}

int http_node(const http_req_t *r)
{
    const char *name = hf_node(r);
    if (!name)
        return 404;
    json_t *n = snapshot_node(r->snap, name);
    if (n)
        snapshot_lag_to(n, clock_wall_us());
    return n ? http_json(r->conn, 200, json_pack("{s:o}", "node", n))
             : http_error(r->conn, 500, "internal", "out of memory");
}

int http_events(const http_req_t *r)
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
        json_array_append_new(out, http_copy(e));
        if ((long)json_array_size(out) >= limit)
            break;
    }
    return http_json(r->conn, 200, json_pack("{s:o}", "events", out));
}

int http_metric_names(const http_req_t *r)
{
    json_t *names = json_array();
    for (const char *const *n = history_metric_names(); *n; n++)
        json_array_append_new(names, json_string(*n));
    return http_json(r->conn, 200, json_pack("{s:o}", "metrics", names));
}

int http_audit(const http_req_t *r)
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
