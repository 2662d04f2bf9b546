/*
 * cluster.h — the coordination actor: this aggregator's membership lease in
 * Redis, which PostgreSQL clusters it owns (rendezvous hashing over the live
 * members, each acquisition under a fencing epoch), its published view of
 * what it owns, and mutations routed between aggregators.
 *
 * It runs in its own zactor so that Redis latency or an outage never blocks
 * sample processing: the rest of the aggregator reads its decisions from the
 * fence (cluster_fence.h, any thread) and talks to it through a
 * cluster_client_t (one per thread, over inproc). Optionally it pushes events
 * to an inproc endpoint the integrator names (multipart string frames):
 *
 *   "owner"    <cluster id> <epoch> "acquired" <JSON array of the open
 *              alerts the previous owner stored, to take over>
 *   "owner"    <cluster id> <epoch> "renewed"   (still ours, a newer epoch)
 *   "owner"    <cluster id> <epoch> "released"
 *   "state"    "ok"|"degraded"
 *   "mutation" <cluster id> <JSON text>     routed here because we own it
 *
 * Timing: heartbeat every lease_ttl/3 or 500 ms, whichever is shorter
 * (renew the lease, read the members, place every known cluster); a newly
 * observed cluster is placed within ~50 ms; views are published and the
 * fleet read every publish_interval. An aggregator that dies is dropped from
 * the members when its lease runs out (at most lease_ttl after its last
 * renewal), and its clusters are acquired by the others at their next
 * heartbeat: takeover within lease_ttl + 0.5 s.
 */
#ifndef PGVIGIL_CLUSTER_H
#define PGVIGIL_CLUSTER_H

#include <stdint.h>

#include "cluster_config.h"
#include "cluster_fence.h"

typedef struct cluster cluster_t;

/* Start the actor. cfg must be enabled and outlive it; dsn (may be NULL) is
 * the history database holding the epoch floors; events_endpoint may be
 * NULL. Returns NULL on failure (logged). */
cluster_t *cluster_new(const cluster_config_t *cfg, const char *dsn, const char *events_endpoint);
/* Stop: the lease and the published views are withdrawn first, so the
 * others take over at once rather than after lease_ttl. */
void cluster_destroy(cluster_t **self_p);

/* The fence this actor writes (owned by the actor; valid until destroy). */
cluster_fence_t *cluster_fence(cluster_t *self);

/* The inproc endpoint the actor takes requests on (cluster_client.c). */
const char *cluster_requests_endpoint(const cluster_t *self);

/* A sender of requests to the actor, for one thread. */
typedef struct cluster_client cluster_client_t;
cluster_client_t *cluster_client_new(cluster_t *cluster);
void cluster_client_destroy(cluster_client_t **self_p);
/* This aggregator hears from cluster_id (samples arrive): place it. */
int cluster_client_observe(cluster_client_t *self, uint64_t cluster_id);
/* Stop placing cluster_id (gone from the fleet); releases it if owned. */
int cluster_client_forget(cluster_client_t *self, uint64_t cluster_id);
/* The current view (JSON text) of an owned cluster, published to Redis at
 * the next publish_interval so every aggregator can show it. */
int cluster_client_publish(cluster_client_t *self, uint64_t cluster_id, const char *json);
/* A mutation (JSON text) for cluster_id: delivered as a "mutation" event on
 * the owner, here or on another aggregator. Without Redis it is delivered
 * here (fail open). */
int cluster_client_route(cluster_client_t *self, uint64_t cluster_id, const char *json);
/* A mutation (JSON text) for every other live aggregator (a silence, which
 * may match any cluster's alerts): delivered as a "mutation" event with
 * cluster id 0 on each. Without Redis it goes nowhere (each aggregator reads
 * silences from the history database when it starts). */
int cluster_client_broadcast(cluster_client_t *self, const char *json);

#endif
