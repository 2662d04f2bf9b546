/*
 * fleet_view.c — the fleet rendered for readers: JSON for the API (shapes
 * documented in snapshot.h), Prometheus text for /metrics (every catalogue
 * metric flagged METRIC_F_PROM, metric.h), and the quick health verdict.
 * A node's JSON and Prometheus lines depend only on its view (and for the
 * cluster status and upstream, its cluster's views), so they are rendered
 * into fragments (frag.h) only when that view changed: fleet_view_node_frag
 * and fleet_view_cluster_frag, called by fleet_frags.c for each snapshot.
 * fleet_view() renders everything at once (tests, and the reference the
 * fragments are checked against).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fleet.h"
#include "fleet_internal.h"
#include "metric.h"
#include "nodeview.h"
#include "pbjson.h"

static int view_by_name(const void *a, const void *b)
{
    return strcmp((*(fleet_node_t *const *)a)->view.name, (*(fleet_node_t *const *)b)->view.name);
}

static int view_by_id(const void *a, const void *b)
{
    uint64_t x = (*(fleet_cluster_t *const *)a)->id, y = (*(fleet_cluster_t *const *)b)->id;
    return x < y ? -1 : x > y;
}

static json_t *view_lag(const node_view_t *v)
{
    if (v->role != PGVIGIL__ROLE__ROLE_REPLICA || !v->up)
        return NULL;
    if (!v->has_lag)
        return json_null();
    json_t *j = json_pack("{s:I, s:f, s:I, s:I, s:f, s:b, s:b, s:o, s:s?, s:s}", "bytes", (json_int_t)v->lag.bytes,
                     "seconds", v->lag.seconds, "receive_bytes", (json_int_t)v->lag.receive_bytes, "apply_bytes",
                     (json_int_t)v->lag.apply_bytes, "receive_seconds", v->lag.receive_seconds, "estimated",
                     v->lag.estimated, "replay_paused", v->replay_paused, "primary_replay_lag_seconds",
                     isnan(v->primary_replay_lag_s) ? json_null() : json_real(v->primary_replay_lag_s),
                     "primary_view_paired_by", pairing_how_name(v->paired_by), "wal_receiver_status", v->wal_status);
    if (j && v->lag_moving)
        json_object_update_new(j, json_pack("{s:b, s:I, s:f}", "moving", 1, "as_of_us", (json_int_t)v->lag_at_us,
                                            "write_rate_bytes_per_s", v->lag_rate_bps));
    return j;
}

/* One node's JSON, from its view alone (so it can be cached per version). */
static json_t *view_node(const node_view_t *v)
{
    char seen[40], id[24];
    clock_format_rfc3339(v->last_seen_us, seen, sizeof seen);
    snprintf(id, sizeof id, "%" PRIu64, v->cluster_id);
    json_t *j = json_pack("{s:s, s:s?, s:s, s:b, s:b, s:s, s:s, s:i, s:s, s:i, s:f, s:f, s:I}", "node", v->name,
                          "cluster", v->cluster_id ? id : NULL, "role", metric_role_name(v->role), "up", v->up,
                          "stale", v->stale, "state", node_view_state(v), "region", v->region, "timeline",
                          (int)v->timeline, "last_seen", seen, "server_version", (int)v->server_version,
                          "clock_offset_ms", (double)v->clock_offset_us / 1000.0, "clock_offset_recent_ms",
                          (double)v->clock_offset_recent_us / 1000.0, "clock_steps", (json_int_t)v->clock_steps);
    json_t *lag = view_lag(v);
    if (j && lag)
        json_object_set_new(j, "lag", lag);
    return j;
}

/* The member a replica streams from: its WAL receiver's sender host and
 * port against the address and port each member's collector reached its
 * server on (NULL when none matches, e.g. a name against an address). */
static const char *view_upstream(const node_view_t *n, const node_view_t **members, size_t k)
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

/* nodes: the cluster's members. */
static const char *view_cluster_status(const fleet_t *self, const fleet_cluster_t *c, const node_view_t **nodes,
                                       size_t n)
{
    bool degraded = false, primary_ok = false;
    for (size_t i = 0; i < n; i++) {
        const node_view_t *x = nodes[i];
        if (strcmp(x->name, c->primary) == 0)
            primary_ok = x->up && !x->stale && x->role == PGVIGIL__ROLE__ROLE_PRIMARY;
        else if (!x->up || x->stale || x->disconnected || x->replay_paused ||
                 (x->has_lag && x->lag.seconds > self->cfg->events.lag_degraded_seconds))
            degraded = true;
    }
    if (c->split_brain || !primary_ok)
        return "critical";
    return degraded ? "degraded" : "ok";
}

/* mine: the cluster's k members, in name order. */
static json_t *view_cluster(const fleet_t *self, const fleet_cluster_t *c, const node_view_t **mine, size_t k,
                            const char **status)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, c->id);
    const char *name = agg_config_cluster_name(self->cfg, c->id);
    *status = view_cluster_status(self, c, mine, k);
    json_t *members = json_array();
    for (size_t i = 0; members && i < k; i++) {
        json_t *j = view_node(mine[i]);
        const char *up = view_upstream(mine[i], mine, k);
        if (j && mine[i]->role == PGVIGIL__ROLE__ROLE_REPLICA)
            json_object_set_new(j, "upstream", up ? json_string(up) : json_null());
        json_array_append_new(members, j);
    }
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

/* One node's sample line of catalogue metric id (nothing when unknown). */
static void view_prom_line(FILE *f, const char *prom, const metric_t *m, int id, const node_view_t *x)
{
    double v;
    if (!node_view_value(x, id, &v)) {
        if (!(m->flags & METRIC_F_PROM_ZERO))
            return;
        v = 0;
    }
    fprintf(f, "%s{cluster=\"", prom);
    view_label(f, x->cluster_id ? x->cluster : "0");
    fputs("\",node=\"", f);
    view_label(f, x->name);
    fputc('"', f);
    if (m->flags & METRIC_F_PROM_NODE) {
        fprintf(f, ",role=\"%s\",region=\"", metric_role_name(x->role));
        view_label(f, x->region);
        fputc('"', f);
    }
    fprintf(f, "} %.17g\n", v);
}

/* Every catalogue metric flagged for Prometheus, one family at a time. */
static void view_node_metrics(FILE *f, const node_view_t **nodes, size_t n)
{
    for (size_t id = 0; id < metric_count(); id++) {
        const metric_t *m = metric_info((int)id);
        if (!(m->flags & METRIC_F_PROM))
            continue;
        char prom[128];
        metric_prom_name((int)id, prom, sizeof prom);
        fprintf(f, "# HELP %s %s (%s)\n# TYPE %s %s\n", prom, m->help, m->unit, prom,
                m->kind == METRIC_TOTAL ? "counter" : "gauge");
        for (size_t i = 0; i < n; i++)
            view_prom_line(f, prom, m, (int)id, nodes[i]);
    }
}

/* The WAL receiver's state of each replica, as a state set: one series per
 * replica, labelled with its state ("no receiver" when none runs). The
 * last family of the fragments too (VIEW_RECEIVER_FAMILY). */
#define VIEW_RECEIVER_HEADER                                                                                        \
    "# HELP pgvigil_wal_receiver_status The replica's WAL receiver state (pg_stat_wal_receiver.status, "          \
    "or no receiver), as a label\n# TYPE pgvigil_wal_receiver_status gauge\n"
#define VIEW_RECEIVER_FAMILY (-1)

static bool view_receiver_shown(const node_view_t *x)
{
    return x->role == PGVIGIL__ROLE__ROLE_REPLICA && x->up && !x->stale && x->wal_status[0];
}

static void view_receiver_states(FILE *f, const node_view_t **nodes, size_t n)
{
    fputs(VIEW_RECEIVER_HEADER, f);
    for (size_t i = 0; i < n; i++) {
        const node_view_t *x = nodes[i];
        if (!view_receiver_shown(x))
            continue;
        fputs("pgvigil_wal_receiver_status{cluster=\"", f);
        view_label(f, x->cluster_id ? x->cluster : "0");
        fputs("\",node=\"", f);
        view_label(f, x->name);
        fputs("\",status=\"", f);
        view_label(f, x->wal_status);
        fputs("\"} 1\n", f);
    }
}

static const node_view_t **view_sorted_nodes(fleet_t *self, size_t *n)
{
    *n = zhashx_size(self->nodes);
    fleet_node_t **arr = calloc(*n ? *n : 1, sizeof *arr);
    size_t i = 0;
    for (fleet_node_t *x = zhashx_first(self->nodes); arr && x; x = zhashx_next(self->nodes))
        arr[i++] = x;
    const node_view_t **views = arr ? calloc(*n ? *n : 1, sizeof *views) : NULL;
    if (views) {
        qsort(arr, *n, sizeof *arr, view_by_name);
        for (i = 0; i < *n; i++)
            views[i] = &arr[i]->view;
    }
    free(arr);
    return views;
}

static void view_clusters(fleet_t *self, const node_view_t **nodes, size_t n, fleet_view_t *out)
{
    size_t nc = zhashx_size(self->clusters), i = 0;
    fleet_cluster_t **cl = calloc(nc ? nc : 1, sizeof *cl);
    for (fleet_cluster_t *c = zhashx_first(self->clusters); cl && c; c = zhashx_next(self->clusters))
        cl[i++] = c;
    if (!cl)
        return;
    qsort(cl, nc, sizeof *cl, view_by_id);
    out->status = n ? "ok" : "empty";
    const node_view_t **mine = calloc(n ? n : 1, sizeof *mine);
    for (i = 0; mine && i < nc; i++) {
        const char *status;
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (nodes[j]->cluster_id == cl[i]->id)
                mine[k++] = nodes[j];
        json_array_append_new(out->clusters, view_cluster(self, cl[i], mine, k, &status));
        if (strcmp(status, "critical") == 0)
            out->status = "critical";
        else if (strcmp(status, "degraded") == 0 && strcmp(out->status, "critical") != 0)
            out->status = "degraded";
    }
    out->cluster_count = (uint32_t)nc;
    free(mine);
    free(cl);
}

static json_t *view_node_full(const node_view_t *v)
{
    json_t *j = view_node(v);
    if (j && v->latest)
        json_object_set_new(j, "sample", pbjson_from_message(&v->latest->base));
    if (j)
        json_object_set_new(j, "ingest",
                            json_pack("{s:I, s:I, s:I, s:I}", "received", (json_int_t)v->received, "gaps",
                                      (json_int_t)v->gaps, "duplicates", (json_int_t)v->duplicates, "restarts",
                                      (json_int_t)v->restarts));
    return j;
}

int fleet_view(fleet_t *self, int64_t now_us, fleet_view_t *out)
{
    (void)now_us;
    size_t n;
    memset(out, 0, sizeof *out);
    const node_view_t **nodes = view_sorted_nodes(self, &n);
    out->clusters = json_array();
    out->nodes = json_object();
    out->events = json_array();
    if (!nodes || !out->clusters || !out->nodes || !out->events)
        goto fail;
    view_clusters(self, nodes, n, out);
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(out->nodes, nodes[i]->name, view_node_full(nodes[i]));
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
    view_node_metrics(f, nodes, n);
    view_receiver_states(f, nodes, n);
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

/* ---- fragments (frag.h), one node or one cluster at a time ---- */

/* The exported catalogue metrics: ids, names and headers, built once (on
 * the core thread, before the first snapshot) and never freed. */
static struct {
    size_t count;
    int *ids;
    char **names, **headers;
} view_families;

const char *const *fleet_view_families(size_t *count)
{
    if (!view_families.ids) {
        size_t total = metric_count() + 1, k = 0; /* + the receiver states */
        int *ids = calloc(total, sizeof *ids);
        char **names = calloc(total, sizeof *names), **headers = calloc(total, sizeof *headers);
        for (size_t id = 0; ids && names && headers && id < metric_count(); id++) {
            const metric_t *m = metric_info((int)id);
            char prom[128], header[1024];
            if (!(m->flags & METRIC_F_PROM))
                continue;
            metric_prom_name((int)id, prom, sizeof prom);
            snprintf(header, sizeof header, "# HELP %s %s (%s)\n# TYPE %s %s\n", prom, m->help, m->unit, prom,
                     m->kind == METRIC_TOTAL ? "counter" : "gauge");
            ids[k] = (int)id;
            names[k] = strdup(prom);
            headers[k] = strdup(header);
            k++;
        }
        if (ids && names && headers) {
            ids[k] = VIEW_RECEIVER_FAMILY;
            names[k] = strdup("pgvigil_wal_receiver_status");
            headers[k] = strdup(VIEW_RECEIVER_HEADER);
            k++;
        }
        view_families.names = names;
        view_families.headers = headers;
        view_families.count = k;
        view_families.ids = ids;
    }
    *count = view_families.count;
    return (const char *const *)view_families.headers;
}

static int view_buf_put(fleet_buf_t *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 256;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

/* Append text to out[0..cap) from *at, label values escaped as view_label
 * does (escape: true); false when it does not fit. */
static bool view_labels_add(char *out, size_t cap, size_t *at, const char *text, bool escape)
{
    for (; *text; text++) {
        const char *rep = !escape ? NULL : *text == '\\' ? "\\\\" : *text == '"' ? "\\\"" : *text == '\n' ? "\\n" : NULL;
        size_t n = rep ? 2 : 1;
        if (*at + n >= cap)
            return false;
        memcpy(out + *at, rep ? rep : text, n);
        *at += n;
    }
    out[*at] = '\0';
    return true;
}

/* Both label sets of a node: without (labels_len) and with (node_len) its
 * role and region. */
static bool view_frag_labels(const node_view_t *v, char *labels, size_t cap, size_t *labels_len, size_t *node_len)
{
    *labels_len = 0;
    if (!view_labels_add(labels, cap, labels_len, "{cluster=\"", false) ||
        !view_labels_add(labels, cap, labels_len, v->cluster_id ? v->cluster : "0", true) ||
        !view_labels_add(labels, cap, labels_len, "\",node=\"", false) ||
        !view_labels_add(labels, cap, labels_len, v->name, true) ||
        !view_labels_add(labels, cap, labels_len, "\"", false))
        return false;
    *node_len = *labels_len;
    return view_labels_add(labels, cap, node_len, ",role=\"", false) &&
           view_labels_add(labels, cap, node_len, metric_role_name(v->role), false) &&
           view_labels_add(labels, cap, node_len, "\",region=\"", false) &&
           view_labels_add(labels, cap, node_len, v->region, true) && view_labels_add(labels, cap, node_len, "\"", false);
}

/* The receiver state line of view_receiver_states, labels already escaped. */
static int view_prom_receiver(fleet_buf_t *b, const char *labels, size_t labels_len, const char *status)
{
    char tail[256];
    size_t n = 0;
    static const char name[] = "pgvigil_wal_receiver_status";
    if (!view_labels_add(tail, sizeof tail, &n, ",status=\"", false) ||
        !view_labels_add(tail, sizeof tail, &n, status, true) || !view_labels_add(tail, sizeof tail, &n, "\"} 1\n", false))
        return 0; /* a status too long to label: no line */
    return view_buf_put(b, name, sizeof name - 1) || view_buf_put(b, labels, labels_len) || view_buf_put(b, tail, n)
               ? -1
               : 0;
}

/* The node's Prometheus lines, as view_prom_line writes them, family by
 * family (the labels escaped once). */
frag_text_t *fleet_view_render_node_prom(const frag_t *node)
{
    const node_view_t *v = node->view;
    size_t families, labels_len, node_len;
    char labels[1024];
    fleet_buf_t buf = {0};
    frag_text_t *t = NULL;
    fleet_view_families(&families);
    uint32_t *ends = calloc(families ? families : 1, sizeof *ends);
    if (!ends || !view_frag_labels(v, labels, sizeof labels, &labels_len, &node_len))
        goto out;
    for (size_t i = 0; i < families; i++) {
        int id = view_families.ids[i];
        if (id == VIEW_RECEIVER_FAMILY) {
            if (view_receiver_shown(v) && view_prom_receiver(&buf, labels, labels_len, v->wal_status) != 0)
                goto out;
            ends[i] = (uint32_t)buf.len;
            continue;
        }
        const metric_t *m = metric_info(id);
        double x;
        char value[40];
        bool known = node_view_value(v, id, &x);
        if (known || (m->flags & METRIC_F_PROM_ZERO)) {
            int n = snprintf(value, sizeof value, "} %.17g\n", known ? x : 0.0);
            const char *name = view_families.names[i];
            if (view_buf_put(&buf, name, strlen(name)) ||
                view_buf_put(&buf, labels, (m->flags & METRIC_F_PROM_NODE) ? node_len : labels_len) ||
                view_buf_put(&buf, value, (size_t)n))
                goto out;
        }
        ends[i] = (uint32_t)buf.len;
    }
    if ((t = frag_text_new(buf.data ? buf.data : "", buf.len))) {
        t->family_end = ends;
        t->families = families;
        ends = NULL;
    }
out:
    free(ends);
    free(buf.data);
    return t;
}

static frag_text_t *view_text_of(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    frag_text_t *t = text ? frag_text_new(text, strlen(text)) : NULL;
    free(text);
    return t;
}

frag_text_t *fleet_view_render_node_json(const frag_t *node) { return view_text_of(view_node(node->view)); }

/* The cluster object with an empty member list, then its members' own
 * JSON spliced in (each replica with its "upstream"), so a member is
 * rendered once, not again for its cluster. Equal to view_cluster's
 * (test_fleet_frags). */
frag_text_t *fleet_view_render_cluster_json(frag_t *c)
{
    static const char *const statuses[] = {"ok", "degraded", "critical"};
    char *text = NULL, *h = NULL;
    size_t len = 0;
    json_t *head = json_pack("{s:s, s:s, s:s?, s:i, s:s, s:b}", "id", c->id, "name", c->name, "primary",
                             c->primary[0] ? c->primary : NULL, "timeline", (int)c->timeline, "status",
                             statuses[c->state > FRAG_CRITICAL ? FRAG_CRITICAL : c->state], "split_brain",
                             c->split_brain);
    if (head && c->has_owner)
        json_object_set_new(head, "owner", c->owner[0] ? json_string(c->owner) : json_null());
    if (head)
        json_object_set_new(head, "nodes", json_array()); /* last: the members are spliced in */
    h = head ? json_dumps(head, JSON_COMPACT) : NULL;
    json_decref(head);
    size_t hl = h ? strlen(h) : 0;
    FILE *f = hl >= 3 && strcmp(h + hl - 3, "[]}") == 0 ? open_memstream(&text, &len) : NULL;
    bool ok = f != NULL;
    if (f)
        fwrite(h, 1, hl - 2, f);
    for (size_t i = 0; ok && i < c->member_count; i++) {
        const frag_t *m = c->members[i];
        const frag_text_t *mt = frag_json(c->members[i]);
        if (!(ok = mt && mt->len > 1))
            break;
        if (i)
            fputc(',', f);
        if (m->role != PGVIGIL__ROLE__ROLE_REPLICA) {
            fwrite(mt->text, 1, mt->len, f);
            continue;
        }
        json_t *upj = c->upstream[i][0] ? json_string(c->upstream[i]) : json_null();
        char *upt = upj ? json_dumps(upj, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(upj);
        fwrite(mt->text, 1, mt->len - 1, f); /* without its closing brace */
        fprintf(f, ",\"upstream\":%s}", upt ? upt : "null");
        free(upt);
    }
    if (f) {
        fputs("]}", f);
        ok = fclose(f) == 0 && ok;
    }
    frag_text_t *t = ok && text ? frag_text_new(text, len) : NULL;
    free(text);
    free(h);
    return t;
}

frag_t *fleet_view_node_frag(const node_view_t *v, frag_sample_t *latest)
{
    frag_t *f = frag_new();
    if (!f || !(f->view = malloc(sizeof *f->view)))
        goto fail;
    *f->view = *v;
    f->view->latest = NULL; /* the core's pointer; the fragment reads f->sample */
    f->sample = frag_sample_ref(latest);
    snprintf(f->name, sizeof f->name, "%s", v->name);
    if (v->cluster_id)
        snprintf(f->id, sizeof f->id, "%" PRIu64, v->cluster_id);
    snprintf(f->cluster_name, sizeof f->cluster_name, "%s", v->cluster);
    snprintf(f->region, sizeof f->region, "%s", v->region);
    f->role = (uint8_t)v->role;
    f->state = v->stale ? FRAG_STALE : v->up ? FRAG_UP : FRAG_DOWN;
    f->badness = (f->state != FRAG_UP ? 2e12 : 0) + (v->disconnected || v->replay_paused ? 1e12 : 0) +
                 (v->has_lag && v->lag.seconds > 0 ? v->lag.seconds : 0);
    return f;
fail:
    frag_unref(&f);
    return NULL;
}

frag_t *fleet_view_cluster_frag(const fleet_t *self, const fleet_cluster_t *c, const node_view_t **members,
                                frag_t *const *member_frags, size_t k)
{
    frag_t *f = frag_new();
    if (!f || !(f->members = calloc(k ? k : 1, sizeof *f->members)) ||
        !(f->upstream = calloc(k ? k : 1, sizeof *f->upstream))) {
        frag_unref(&f);
        return NULL;
    }
    const char *status = view_cluster_status(self, c, members, k);
    const char *name = agg_config_cluster_name(self->cfg, c->id);
    snprintf(f->id, sizeof f->id, "%" PRIu64, c->id);
    snprintf(f->name, sizeof f->name, "%s", name ? name : f->id);
    snprintf(f->primary, sizeof f->primary, "%s", c->primary);
    f->timeline = c->timeline;
    f->split_brain = c->split_brain;
    f->has_owner = c->has_owner;
    snprintf(f->owner, sizeof f->owner, "%s", c->owner);
    f->state = strcmp(status, "critical") == 0 ? FRAG_CRITICAL : strcmp(status, "degraded") == 0 ? FRAG_DEGRADED
                                                                                                 : FRAG_OK;
    f->badness = f->state * 1e12;
    for (size_t i = 0; i < k; i++) {
        const char *up = members[i]->role == PGVIGIL__ROLE__ROLE_REPLICA ? view_upstream(members[i], members, k) : NULL;
        f->members[i] = frag_ref(member_frags[i]);
        snprintf(f->upstream[i], sizeof f->upstream[i], "%s", up ? up : "");
        if (strcmp(members[i]->name, c->primary) == 0)
            snprintf(f->region, sizeof f->region, "%s", members[i]->region);
        if (members[i]->has_lag && members[i]->lag.seconds > 0)
            f->badness = fmax(f->badness, f->state * 1e12 + members[i]->lag.seconds);
    }
    f->member_count = k;
    return f;
}
