/*
 * cluster_share.c — what aggregators share through Redis besides ownership
 * (cluster.h): each owner's published views of its clusters, read back as
 * the whole fleet into the fence; mutations routed to a cluster's owner or
 * broadcast to every aggregator, through a list per member. Runs on the
 * coordination actor's thread (cluster_actor.h).
 */
#include "cluster_actor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_hrw.h"
#include "log.h"

#define CLUSTER_INBOX_BATCH 100

/* This aggregator's views of what it owns: {"<id>": {"epoch", "view"}}.
 * Failing open, it is every view it has, under epoch 0. */
static json_t *cluster_own_views(cluster_actor_t *a)
{
    json_t *views = json_object();
    for (cluster_entry_t *e = zhashx_first(a->known); views && e; e = zhashx_next(a->known)) {
        bool mine = e->held || a->state == CLUSTER_STATE_DEGRADED;
        if (mine && e->view)
            json_object_set_new(views, (const char *)zhashx_cursor(a->known),
                                json_pack("{s:I, s:O}", "epoch", (json_int_t)e->held, "view", e->view));
    }
    return views;
}

static void cluster_deliver(cluster_actor_t *a, const char *text)
{
    json_t *m = json_loads(text, 0, NULL);
    json_t *id = json_object_get(m, "cluster");
    json_t *body = json_object_get(m, "mutation");
    if (json_is_string(id) && body) {
        char *b = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (b)
            cluster_event(a, "mutation", json_string_value(id), b, NULL);
        free(b);
    }
    json_decref(m);
}

/* Publish our views, read everyone's, take our routed mutations. */
int cluster_publish(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    cluster_actor_t *a = arg;
    json_t *views = cluster_own_views(a);
    if (!views)
        return 0;
    if (a->state != CLUSTER_STATE_OK) {
        const char *id;
        json_t *v;
        json_object_foreach(views, id, v) json_object_set_new(v, "owner", json_string(a->cfg->name));
        cluster_fence_set_fleet(a->fence, views);
        return 0;
    }
    json_t *fleet = NULL, *inbox = json_array();
    if (cluster_ops_publish(a->redis, a->cfg->name, views, a->cfg->lease_ttl_ms * 3) != 0 ||
        cluster_ops_fleet(a->redis, &fleet) != 0 ||
        (inbox && cluster_ops_inbox_pop(a->redis, a->cfg->name, CLUSTER_INBOX_BATCH, inbox) < 0)) {
        cluster_lost_redis(a, "the Redis master stopped answering");
    } else {
        cluster_fence_set_fleet(a->fence, fleet);
        fleet = NULL;
        size_t i;
        json_t *m;
        json_array_foreach(inbox, i, m) cluster_deliver(a, json_string_value(m));
    }
    json_decref(views);
    json_decref(fleet);
    json_decref(inbox);
    return 0;
}

void cluster_route(cluster_actor_t *a, uint64_t id, const char *json)
{
    char cid[24];
    snprintf(cid, sizeof cid, "%" PRIu64, id);
    json_t *body = json_loads(json, 0, NULL);
    json_t *m = body ? json_pack("{s:s, s:o}", "cluster", cid, "mutation", body) : NULL;
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!text) {
        log_warning("cluster: a mutation for cluster %s is not valid JSON; dropped", cid);
        return;
    }
    int owner = cluster_hrw_owner((const char *const *)a->members, a->member_count, id);
    if (a->state != CLUSTER_STATE_OK || owner < 0 || cluster_is_self(a, owner) ||
        cluster_ops_inbox_push(a->redis, a->members[owner], text) != 0)
        cluster_deliver(a, text); /* ours, or fail open: act on it here */
    free(text);
}

void cluster_broadcast(cluster_actor_t *a, const char *json)
{
    json_t *body = json_loads(json, 0, NULL);
    json_t *m = body ? json_pack("{s:s, s:o}", "cluster", "0", "mutation", body) : NULL;
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    for (size_t i = 0; text && a->state == CLUSTER_STATE_OK && i < a->member_count; i++)
        if (!cluster_is_self(a, (int)i) && cluster_ops_inbox_push(a->redis, a->members[i], text) != 0) {
            cluster_lost_redis(a, "the Redis master stopped answering");
            break;
        }
    free(text);
}
