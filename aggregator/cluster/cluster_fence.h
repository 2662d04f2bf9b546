/*
 * cluster_fence.h — what this aggregator may do, readable from any thread:
 * the clusters it owns and under which epoch, its membership lease, whether
 * Redis is reachable, and the whole fleet as the owners published it.
 *
 * The cluster actor (cluster.h) is the only writer. Readers are the core
 * (evaluate only what it owns), notify and store (fence every effect that
 * must happen once), and HTTP (owner, readiness, metrics). A short mutex
 * guards the state: reads are a hash lookup, made once per effect or per
 * cluster evaluation, never per byte of a sample.
 *
 * A NULL fence means "no cluster section": a lone aggregator owns everything
 * and every function answers accordingly, so callers need no special case.
 *
 * Fencing rule (cluster_may_act): an effect tagged with (cluster, epoch) may
 * happen only if this aggregator still holds the cluster under that epoch AND
 * its membership lease, as last renewed, has not run out on the monotonic
 * clock. The lease check is what stops an owner that was paused (SIGSTOP, a
 * long GC-like stall, a VM freeze) past its lease: when it wakes, its threads
 * may run before its heartbeat notices, and the clock says no. While Redis is
 * unreachable the aggregator fails open: it owns everything it hears, under
 * epoch 0, and may act on it (duplicates possible, never silence).
 */
#ifndef PGVIGIL_CLUSTER_FENCE_H
#define PGVIGIL_CLUSTER_FENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cluster_fence cluster_fence_t;

typedef enum {
    CLUSTER_STATE_STARTING = 0, /* Redis not asked yet: owns nothing */
    CLUSTER_STATE_OK,           /* coordinated through Redis */
    CLUSTER_STATE_DEGRADED,     /* Redis unreachable: owner of everything it hears */
} cluster_state_t;

/* self_name is this aggregator's cluster.name (copied). */
cluster_fence_t *cluster_fence_new(const char *self_name);
void cluster_fence_destroy(cluster_fence_t **self_p);

/* --- readers (any thread) --- */

/* May this aggregator perform an effect for cluster_id tagged with epoch? */
bool cluster_may_act(cluster_fence_t *f, uint64_t cluster_id, uint64_t epoch);
/* Does this aggregator own cluster_id now? *epoch (may be NULL) gets the
 * epoch to tag effects with (0 while failing open or without a fence). */
bool cluster_owns(cluster_fence_t *f, uint64_t cluster_id, uint64_t *epoch);
/* The owner's name into buf (this aggregator's own name when it owns it or
 * fails open; "" without a fence or members). */
void cluster_owner_of(cluster_fence_t *f, uint64_t cluster_id, char *buf, size_t buflen);
/* Is this aggregator the heir of cluster_id (owner once the owner is gone)? */
bool cluster_is_heir(cluster_fence_t *f, uint64_t cluster_id);
cluster_state_t cluster_fence_state(cluster_fence_t *f);
/* This aggregator's cluster.name ("" without a fence). */
const char *cluster_fence_name(const cluster_fence_t *f);
const char *cluster_state_name(cluster_state_t state);
/* Every aggregator's published clusters: {"<cluster id>": {"owner": name,
 * "epoch": N, "view": <the owner's JSON>}}. A new reference; never NULL. */
json_t *cluster_fence_fleet(cluster_fence_t *f);
/* Increases by one whenever the published fleet read from Redis changed. */
unsigned cluster_fence_fleet_version(cluster_fence_t *f);
/* Prometheus text (gauges and counters of coordination), malloc'd; NULL on
 * out of memory. Empty string without a fence. */
char *cluster_fence_metrics(cluster_fence_t *f);
/* The master a fencing client should use ("host:port") and its generation. */
unsigned cluster_fence_master(cluster_fence_t *f, char *buf, size_t buflen);
/* Count an effect refused by fencing or recognised as already done. */
void cluster_fence_count_refused(cluster_fence_t *f, bool fenced);

/* --- writer (the cluster actor) --- */

void cluster_fence_set_state(cluster_fence_t *f, cluster_state_t state);
void cluster_fence_set_lease(cluster_fence_t *f, int64_t expiry_mono_us);
void cluster_fence_acquire(cluster_fence_t *f, uint64_t cluster_id, uint64_t epoch);
void cluster_fence_release(cluster_fence_t *f, uint64_t cluster_id);
/* Release everything; returns how many were held. */
size_t cluster_fence_release_all(cluster_fence_t *f);
/* Copy the live member names (sorted or not). */
void cluster_fence_set_members(cluster_fence_t *f, const char *const *names, size_t count);
void cluster_fence_set_master(cluster_fence_t *f, const char *hostport);
/* Take ownership of fleet (an object as cluster_fence_fleet returns). */
void cluster_fence_set_fleet(cluster_fence_t *f, json_t *fleet);

#endif
