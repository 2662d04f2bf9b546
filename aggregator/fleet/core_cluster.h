/*
 * core_cluster.h — the core's side of coordination among aggregators
 * (aggregator/cluster/): which clusters this aggregator acts for.
 *
 * Every aggregator hears every cluster (collectors send to all of them) and
 * keeps the fleet current, but only the owner of a cluster evaluates its
 * alerts, escalates them, writes its history and emits its notifications.
 * The core follows ownership from the actor's events, in order, so a
 * cluster is evaluated only once the alerts its previous owner stored have
 * been taken over (nothing announced twice, escalation continues);
 * notifications leave tagged with the owner's fencing epoch, which notify
 * checks again right before sending (cluster_once.h). Without a cluster
 * section every function answers "ours", so a lone aggregator behaves as
 * before. Runs on the core thread only.
 */
#ifndef PGVIGIL_CORE_CLUSTER_H
#define PGVIGIL_CORE_CLUSTER_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "alerting.h"
#include "cluster.h"
#include "fleet.h"
#include "snapshot.h"
#include "store.h"

/* Where the coordination actor pushes its events for the core (cluster.h). */
#define CORE_CLUSTER_EVENTS_ENDPOINT "inproc://pgvigil-core-cluster"

typedef struct core_cluster core_cluster_t;

/* cluster may be NULL (a lone aggregator). Binds
 * CORE_CLUSTER_EVENTS_ENDPOINT when there is a cluster. */
core_cluster_t *core_cluster_new(cluster_t *cluster, alerting_t *alerting);
void core_cluster_destroy(core_cluster_t **self_p);

/* The store writer history rows go through (core thread's). */
void core_cluster_set_writer(core_cluster_t *self, store_writer_t *writer);

/* The socket of the actor's events (NULL for a lone aggregator), and what
 * to do with one: ownership acquired (take over the stored open alerts),
 * released (forget them: the new owner carries on), degraded (own
 * everything heard) or back to coordination. True when alert state changed. */
zsock_t *core_cluster_events(core_cluster_t *self);
bool core_cluster_on_event(core_cluster_t *self);

/* A sample of cluster_id was applied: the coordination actor learns of new
 * clusters. True when this aggregator owns cluster_id. */
bool core_cluster_heard(core_cluster_t *self, uint64_t cluster_id);
bool core_cluster_owns(core_cluster_t *self, uint64_t cluster_id);
/* The same as an alerting_owns_fn (arg: the core_cluster_t). */
bool core_cluster_owns_fn(void *arg, uint64_t cluster_id);

/* A fleet observer: history rows of owned clusters to the store writer
 * (store_rows_observe), others dropped (their owner writes them) except the
 * samples of clusters this aggregator is the heir of (idempotent), so a
 * take-over after a crash loses no sample row. */
void core_cluster_rows(void *arg, const fleet_note_t *note);

/* May this durable message leave for notify? Notifications of clusters
 * this aggregator does not own are dropped (msg freed, false); the others
 * are tagged with "epoch", the fencing epoch they are sent under. */
bool core_cluster_may_emit(core_cluster_t *self, json_t *msg);

/* One fleet from any door. core_cluster_publish() hands this aggregator's
 * alerts of each cluster it owns to the actor, which publishes them in
 * Redis (only what changed). core_cluster_owners() sets each cluster's
 * "owner" in the fleet (before its fragments are rendered);
 * core_cluster_annotate() replaces snap->alerts by this aggregator's alerts
 * plus those the other owners published, each with "owner" (at most a
 * publish interval or two behind). No-ops for a lone aggregator. */
void core_cluster_publish(core_cluster_t *self, const json_t *alerts);
void core_cluster_owners(core_cluster_t *self, fleet_t *fleet);
void core_cluster_annotate(core_cluster_t *self, snapshot_t *snap);
/* True once per change of what the other owners published (then the core
 * publishes a snapshot, so every door shows it). */
bool core_cluster_fleet_changed(core_cluster_t *self);

/* An operator command for an alert this aggregator does not hold: when the
 * alert is one another owner published, the command is routed to that
 * owner (cluster_client_route) and 202 is returned with *body replaced by
 * {"routed_to": owner}; otherwise status and *body are returned as they
 * are. The owner applies it when it arrives (a "mutation" event). */
int core_cluster_route(core_cluster_t *self, const json_t *cmd, int status, json_t **body);
/* A silence added (201, *body {"silence":{...}}) or deleted here is sent to
 * every other aggregator, with its id, since it may match any cluster. */
void core_cluster_share_silence(core_cluster_t *self, const json_t *cmd, int status, const json_t *body);

#endif
