/*
 * fleet_internal.h — the fleet's state, shared by fleet.c (updates) and
 * fleet_view.c (JSON and Prometheus views), and read by the alerting engine
 * (alerting.c, alert_metrics.c) on the core thread.
 */
#ifndef PGVIGIL_FLEET_INTERNAL_H
#define PGVIGIL_FLEET_INTERNAL_H

#include <czmq.h>

#include "fleet.h"

typedef struct fleet_node {
    char name[FLEET_NAME_MAX], region[FLEET_NAME_MAX];
    uint64_t cluster_id; /* 0 until the node has been seen up */
    Pgvigil__Role role;
    bool up, stale, seen;
    uint32_t timeline, interval_ms, server_version;
    int64_t last_seen_us, collected_at_us, started_at_us;
    uint64_t last_seq, received, gaps, duplicates, restarts;
    lag_offset_t offset;
    Pgvigil__Sample *latest;
    bool has_lag, replay_paused, disconnected, slot_retaining;
    lag_result_t lag;
    double primary_replay_lag_s; /* NAN when unknown */
    char wal_status[32];
    unsigned query_regressions; /* from diag, before alerting sees the sample */
    int64_t backup_verified_us; /* the last verification stored */
    uint64_t restarts_seen;     /* restarts the core has acted on */
} fleet_node_t;

typedef struct {
    uint64_t id;
    char primary[FLEET_NAME_MAX];
    uint32_t timeline;
    bool split_brain;
    lag_ring_t ring;
} fleet_cluster_t;

struct fleet {
    const agg_config_t *cfg;
    zhashx_t *nodes;    /* name -> fleet_node_t */
    zhashx_t *clusters; /* decimal id -> fleet_cluster_t */
    store_writer_t *writer;
    json_t *events[FLEET_EVENTS_MAX];
    size_t event_next, event_count;
};

#endif
