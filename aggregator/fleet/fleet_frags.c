/*
 * fleet_frags.c — the fleet's views for a snapshot at the cost of what
 * changed (see fleet_frags.h). Rendering itself is in fleet_view.c.
 */
#include "fleet_frags.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_internal.h"

struct fleet_frag_node {
    frag_t *frag;
    uint64_t version;                  /* of the view frag was rendered from */
    struct fleet_frag_cluster *member_of;
    uint64_t cluster_id;
};

struct fleet_frag_cluster {
    frag_t *frag;
    bool dirty;
    char primary[FLEET_NAME_MAX];
    uint32_t timeline;
    bool split_brain;
    char owner[FLEET_NAME_MAX];
    fleet_node_t **members; /* by name */
    size_t count, cap;
};

struct fleet_frags {
    fleet_t *fleet;
    fleet_node_t **nodes; /* by name */
    size_t node_count;
    fleet_cluster_t **clusters; /* by id */
    size_t cluster_count;
};

fleet_frags_t *fleet_frags_new(fleet_t *fleet)
{
    fleet_frags_t *self = calloc(1, sizeof *self);
    size_t families;
    fleet_view_families(&families); /* built here, before any reader renders */
    if (self)
        self->fleet = fleet;
    return self;
}

void fleet_frags_destroy(fleet_frags_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fleet_frags_t *self = *self_p;
    for (fleet_node_t *n = zhashx_first(self->fleet->nodes); n; n = zhashx_next(self->fleet->nodes)) {
        if (n->frag)
            frag_unref(&n->frag->frag);
        free(n->frag);
        n->frag = NULL;
    }
    for (fleet_cluster_t *c = zhashx_first(self->fleet->clusters); c; c = zhashx_next(self->fleet->clusters)) {
        if (c->frag) {
            frag_unref(&c->frag->frag);
            free(c->frag->members);
        }
        free(c->frag);
        c->frag = NULL;
    }
    free(self->nodes);
    free(self->clusters);
    free(self);
    *self_p = NULL;
}

static int frags_by_name(const void *a, const void *b)
{
    return strcmp((*(fleet_node_t *const *)a)->view.name, (*(fleet_node_t *const *)b)->view.name);
}

static int frags_by_id(const void *a, const void *b)
{
    uint64_t x = (*(fleet_cluster_t *const *)a)->id, y = (*(fleet_cluster_t *const *)b)->id;
    return x < y ? -1 : x > y;
}

/* Sort again when nodes or clusters appeared (they are never removed). */
static int frags_orders(fleet_frags_t *self)
{
    fleet_t *fl = self->fleet;
    if (fl->count != self->node_count) {
        size_t n = fl->count;
        fleet_node_t **arr = realloc(self->nodes, (n ? n : 1) * sizeof *arr);
        if (!arr)
            return -1;
        memcpy(arr, fl->all, n * sizeof *arr);
        qsort(arr, n, sizeof *arr, frags_by_name);
        self->nodes = arr;
        self->node_count = n;
    }
    if (zhashx_size(fl->clusters) != self->cluster_count) {
        size_t n = zhashx_size(fl->clusters), i = 0;
        fleet_cluster_t **arr = realloc(self->clusters, (n ? n : 1) * sizeof *arr);
        if (!arr)
            return -1;
        for (fleet_cluster_t *x = zhashx_first(fl->clusters); x; x = zhashx_next(fl->clusters))
            arr[i++] = x;
        qsort(arr, n, sizeof *arr, frags_by_id);
        self->clusters = arr;
        self->cluster_count = n;
    }
    return 0;
}

static struct fleet_frag_cluster *frags_cluster_cache(fleet_cluster_t *c)
{
    if (!c->frag)
        c->frag = calloc(1, sizeof *c->frag);
    return c->frag;
}

/* Move node n from the cluster it was listed in to cluster_id's. */
static void frags_move(fleet_frags_t *self, fleet_node_t *n, struct fleet_frag_node *fn)
{
    struct fleet_frag_cluster *old = fn->member_of;
    for (size_t i = 0; old && i < old->count; i++)
        if (old->members[i] == n) {
            memmove(&old->members[i], &old->members[i + 1], (old->count - i - 1) * sizeof *old->members);
            old->count--;
            old->dirty = true;
            break;
        }
    fn->member_of = NULL;
    fn->cluster_id = n->view.cluster_id;
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, n->view.cluster_id);
    fleet_cluster_t *c = n->view.cluster_id ? zhashx_lookup(self->fleet->clusters, key) : NULL;
    struct fleet_frag_cluster *to = c ? frags_cluster_cache(c) : NULL;
    if (!to || (to->count == to->cap && !(to->members = realloc(to->members, (to->cap = to->cap * 2 + 4) *
                                                                                 sizeof *to->members))))
        return;
    size_t at = 0;
    while (at < to->count && strcmp(to->members[at]->view.name, n->view.name) < 0)
        at++;
    memmove(&to->members[at + 1], &to->members[at], (to->count - at) * sizeof *to->members);
    to->members[at] = n;
    to->count++;
    to->dirty = true;
    fn->member_of = to;
}

/* Render again the nodes whose view changed; mark their clusters. */
static size_t frags_nodes(fleet_frags_t *self)
{
    size_t rendered = 0;
    for (size_t i = 0; i < self->node_count; i++) {
        fleet_node_t *n = self->nodes[i];
        if (!n->frag && !(n->frag = calloc(1, sizeof *n->frag)))
            continue;
        struct fleet_frag_node *fn = n->frag;
        if (fn->frag && fn->version == n->view.version)
            continue;
        frag_t *f = fleet_view_node_frag(&n->view, n->shared);
        if (!f)
            continue; /* out of memory: the old fragment stands */
        frag_unref(&fn->frag);
        fn->frag = f;
        fn->version = n->view.version;
        if (fn->cluster_id != n->view.cluster_id || (n->view.cluster_id && !fn->member_of))
            frags_move(self, n, fn);
        else if (fn->member_of)
            fn->member_of->dirty = true;
        rendered++;
    }
    return rendered;
}

/* Render again the marked clusters and those whose own state changed. */
static size_t frags_clusters(fleet_frags_t *self)
{
    size_t rendered = 0;
    const node_view_t **views = NULL;
    frag_t **member_frags = NULL;
    size_t views_cap = 0;
    for (size_t i = 0; i < self->cluster_count; i++) {
        fleet_cluster_t *c = self->clusters[i];
        struct fleet_frag_cluster *cc = frags_cluster_cache(c);
        if (!cc)
            continue;
        if (cc->frag && !cc->dirty && cc->timeline == c->timeline && cc->split_brain == c->split_brain &&
            strcmp(cc->primary, c->primary) == 0 && strcmp(cc->owner, c->owner) == 0)
            continue;
        if (cc->count > views_cap) {
            const node_view_t **grown = realloc(views, cc->count * sizeof *views);
            if (grown)
                views = grown;
            frag_t **grown_frags = grown ? realloc(member_frags, cc->count * sizeof *member_frags) : NULL;
            if (!grown_frags)
                continue;
            member_frags = grown_frags;
            views_cap = cc->count;
        }
        for (size_t k = 0; k < cc->count; k++) {
            views[k] = &cc->members[k]->view;
            member_frags[k] = cc->members[k]->frag->frag;
        }
        frag_t *f = fleet_view_cluster_frag(self->fleet, c, views, member_frags, cc->count);
        if (!f)
            continue;
        frag_unref(&cc->frag);
        cc->frag = f;
        cc->dirty = false;
        cc->timeline = c->timeline;
        cc->split_brain = c->split_brain;
        snprintf(cc->primary, sizeof cc->primary, "%s", c->primary);
        snprintf(cc->owner, sizeof cc->owner, "%s", c->owner);
        rendered++;
    }
    free(views);
    free(member_frags);
    return rendered;
}

static json_t *frags_events(const fleet_t *fl)
{
    json_t *events = json_array();
    for (size_t k = 0; events && k < fl->event_count; k++) {
        size_t idx = (fl->event_next + FLEET_EVENTS_MAX - 1 - k) % FLEET_EVENTS_MAX;
        json_array_append(events, fl->events[idx]);
    }
    return events;
}

/* The sets (one reference per fragment) and the health counts. */
static int frags_sets(fleet_frags_t *self, fleet_frags_view_t *out)
{
    size_t families;
    const char *const *headers = fleet_view_families(&families);
    size_t nn = 0, nc = 0;
    out->nodes = frag_set_new(self->node_count);
    out->clusters = frag_set_new(self->cluster_count);
    if (!out->nodes || !out->clusters)
        return -1;
    out->nodes->family_headers = headers;
    out->nodes->families = families;
    out->status = self->node_count ? "ok" : "empty";
    for (size_t i = 0; i < self->node_count; i++) {
        const node_view_t *v = &self->nodes[i]->view;
        if (self->nodes[i]->frag && self->nodes[i]->frag->frag)
            out->nodes->items[nn++] = frag_ref(self->nodes[i]->frag->frag);
        out->nodes_stale += v->stale;
        out->nodes_up += v->up && !v->stale;
        out->nodes_down += !v->up && !v->stale;
    }
    for (size_t i = 0; i < self->cluster_count; i++) {
        struct fleet_frag_cluster *cc = self->clusters[i]->frag;
        if (!cc || !cc->frag)
            continue;
        out->clusters->items[nc++] = frag_ref(cc->frag);
        if (cc->frag->state == FRAG_CRITICAL)
            out->status = "critical";
        else if (cc->frag->state == FRAG_DEGRADED && strcmp(out->status, "critical") != 0)
            out->status = "degraded";
    }
    out->nodes->count = nn;
    out->clusters->count = nc;
    out->node_count = (uint32_t)self->node_count;
    out->cluster_count = (uint32_t)self->cluster_count;
    return 0;
}

int fleet_frags_publish(fleet_frags_t *self, fleet_frags_view_t *out)
{
    memset(out, 0, sizeof *out);
    if (frags_orders(self) != 0)
        return -1;
    out->nodes_rendered = frags_nodes(self);
    out->clusters_rendered = frags_clusters(self);
    out->events = frags_events(self->fleet);
    if (!out->events || frags_sets(self, out) != 0) {
        frag_set_unref(&out->nodes);
        frag_set_unref(&out->clusters);
        json_decref(out->events);
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}
