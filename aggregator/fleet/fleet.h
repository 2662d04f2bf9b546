/*
 * fleet.h — the fleet as the core actor knows it: clusters (keyed by system
 * identifier) of nodes (keyed by name). Each node has a read-only node view
 * (nodeview.h) that the fleet computes once per sample and once per tick;
 * every reader (alerting, the JSON and Prometheus views, history rows) reads
 * that view, so they never disagree.
 *
 * Observers: modules that act on changes (the store writes rows) register a
 * callback and receive notes — a sample was applied, a replica's lag was
 * measured, a node's status changed, an event was detected (failover, split
 * brain, replica disconnected, replay paused, inactive slot retaining WAL,
 * node down/up/stale, collector restart; detectors in fleet_events.c).
 *
 * Owned and used by the core thread only.
 */
#ifndef PGVIGIL_FLEET_H
#define PGVIGIL_FLEET_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agg_config.h"
#include "lag.h"
#include "nodeview.h"
#include "pgvigil.pb-c.h"

#define FLEET_NAME_MAX NODE_VIEW_NAME_MAX
#define FLEET_EVENTS_MAX 1000
#define FLEET_OBSERVERS_MAX 4

typedef struct fleet fleet_t;

fleet_t *fleet_new(const agg_config_t *cfg);
void fleet_destroy(fleet_t **self_p);
/* A new configuration (SIGHUP): display names, staleness and event limits
 * follow it from now on; the fleet's state is kept. cfg must outlive it. */
void fleet_set_config(fleet_t *self, const agg_config_t *cfg);

/* ---- observers ---- */

typedef enum { FLEET_NOTE_SAMPLE, FLEET_NOTE_LAG, FLEET_NOTE_STATUS, FLEET_NOTE_EVENT } fleet_note_kind_t;

typedef struct {
    uint64_t cluster_id;
    const char *node; /* NULL: the cluster's */
    const char *kind, *severity, *message;
} fleet_event_t;

typedef struct {
    fleet_note_kind_t kind;
    const node_view_t *node;       /* NULL for an event on a cluster */
    const Pgvigil__Sample *sample; /* SAMPLE: the sample just applied */
    /* SAMPLE: received at; LAG: the sample's time on the aggregator clock;
     * STATUS: the transition; EVENT: detected at (all aggregator clock). */
    int64_t at_us;
    const lag_result_t *lag;    /* LAG: the lag at at_us (the view's may have moved on) */
    const char *state, *reason; /* STATUS: "up"/"down"/"stale", reason or NULL */
    const fleet_event_t *event; /* EVENT */
} fleet_note_t;

typedef void(fleet_observer_fn)(void *arg, const fleet_note_t *note);

/* Register (fn, arg); -1 when FLEET_OBSERVERS_MAX are registered. */
int fleet_observe(fleet_t *self, fleet_observer_fn *fn, void *arg);
void fleet_unobserve(fleet_t *self, fleet_observer_fn *fn, void *arg);

/* ---- changes ---- */

typedef struct {
    bool collector_restarted; /* the collector process changed since the last sample */
    bool backup_verified;     /* the sample carries a verification not seen before */
    const char *fast_primary; /* ask this primary for fast rounds (FLEET_FAST_*); valid until the next call */
} fleet_applied_t;

/* Take ownership of a validated sample received at received_at_us
 * (aggregator clock). Returns true if the fleet changed; *out (may be NULL)
 * says what else happened. */
bool fleet_apply(fleet_t *self, Pgvigil__Sample *s, int64_t received_at_us, fleet_applied_t *out);

/* Ingest coalesced count samples of node that followed the last one the
 * fleet took (ingest_queue.h): the next sample's sequence skips them, and
 * that is not a gap. Call before fleet_apply of the sample that replaced
 * them. */
void fleet_superseded(fleet_t *self, const char *node, uint32_t count);

/* Time passed: nodes silent for stale_intervals of their interval become
 * stale, split brains resolve, values that move with the clock (a paused
 * replica's lag, RPO, backup age) are recomputed. A tick judges at most
 * FLEET_TICK_NODES nodes, the next slice each time, so its cost is bounded
 * whatever the fleet's size: up to that many nodes every node is judged at
 * every tick; at 20,000 nodes and a tick every 100 ms, each node every
 * 500 ms (a sample judges its node anyway). True if anything changed. */
#define FLEET_TICK_NODES 4096
bool fleet_tick(fleet_t *self, int64_t now_us);

/* Diagnostics counted count regressed statements on node. */
void fleet_set_regressions(fleet_t *self, const char *node, unsigned count, int64_t now_us);

/* ---- readers ---- */

const node_view_t *fleet_node_view(const fleet_t *self, const char *node);
/* Every node view, in no particular order (one iteration at a time). */
/* Several aggregators: each cluster's owner, shown as "owner" in its view
 * (null when owner_of leaves buf empty). Called per publish; a cluster
 * whose owner changed is rendered again, the others cost a lookup. */
typedef void (*fleet_owner_fn)(void *arg, uint64_t cluster_id, char *buf, size_t len);
void fleet_set_owners(fleet_t *self, fleet_owner_fn owner_of, void *arg);

/* Every node, in the order they appeared (nodes are never removed). */
size_t fleet_node_count(const fleet_t *self);
const node_view_t *fleet_node_at(const fleet_t *self, size_t i);

/* Replication lag of a replica at now_us rather than at its last sample,
 * when its replay position cannot be moving: replay paused, WAL receiver
 * not streaming, or replay stuck since the previous sample while behind.
 * Its position stays put until its next sample says otherwise, so once the
 * primary has written past it the lag grows with the clock. False (out
 * untouched) when not applicable. */
bool fleet_lag_now(const fleet_t *self, const node_view_t *v, int64_t now_us, lag_result_t *out);
/* The seconds of fleet_lag_now(); NAN when not applicable or 0. */
double fleet_paused_lag_now(const fleet_t *self, const node_view_t *v, int64_t now_us);

/* Past the primary's newest sample its position is extrapolated: for a
 * replica whose lag moves with the clock (paused, cut off, stuck) that is
 * the error in its bytes, largest while the lag is young. For the first
 * FLEET_FAST_EPISODE_US of such a spell, at most every FLEET_FAST_RENEW_US
 * per cluster, fleet_apply names the primary (fleet_applied_t.fast_primary)
 * to ask its collector for rounds at every watch tick
 * (Command.fast_rounds_ms = FLEET_FAST_ROUNDS_MS). */
#define FLEET_FAST_EPISODE_US (30LL * 1000000)
#define FLEET_FAST_RENEW_US (2LL * 1000000)
#define FLEET_FAST_ROUNDS_MS 5000

/* Build the JSON views (shapes in snapshot.h): clusters array, nodes object,
 * events array (newest first), Prometheus text, and the health counts. */
typedef struct {
    json_t *clusters, *nodes, *events;
    char *metrics_text;
    const char *status;
    uint32_t cluster_count, node_count, nodes_up, nodes_down, nodes_stale;
} fleet_view_t;
int fleet_view(fleet_t *self, int64_t now_us, fleet_view_t *out);

#endif
