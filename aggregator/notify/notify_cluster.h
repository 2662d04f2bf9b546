/*
 * notify_cluster.h — notifications sent once among several aggregators.
 *
 * Right before a notification is queued for delivery, the notify actor
 * claims it (cluster_once.h): the owner that emitted it must still own the
 * cluster under the epoch the core tagged it with, its lease must be live,
 * and no aggregator may have sent the same transition of the same alert to
 * the same receiver. A claim refused is not queued and not stored (the
 * aggregator that owns the cluster stores and sends its own). After a
 * successful delivery the claim is marked done, so a later owner does not
 * send it again. Runs on the notify thread; a lone aggregator (no cluster
 * section) claims nothing.
 */
#ifndef PGVIGIL_NOTIFY_CLUSTER_H
#define PGVIGIL_NOTIFY_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster_config.h"
#include "cluster_fence.h"

typedef struct notify_cluster notify_cluster_t;

/* fence NULL: a lone aggregator (every claim succeeds, nothing kept). */
notify_cluster_t *notify_cluster_new(const cluster_config_t *cfg, cluster_fence_t *fence);
void notify_cluster_destroy(notify_cluster_t **self_p);

/* Claim the "notify" op msg (its "cluster_id", "epoch", "alert_id",
 * "kind", "receiver" and payload's alert severity and tier). True: queue
 * and deliver it; false: drop it. */
bool notify_cluster_claim(notify_cluster_t *self, const json_t *msg);
/* The notification with this delivery id was delivered. */
void notify_cluster_delivered(notify_cluster_t *self, uint64_t id);

#endif
