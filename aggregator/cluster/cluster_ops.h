/*
 * cluster_ops.h — the coordination data model in Redis, one function per
 * operation, over a cluster_redis_t. No state of its own: the cluster actor
 * decides when to call what.
 *
 * Keys (all under "pgvigil:"):
 *   member:<name>          lease: this aggregator's incarnation, PX lease_ttl
 *   epoch:<cluster id>     fencing epoch counter: INCR on each acquisition
 *   run                    a random token set once per Redis data set: when
 *                          it changes or vanishes, Redis lost its data
 *   view:<name>            hash: cluster id -> {"epoch","view"} this owner
 *                          publishes, PX 3 x lease_ttl
 *   inbox:<name>           list: mutations routed to this owner
 *   once:<cluster>:<what>  an effect done once (notification transition)
 *
 * Every function returns a negative value when Redis failed (the connection
 * is then closed, see cluster_redis_argv).
 */
#ifndef PGVIGIL_CLUSTER_OPS_H
#define PGVIGIL_CLUSTER_OPS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster_redis.h"

#define CLUSTER_KEY_PREFIX "pgvigil:"

/* SET member:<name> incarnation PX ttl_ms. 0 or -1. */
int cluster_ops_renew(cluster_redis_t *r, const char *name, const char *incarnation, uint64_t ttl_ms);
/* DEL member:<name> if it still holds incarnation (a clean stop). */
int cluster_ops_leave(cluster_redis_t *r, const char *name, const char *incarnation);
/* Names holding a lease, sorted; free with cluster_ops_free_names. */
int cluster_ops_members(cluster_redis_t *r, char ***names, size_t *count);
void cluster_ops_free_names(char **names, size_t count);

/* INCR epoch:<cluster>, raised above floor first if needed. 0 or -1. */
int cluster_ops_acquire(cluster_redis_t *r, uint64_t cluster_id, uint64_t floor, uint64_t *epoch);
/* Raise epoch:<cluster> to at least epoch. */
int cluster_ops_raise(cluster_redis_t *r, uint64_t cluster_id, uint64_t epoch);
/* The current epoch:<cluster> of n clusters in one round trip (MGET; 0
 * when missing) into epochs[]. 0 or -1. */
#define CLUSTER_OPS_EPOCHS_MAX 512
int cluster_ops_epochs(cluster_redis_t *r, const uint64_t *cluster_ids, size_t n, uint64_t *epochs);

/* Compare the run token with *known (size CLUSTER_OPS_TOKEN); sets it when
 * missing. Returns 1 when Redis lost its data since *known was seen (known
 * non-empty and different), 0 otherwise, -1 on error; *known is updated. */
#define CLUSTER_OPS_TOKEN 40
int cluster_ops_run_token(cluster_redis_t *r, char *known);

/* Replace this owner's published views with views (object: cluster id ->
 * any JSON), expiring after ttl_ms without refresh. */
int cluster_ops_publish(cluster_redis_t *r, const char *name, json_t *views, uint64_t ttl_ms);
/* Every owner's views: {"<cluster>": {"owner","epoch","view"}}; a newer
 * epoch wins when two owners publish one cluster. */
int cluster_ops_fleet(cluster_redis_t *r, json_t **out);

/* Append a mutation for owner (kept 1 minute if nobody takes it). */
int cluster_ops_inbox_push(cluster_redis_t *r, const char *owner, const char *text);
/* Pop at most max mutations of name into out (array of strings). */
int cluster_ops_inbox_pop(cluster_redis_t *r, const char *name, size_t max, json_t *out);

/* Claim effect (cluster, what) under epoch: 1 do it, 0 already done (or
 * claimed by a newer epoch), -2 fenced (a newer epoch exists), -1 Redis
 * failed. A claim still pending from an older epoch is taken over (1). */
int cluster_ops_once(cluster_redis_t *r, uint64_t cluster_id, uint64_t epoch, const char *what,
                     uint64_t keep_ms);
/* The claimed effect was delivered. */
int cluster_ops_once_done(cluster_redis_t *r, uint64_t cluster_id, uint64_t epoch, const char *what,
                          uint64_t keep_ms);

#endif
