/*
 * nodeview.h — one node as every reader sees it: identity, role, state,
 * replication lag and the catalogue's values (metric.h) with their known
 * bits, computed by the fleet once per sample and once per timer tick for
 * what moves with the clock (a paused replica's lag, RPO, backup age).
 *
 * Owner: the fleet (fleet.c) writes a node's view on the core thread; every
 * other module (alerting, the JSON and Prometheus views, the store observer)
 * reads it through a const pointer and never keeps it past the call that
 * handed it out. `version` increases whenever anything in the view changed,
 * so a reader can cache what it renders from a view (a JSON fragment, a
 * Prometheus fragment) and rebuild it only when the version moved.
 */
#ifndef PGVIGIL_NODEVIEW_H
#define PGVIGIL_NODEVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "lag.h"
#include "metric.h"
#include "pairing.h"
#include "pgvigil.pb-c.h"

#define NODE_VIEW_NAME_MAX 64

typedef struct node_view {
    char name[NODE_VIEW_NAME_MAX], region[NODE_VIEW_NAME_MAX];
    char cluster[NODE_VIEW_NAME_MAX]; /* the cluster's display name, or its system identifier */
    uint64_t cluster_id; /* 0 until the node has been seen up */
    Pgvigil__Role role;
    bool up, stale, seen;
    uint32_t timeline, interval_ms, server_version;
    int64_t last_seen_us, collected_at_us;
    int64_t clock_offset_us; /* collector clock minus aggregator clock (lag.h's window) */
    int64_t clock_offset_recent_us; /* the same over the last few samples */
    uint64_t clock_steps;           /* clock steps followed (lag.h) */
    uint64_t received, gaps, duplicates, restarts;
    /* Replication, replicas only. lag is final: on a replica that cannot be
     * replaying (paused, not streaming, stuck while behind) it is the lag at
     * the current time, growing with the clock between samples (fleet.c,
     * one place). */
    bool has_lag, replay_paused, disconnected;
    lag_result_t lag;
    /* lag moves with the clock: the instant it is for (lag_at_us, wall) and
     * the primary's write rate past its newest sample (bytes/s), so a reader
     * moves it to its own instant (snapshot_lag_to) */
    bool lag_moving;
    int64_t lag_at_us;
    double lag_rate_bps;
    double primary_replay_lag_s; /* NAN when unknown */
    pairing_how_t paired_by;     /* how the primary's row for this replica was found */
    bool split_brain;            /* the node's cluster has two primaries accepting writes */
    char wal_status[32];
    unsigned query_regressions;  /* fed by diagnostics */
    const Pgvigil__Sample *latest; /* read-only, owned by the fleet */
    /* The catalogue's values, indexed by metric id. */
    double value[METRIC_MAX];
    bool known[METRIC_MAX];
    uint64_t version;
} node_view_t;

/* "up", "down" or "stale". */
const char *node_view_state(const node_view_t *v);
/* Value of metric id into *out; false when unknown. */
bool node_view_value(const node_view_t *v, int id, double *out);

#endif
