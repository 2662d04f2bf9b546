/*
 * fleet_view.c — the fleet rendered for readers: JSON for the API (shapes
 * documented in snapshot.h), Prometheus text for /metrics, and the quick
 * health verdict. Built once per snapshot by the core thread.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fleet.h"
#include "fleet_internal.h"
#include "pbjson.h"

#define VIEW_LAG_DEGRADED_S 30.0

static const char *view_role(Pgvigil__Role r)
{
    return r == PGVIGIL__ROLE__ROLE_PRIMARY ? "primary" : r == PGVIGIL__ROLE__ROLE_REPLICA ? "replica" : "unknown";
}

static const char *view_state(const fleet_node_t *n)
{
    return n->stale ? "stale" : n->up ? "up" : "down";
}

static int view_by_name(const void *a, const void *b)
{
    return strcmp((*(fleet_node_t *const *)a)->name, (*(fleet_node_t *const *)b)->name);
}

static int view_by_id(const void *a, const void *b)
{
    uint64_t x = (*(fleet_cluster_t *const *)a)->id, y = (*(fleet_cluster_t *const *)b)->id;
    return x < y ? -1 : x > y;
}

static json_t *view_lag(const fleet_node_t *n)
{
    if (n->role != PGVIGIL__ROLE__ROLE_REPLICA || !n->up)
        return NULL;
    if (!n->has_lag)
        return json_null();
    return json_pack("{s:I, s:f, s:I, s:I, s:b, s:o, s:s}", "bytes", (json_int_t)n->lag.bytes, "seconds",
                     n->lag.seconds, "receive_bytes", (json_int_t)n->lag.receive_bytes, "apply_bytes",
                     (json_int_t)n->lag.apply_bytes, "replay_paused", n->replay_paused,
                     "primary_replay_lag_seconds",
                     isnan(n->primary_replay_lag_s) ? json_null() : json_real(n->primary_replay_lag_s),
                     "wal_receiver_status", n->wal_status);
}

static json_t *view_node(const fleet_node_t *n)
{
    char seen[40], id[24];
    clock_format_rfc3339(n->last_seen_us, seen, sizeof seen);
    snprintf(id, sizeof id, "%" PRIu64, n->cluster_id);
    json_t *j = json_pack("{s:s, s:s?, s:s, s:b, s:b, s:s, s:s, s:i, s:s, s:i, s:f}", "node", n->name,
                          "cluster", n->cluster_id ? id : NULL, "role", view_role(n->role), "up", n->up,
                          "stale", n->stale, "state", view_state(n), "region", n->region, "timeline",
                          (int)n->timeline, "last_seen", seen, "server_version", (int)n->server_version,
                          "clock_offset_ms", (double)lag_offset_estimate(&n->offset) / 1000.0);
    json_t *lag = view_lag(n);
    if (j && lag)
        json_object_set_new(j, "lag", lag);
    return j;
}

/* The member a replica streams from: its WAL receiver's sender host and
 * port against the address and port each member's collector reached its
 * server on (NULL when none matches, e.g. a name against an address). */
static const char *view_upstream(const fleet_node_t *n, const fleet_node_t **members, size_t k)
{
    const Pgvigil__ReplicaReplication *rr = n->latest ? n->latest->replica_replication : NULL;
    if (!rr || !rr->upstream_host || !rr->has_upstream_port)
        return NULL;
    for (size_t i = 0; i < k; i++) {
        const Pgvigil__Sample *s = members[i]->latest;
        if (members[i] != n && s && s->server_address && s->has_server_port && s->server_port == rr->upstream_port &&
            strcmp(s->server_address, rr->upstream_host) == 0)
            return members[i]->name;
    }
    return NULL;
}

static const char *view_cluster_status(const fleet_cluster_t *c, fleet_node_t **nodes, size_t n)
{
    bool degraded = false, primary_ok = false;
    for (size_t i = 0; i < n; i++) {
        const fleet_node_t *x = nodes[i];
        if (x->cluster_id != c->id)
            continue;
        if (strcmp(x->name, c->primary) == 0)
            primary_ok = x->up && !x->stale && x->role == PGVIGIL__ROLE__ROLE_PRIMARY;
        else if (!x->up || x->stale || x->disconnected || x->replay_paused ||
                 (x->has_lag && x->lag.seconds > VIEW_LAG_DEGRADED_S))
            degraded = true;
    }
    if (c->split_brain || !primary_ok)
        return "critical";
    return degraded ? "degraded" : "ok";
}

static json_t *view_cluster(const fleet_t *self, const fleet_cluster_t *c, fleet_node_t **nodes,
                            size_t n, const char **status)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, c->id);
    const char *name = agg_config_cluster_name(self->cfg, c->id);
    *status = view_cluster_status(c, nodes, n);
    json_t *members = json_array();
    size_t k = 0;
    const fleet_node_t **mine = calloc(n ? n : 1, sizeof *mine);
    for (size_t i = 0; mine && i < n; i++)
        if (nodes[i]->cluster_id == c->id)
            mine[k++] = nodes[i];
    for (size_t i = 0; members && i < k; i++) {
        json_t *j = view_node(mine[i]);
        const char *up = view_upstream(mine[i], mine, k);
        if (j && mine[i]->role == PGVIGIL__ROLE__ROLE_REPLICA)
            json_object_set_new(j, "upstream", up ? json_string(up) : json_null());
        json_array_append_new(members, j);
    }
    free(mine);
    return json_pack("{s:s, s:s, s:s?, s:i, s:s, s:b, s:o}", "id", id, "name", name ? name : id,
                     "primary", c->primary[0] ? c->primary : NULL, "timeline", (int)c->timeline, "status",
                     *status, "split_brain", c->split_brain, "nodes", members);
}

/* Prometheus label value escaping: backslash, double quote, newline. */
static void view_label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f), fputc(*v, f);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void view_metric_help(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void view_node_metrics(const fleet_t *self, FILE *f, fleet_node_t **nodes, size_t n)
{
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"pgvigil_node_up", "gauge", "1 when the node's last sample reached its server and is fresh"},
        {"pgvigil_node_stale", "gauge", "1 when the node's collector has been silent for too long"},
        {"pgvigil_replication_lag_bytes", "gauge", "Primary WAL position minus replica replay position"},
        {"pgvigil_replication_lag_seconds", "gauge", "Time since the primary reached the replica's replay position"},
        {"pgvigil_replication_receive_lag_bytes", "gauge", "Primary WAL position minus replica receive position"},
        {"pgvigil_replication_replay_paused", "gauge", "1 when WAL replay is paused on the replica"},
        {"pgvigil_collector_clock_offset_seconds", "gauge", "Collector clock minus aggregator clock"},
        {"pgvigil_collector_sequence_gaps_total", "counter", "Samples missing from a collector's sequence"},
        {"pgvigil_collector_sequence_duplicates_total", "counter", "Samples received twice and dropped"},
        {"pgvigil_collector_restarts_total", "counter", "Collector process restarts seen"},
    };
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        view_metric_help(f, m[k].name, m[k].type, m[k].help);
        for (size_t i = 0; i < n; i++) {
            const fleet_node_t *x = nodes[i];
            double v;
            switch (k) {
            case 0: v = x->up && !x->stale; break;
            case 1: v = x->stale; break;
            case 2: v = (double)x->lag.bytes; break;
            case 3: v = x->lag.seconds; break;
            case 4: v = (double)x->lag.receive_bytes; break;
            case 5: v = x->replay_paused; break;
            case 6: v = (double)lag_offset_estimate(&x->offset) / 1e6; break;
            case 7: v = (double)x->gaps; break;
            case 8: v = (double)x->duplicates; break;
            default: v = (double)x->restarts; break;
            }
            if (k >= 2 && k <= 5 && !(x->has_lag && x->up))
                continue; /* lag series only for replicas with a measurement */
            char cluster[80];
            const char *name = agg_config_cluster_name(self->cfg, x->cluster_id);
            if (name)
                snprintf(cluster, sizeof cluster, "%s", name);
            else
                snprintf(cluster, sizeof cluster, "%" PRIu64, x->cluster_id);
            fprintf(f, "%s{cluster=\"", m[k].name);
            view_label(f, cluster);
            fprintf(f, "\",node=\"%s\"", x->name);
            if (k == 0) {
                fprintf(f, ",role=\"%s\",region=\"", view_role(x->role));
                view_label(f, x->region);
                fputc('"', f);
            }
            fprintf(f, "} %.17g\n", v);
        }
    }
}

static fleet_node_t **view_sorted_nodes(fleet_t *self, size_t *n)
{
    *n = zhashx_size(self->nodes);
    fleet_node_t **arr = calloc(*n ? *n : 1, sizeof *arr);
    size_t i = 0;
    for (fleet_node_t *x = zhashx_first(self->nodes); arr && x; x = zhashx_next(self->nodes))
        arr[i++] = x;
    if (arr)
        qsort(arr, *n, sizeof *arr, view_by_name);
    return arr;
}

static void view_clusters(fleet_t *self, fleet_node_t **nodes, size_t n, fleet_view_t *out)
{
    size_t nc = zhashx_size(self->clusters), i = 0;
    fleet_cluster_t **cl = calloc(nc ? nc : 1, sizeof *cl);
    for (fleet_cluster_t *c = zhashx_first(self->clusters); cl && c; c = zhashx_next(self->clusters))
        cl[i++] = c;
    if (!cl)
        return;
    qsort(cl, nc, sizeof *cl, view_by_id);
    out->status = n ? "ok" : "empty";
    for (i = 0; i < nc; i++) {
        const char *status;
        json_array_append_new(out->clusters, view_cluster(self, cl[i], nodes, n, &status));
        if (strcmp(status, "critical") == 0)
            out->status = "critical";
        else if (strcmp(status, "degraded") == 0 && strcmp(out->status, "critical") != 0)
            out->status = "degraded";
    }
    out->cluster_count = (uint32_t)nc;
    free(cl);
}

int fleet_view(fleet_t *self, int64_t now_us, fleet_view_t *out)
{
    (void)now_us;
    size_t n;
    memset(out, 0, sizeof *out);
    fleet_node_t **nodes = view_sorted_nodes(self, &n);
    out->clusters = json_array();
    out->nodes = json_object();
    out->events = json_array();
    if (!nodes || !out->clusters || !out->nodes || !out->events)
        goto fail;
    view_clusters(self, nodes, n, out);
    for (size_t i = 0; i < n; i++) {
        json_t *j = view_node(nodes[i]);
        if (j && nodes[i]->latest)
            json_object_set_new(j, "sample", pbjson_from_message(&nodes[i]->latest->base));
        if (j)
            json_object_set_new(j, "ingest",
                                json_pack("{s:I, s:I, s:I, s:I}", "received", (json_int_t)nodes[i]->received,
                                          "gaps", (json_int_t)nodes[i]->gaps, "duplicates",
                                          (json_int_t)nodes[i]->duplicates, "restarts",
                                          (json_int_t)nodes[i]->restarts));
        json_object_set_new(out->nodes, nodes[i]->name, j);
        out->node_count++;
        out->nodes_stale += nodes[i]->stale;
        out->nodes_up += nodes[i]->up && !nodes[i]->stale;
        out->nodes_down += !nodes[i]->up && !nodes[i]->stale;
    }
    for (size_t k = 0; k < self->event_count; k++) {
        size_t idx = (self->event_next + FLEET_EVENTS_MAX - 1 - k) % FLEET_EVENTS_MAX;
        json_array_append(out->events, self->events[idx]);
    }
    size_t len = 0;
    FILE *f = open_memstream(&out->metrics_text, &len);
    if (!f)
        goto fail;
    view_node_metrics(self, f, nodes, n);
    fclose(f);
    free(nodes);
    return 0;
fail:
    free(nodes);
    json_decref(out->clusters);
    json_decref(out->nodes);
    json_decref(out->events);
    memset(out, 0, sizeof *out);
    return -1;
}
