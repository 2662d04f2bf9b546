/*
 * core_cluster.c — which clusters the core acts for (core_cluster.h).
 */
#include "core_cluster.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

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
        self->events = zsock_new_pull("@" CORE_CLUSTER_EVENTS_ENDPOINT);
        if (!self->client || !self->heard || !self->owned || !self->events) {
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
        if (streq(c, "acquired")) {
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
    if (self->writer && core_cluster_owns(self, cluster_id))
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

void core_cluster_annotate(core_cluster_t *self, snapshot_t *snap)
{
    if (!self->cluster || !json_is_array(snap->clusters))
        return;
    json_t *annotated = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(snap->clusters, i, c) {
        /* a copy: the fleet may share these objects with published snapshots */
        json_t *copy = json_copy(c);
        const char *id = json_string_value(json_object_get(c, "id"));
        char owner[CLUSTER_NAME_MAX + 1] = "", *end = NULL;
        uint64_t cluster_id = id ? strtoull(id, &end, 10) : 0;
        if (id && !*end)
            cluster_owner_of(self->fence, cluster_id, owner, sizeof owner);
        if (copy)
            json_object_set_new(copy, "owner", owner[0] ? json_string(owner) : json_null());
        json_array_append_new(annotated, copy);
    }
    json_decref(snap->clusters);
    snap->clusters = annotated;
}
