/*
 * cluster_actor.h — the coordination actor's state, shared by the two files
 * of the actor only: cluster.c (membership, ownership, epochs, the loop) and
 * cluster_share.c (published views, routed and broadcast mutations). Both
 * run on the actor's thread; nothing here is for other modules.
 */
#ifndef PGVIGIL_CLUSTER_ACTOR_H
#define PGVIGIL_CLUSTER_ACTOR_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster_config.h"
#include "cluster_epoch.h"
#include "cluster_fence.h"
#include "cluster_ops.h"
#include "cluster_redis.h"

typedef struct {
    uint64_t id;
    uint64_t held;   /* epoch held, 0 when not owner */
    uint64_t floor;  /* highest epoch known for it */
    bool observed;   /* heard by this aggregator */
    bool placed;     /* ownership decided since observed */
    json_t *view;
} cluster_entry_t;

typedef struct {
    const cluster_config_t *cfg;
    cluster_fence_t *fence;
    cluster_redis_t *redis;
    cluster_epoch_t *floors;
    zsock_t *pipe, *requests, *events;
    zloop_t *loop;
    zhashx_t *known;              /* "<cluster id>" -> cluster_entry_t */
    char **members;
    size_t member_count;
    char incarnation[40];
    char run_token[CLUSTER_OPS_TOKEN];
    int64_t lease_expiry_us;      /* monotonic; 0: no lease */
    int64_t probation_until_us;   /* after a lapsed lease: stay out until then */
    cluster_state_t state;
    unsigned generation;          /* of the Redis connection last seen */
    bool floors_loaded, pending;
    int64_t floors_retry_us; /* monotonic: the floors are not read again before */
    json_t *open_alerts;          /* read once per placement pass, when something is acquired */
    bool open_alerts_read;
    int watch_fd;
    uint64_t events_dropped;
} cluster_actor_t;

/* cluster.c */
cluster_entry_t *cluster_entry(cluster_actor_t *a, uint64_t id, bool create);
/* Push an event (kind and up to three string frames, NULL-terminated). */
void cluster_event(cluster_actor_t *a, const char *kind, const char *f1, const char *f2, const char *f3);
/* Redis failed: fail open (once), with a line in the log. */
void cluster_lost_redis(cluster_actor_t *a, const char *why);
/* Is members[owner] this aggregator? */
bool cluster_is_self(const cluster_actor_t *a, int owner);

/* cluster_share.c */
/* Timer: publish our views, read everyone's, take our routed mutations. */
int cluster_publish(zloop_t *loop, int timer_id, void *arg);
/* A mutation for the owner of id (here when ours or without Redis). */
void cluster_route(cluster_actor_t *a, uint64_t id, const char *json);
/* A mutation for every other live aggregator. */
void cluster_broadcast(cluster_actor_t *a, const char *json);

#endif
