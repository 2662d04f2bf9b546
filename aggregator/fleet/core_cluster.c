/*
 * core_cluster.c — which clusters the core acts for (core_cluster.h).
 */
#include "core_cluster.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "clock.h"
#include "cluster_fence.h"
#include "log.h"
#include "store_rows.h"

struct core_cluster {
    cluster_t *cluster;         /* NULL: a lone aggregator */
    cluster_fence_t *fence;
    cluster_client_t *client;
    alerting_t *alerting;
    zsock_t *events;            /* PULL: the actor's events */
    zhashx_t *heard;            /* "<cluster id>" already told to the actor */
    zhashx_t *owned;            /* "<cluster id>" -> (uintptr_t) epoch, from the events */
    bool degraded;              /* Redis unreachable: every cluster is ours, epoch 0 */
    zhashx_t *published;        /* "<cluster id>" -> the view text last handed to the actor */
    json_t *others;             /* alerts other owners published, as last merged: id -> alert */
    unsigned fleet_version;     /* of the fence's fleet when last merged */
    store_writer_t *writer;
    uint64_t dropped_notifications;
};

core_cluster_t *core_cluster_new(cluster_t *cluster, alerting_t *alerting)
{
    core_cluster_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cluster = cluster;
    self->alerting = alerting;
    if (cluster) {
        self->fence = cluster_fence(cluster);
        self->client = cluster_client_new(cluster);
        self->heard = zhashx_new();
        self->owned = zhashx_new();
        self->published = zhashx_new();
        self->others = json_object();
        self->events = zsock_new_pull("@" CORE_CLUSTER_EVENTS_ENDPOINT);
        if (self->published)
            zhashx_set_destructor(self->published, (zhashx_destructor_fn *)zstr_free);
        if (!self->client || !self->heard || !self->owned || !self->events || !self->published || !self->others) {
            core_cluster_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void core_cluster_destroy(core_cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    core_cluster_t *self = *self_p;
    cluster_client_destroy(&self->client);
    zsock_destroy(&self->events);
    zhashx_destroy(&self->heard);
    zhashx_destroy(&self->owned);
    zhashx_destroy(&self->published);
    json_decref(self->others);
    free(self);
    *self_p = NULL;
}

void core_cluster_set_writer(core_cluster_t *self, store_writer_t *writer)
{
    self->writer = writer;
}

zsock_t *core_cluster_events(core_cluster_t *self)
{
    return self->events;
}

/* Ours, and under which epoch (0 while failing open or alone). */
static bool core_cluster_epoch(core_cluster_t *self, uint64_t cluster_id, uint64_t *epoch)
{
    *epoch = 0;
    if (!self->cluster || self->degraded)
        return true;
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, cluster_id);
    *epoch = (uintptr_t)zhashx_lookup(self->owned, key);
    return *epoch != 0;
}

bool core_cluster_on_event(core_cluster_t *self)
{
    zmsg_t *m = zmsg_recv(self->events);
    char *kind = m ? zmsg_popstr(m) : NULL, *a = m ? zmsg_popstr(m) : NULL, *b = m ? zmsg_popstr(m) : NULL;
    char *c = m ? zmsg_popstr(m) : NULL, *d = m ? zmsg_popstr(m) : NULL;
    bool changed = false;
    if (kind && streq(kind, "owner") && a && b && c) {
        if (streq(c, "renewed")) { /* the same ownership under a newer epoch */
            zhashx_update(self->owned, a, (void *)(uintptr_t)strtoull(b, NULL, 10));
        } else if (streq(c, "acquired")) {
            zhashx_update(self->owned, a, (void *)(uintptr_t)strtoull(b, NULL, 10));
            json_t *alerts = d ? json_loads(d, 0, NULL) : NULL;
            alerting_adopt(self->alerting, alerts);
            json_decref(alerts);
        } else {
            zhashx_delete(self->owned, a);
            if (!self->degraded) /* failing open, we keep evaluating what we had */
                alerting_forget_unowned(self->alerting);
        }
        changed = true;
    } else if (kind && streq(kind, "mutation") && b) {
        json_t *cmd = json_loads(b, 0, NULL), *reply = NULL;
        int status = cmd ? alerting_command(self->alerting, cmd, clock_wall_us(), &reply) : 400;
        log_info("a command routed from another aggregator for cluster %s: HTTP %d", a ? a : "?", status);
        json_decref(reply);
        json_decref(cmd);
        changed = status < 400;
    } else if (kind && streq(kind, "state") && a) {
        bool degraded = streq(a, "degraded");
        if (self->degraded && !degraded)
            alerting_forget_unowned(self->alerting); /* whatever we held while failing open */
        self->degraded = degraded;
        changed = true;
    }
    zstr_free(&kind);
    zstr_free(&a);
    zstr_free(&b);
    zstr_free(&c);
    zstr_free(&d);
    zmsg_destroy(&m);
    return changed;
}

bool core_cluster_heard(core_cluster_t *self, uint64_t cluster_id)
{
    if (!self->cluster)
        return true;
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, cluster_id);
    if (!zhashx_lookup(self->heard, key) && cluster_client_observe(self->client, cluster_id) == 0)
        zhashx_insert(self->heard, key, (void *)1);
    return core_cluster_owns(self, cluster_id);
}

bool core_cluster_owns(core_cluster_t *self, uint64_t cluster_id)
{
    uint64_t epoch;
    return core_cluster_epoch(self, cluster_id, &epoch);
}

bool core_cluster_owns_fn(void *arg, uint64_t cluster_id)
{
    return core_cluster_owns(arg, cluster_id);
}

void core_cluster_rows(void *arg, const fleet_note_t *note)
{
    core_cluster_t *self = arg;
    uint64_t cluster_id = note->node ? note->node->cluster_id : note->event ? note->event->cluster_id : 0;
    if (!self->writer)
        return;
    /* The heir writes the samples too: if the owner dies, nothing between its
     * last write and the take-over is lost; node_samples' key (node,
     * collected_at, sequence) keeps one copy of each. */
    if (core_cluster_owns(self, cluster_id) ||
        (note->kind == FLEET_NOTE_SAMPLE && cluster_is_heir(self->fence, cluster_id)))
        store_rows_observe(self->writer, note);
}

bool core_cluster_may_emit(core_cluster_t *self, json_t *msg)
{
    const char *op = json_string_value(json_object_get(msg, "op"));
    if (!self->cluster || !op || strcmp(op, "notify") != 0)
        return true;
    const char *id_text = json_string_value(json_object_get(msg, "cluster_id"));
    char *end = NULL;
    uint64_t cluster_id = id_text ? strtoull(id_text, &end, 10) : 0;
    uint64_t epoch = 0;
    if (!id_text || *end || !core_cluster_epoch(self, cluster_id, &epoch)) {
        self->dropped_notifications++;
        log_debug("a notification of cluster %s is not ours to send; dropped", id_text ? id_text : "?");
        json_decref(msg);
        return false;
    }
    json_object_set_new(msg, "epoch", json_integer((json_int_t)epoch));
    return true;
}

/* A copy of item with "owner" set (the fleet shares its objects with
 * published snapshots: never modify them). */
static json_t *core_cluster_owned_copy(const json_t *item, const char *owner)
{
    json_t *copy = json_copy((json_t *)item);
    if (copy)
        json_object_set_new(copy, "owner", owner && owner[0] ? json_string(owner) : json_null());
    return copy;
}

static uint64_t core_cluster_id_of(const json_t *item, const char *key)
{
    const char *id = json_string_value(json_object_get(item, key));
    char *end = NULL;
    uint64_t v = id ? strtoull(id, &end, 10) : 0;
    return id && !*end ? v : 0;
}

void core_cluster_publish(core_cluster_t *self, const json_t *alerts)
{
    if (!self->cluster || self->degraded)
        return;
    for (void *e = zhashx_first(self->owned); e; e = zhashx_next(self->owned)) {
        const char *cid = zhashx_cursor(self->owned);
        json_t *mine = json_array();
        size_t i;
        json_t *a;
        json_array_foreach(alerts, i, a) if (streq(json_string_value(json_object_get(a, "cluster_id")) ?: "", cid))
            json_array_append(mine, a);
        json_t *view = json_pack("{s:o}", "alerts", mine);
        char *text = view ? json_dumps(view, JSON_COMPACT) : NULL;
        json_decref(view);
        const char *last = zhashx_lookup(self->published, cid);
        if (text && (!last || strcmp(last, text) != 0) &&
            cluster_client_publish(self->client, strtoull(cid, NULL, 10), text) == 0) {
            zhashx_update(self->published, cid, text);
            text = NULL;
        }
        free(text);
    }
}

static void core_cluster_merge_alerts(core_cluster_t *self, snapshot_t *snap)
{
    json_t *merged = json_array(), *others = json_object(), *fleet = cluster_fence_fleet(self->fence);
    const char *self_name = cluster_fence_name(self->fence);
    size_t i;
    json_t *a;
    json_array_foreach(snap->alerts, i, a) json_array_append_new(merged, core_cluster_owned_copy(a, self_name));
    const char *cid;
    json_t *entry;
    json_object_foreach(fleet, cid, entry) {
        const char *owner = json_string_value(json_object_get(entry, "owner"));
        if (self->degraded || !owner || streq(owner, self_name))
            continue;
        json_array_foreach(json_object_get(json_object_get(entry, "view"), "alerts"), i, a) {
            json_t *copy = core_cluster_owned_copy(a, owner);
            char id[24];
            snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(a, "id")));
            json_object_set(others, id, copy);
            json_array_append_new(merged, copy);
        }
    }
    json_decref(fleet);
    json_decref(snap->alerts);
    snap->alerts = merged;
    json_decref(self->others);
    self->others = others;
}

static void core_cluster_owner_fn(void *arg, uint64_t cluster_id, char *buf, size_t len)
{
    core_cluster_t *self = arg;
    cluster_owner_of(self->fence, cluster_id, buf, len);
}

void core_cluster_owners(core_cluster_t *self, fleet_t *fleet)
{
    if (self->cluster)
        fleet_set_owners(fleet, core_cluster_owner_fn, self);
}

void core_cluster_annotate(core_cluster_t *self, snapshot_t *snap)
{
    if (self->cluster && json_is_array(snap->alerts))
        core_cluster_merge_alerts(self, snap);
}

bool core_cluster_fleet_changed(core_cluster_t *self)
{
    if (!self->cluster)
        return false;
    unsigned v = cluster_fence_fleet_version(self->fence);
    bool changed = v != self->fleet_version;
    self->fleet_version = v;
    return changed;
}

int core_cluster_route(core_cluster_t *self, const json_t *cmd, int status, json_t **body)
{
    if (!self->cluster || status != 404)
        return status;
    char id[24];
    snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(cmd, "id")));
    const json_t *alert = json_object_get(self->others, id);
    const char *owner = json_string_value(json_object_get(alert, "owner"));
    uint64_t cluster_id = core_cluster_id_of(alert, "cluster_id");
    if (!alert || !owner || !cluster_id)
        return status;
    json_t *routed = json_deep_copy(cmd);
    json_object_del(routed, "audit"); /* audited here, where it was asked */
    char *text = routed ? json_dumps(routed, JSON_COMPACT) : NULL;
    json_decref(routed);
    int rc = text ? cluster_client_route(self->client, cluster_id, text) : -1;
    free(text);
    if (rc != 0)
        return status;
    json_decref(*body);
    *body = json_pack("{s:s, s:O}", "routed_to", owner, "alert", alert);
    return 202;
}

void core_cluster_share_silence(core_cluster_t *self, const json_t *cmd, int status, const json_t *body)
{
    const char *what = json_string_value(json_object_get(cmd, "cmd"));
    bool add = what && streq(what, "silence_add") && status == 201;
    bool del = what && streq(what, "silence_delete") && status == 200;
    if (!self->cluster || (!add && !del) || json_integer_value(json_object_get(cmd, "silence_id")))
        return; /* nothing to share, or it came from another aggregator */
    json_t *shared = json_deep_copy(cmd);
    json_object_del(shared, "audit");
    if (add)
        json_object_set(shared, "silence_id", json_object_get(json_object_get(body, "silence"), "id"));
    else
        json_object_set(shared, "silence_id", json_object_get(cmd, "id"));
    char *text = shared ? json_dumps(shared, JSON_COMPACT) : NULL;
    if (text)
        cluster_client_broadcast(self->client, text);
    free(text);
    json_decref(shared);
}
