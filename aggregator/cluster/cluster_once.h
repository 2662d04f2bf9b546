/*
 * cluster_once.h — effects that must happen once across aggregators
 * (a notification for one transition of one alert to one receiver).
 *
 * Before sending, the owner claims the effect: the fence must still let it
 * act (it holds the cluster under this epoch and its lease is live on the
 * monotonic clock), then a Lua script in Redis checks that no newer epoch
 * was handed out for the cluster and records the effect if it is new. A
 * former owner that wakes from a pause is refused by either check; a new
 * owner that takes over finds what the old one already sent and skips it.
 *
 * Claim, deliver, then cluster_once_done(): an owner that dies between the
 * claim and the delivery leaves the claim pending, and the next owner (a
 * newer epoch) takes it over and sends it: at least once across a crash,
 * exactly once across a clean hand-over or a pause.
 *
 * While Redis is unreachable (the fence is degraded) every claim succeeds:
 * fail open, duplicates possible, never silence. A Redis error during the
 * claim also lets the effect through, and is counted.
 *
 * One cluster_once_t per thread (it holds its own Redis connection to the
 * master the cluster actor found; blocking calls bounded by the timeout).
 */
#ifndef PGVIGIL_CLUSTER_ONCE_H
#define PGVIGIL_CLUSTER_ONCE_H

#include <stdint.h>

#include "cluster_config.h"
#include "cluster_fence.h"

typedef enum {
    CLUSTER_ONCE_FENCED = -1, /* not the owner (any more): do nothing */
    CLUSTER_ONCE_DONE = 0,    /* already done by this or another owner */
    CLUSTER_ONCE_GO = 1,      /* do it now */
} cluster_once_result_t;

typedef struct cluster_once cluster_once_t;

/* cfg and fence must outlive the object; a NULL fence (no cluster section)
 * makes every claim CLUSTER_ONCE_GO. */
cluster_once_t *cluster_once_new(const cluster_config_t *cfg, cluster_fence_t *fence);
void cluster_once_destroy(cluster_once_t **self_p);

/* Claim effect what (e.g. "alert/<id>/firing/tier1/webhook-ops", at most
 * 400 bytes) of cluster_id under epoch. */
cluster_once_result_t cluster_once_claim(cluster_once_t *self, uint64_t cluster_id, uint64_t epoch,
                                         const char *what);
/* The claimed effect was delivered (after CLUSTER_ONCE_GO). */
void cluster_once_done(cluster_once_t *self, uint64_t cluster_id, uint64_t epoch, const char *what);

#endif
