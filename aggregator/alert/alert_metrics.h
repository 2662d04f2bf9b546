/*
 * alert_metrics.h — the values alert rules compare, derived per node from
 * its samples, and the built-in rules (DESIGN 4.2).
 *
 * A value is remembered when the section that carries it arrives (fast,
 * slow or stats cadence) and forgotten when the node goes down or its
 * collector goes stale, so a rule on it reads "no data" then, never a stale
 * number. node_up is known while the collector reports; collector_stale is
 * always known.
 *
 * Counters (deadlocks, blocks hit/read) become per-interval deltas: the
 * first sample after a start or a stats reset gives no value.
 */
#ifndef PGVIGIL_ALERT_METRICS_H
#define PGVIGIL_ALERT_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "fleet_internal.h"

typedef enum {
    AM_NODE_UP,
    AM_COLLECTOR_STALE,
    AM_LAG_SECONDS,
    AM_LAG_BYTES,
    AM_REPLICA_DISCONNECTED,
    AM_REPLAY_PAUSED,
    AM_SLOT_RETAINED_BYTES,
    AM_CONNECTION_SATURATION,
    AM_IDLE_IN_TRANSACTION_SECONDS,
    AM_LONG_QUERY_SECONDS,
    AM_BLOCKED_SESSIONS,
    AM_DEADLOCKS,
    AM_CACHE_HIT_RATIO,
    AM_XID_WRAPAROUND_RATIO,
    AM_DEAD_TUPLE_RATIO,
    AM_ARCHIVER_FAILING,
    AM_RPO_SECONDS,
    AM_PROBE_LATENCY_MS,
    AM_QUERY_REGRESSIONS,
    AM_BACKUP_FAILED,
    AM_BACKUP_AGE_SECONDS,
    AM_RESTORE_FAILED,
    AM_RESTORE_RTO_RATIO,
    AM_COUNT
} alert_metric_id_t;

typedef enum { AM_FAST, AM_SLOW, AM_STATS } alert_cadence_t;

typedef struct {
    const char *name, *unit;
    bool boolean;            /* 0/1: peak factors do not apply */
    alert_cadence_t cadence; /* the collector cadence of its section */
} alert_metric_info_t;

/* Metric by name, or -1. */
int alert_metric_find(const char *name);
const alert_metric_info_t *alert_metric_info(int id);

typedef struct {
    double value[AM_COUNT];
    bool known[AM_COUNT];
    /* counter state for deltas */
    uint64_t deadlocks_total, blks_hit, blks_read;
    bool have_counters;
    int64_t backup_at_us; /* the newest verified backup's start, 0: none known */
} alert_metric_state_t;

/* Update st from the node's latest sample (after fleet_apply). */
void alert_metrics_sample(alert_metric_state_t *st, const fleet_node_t *n, int64_t now_us);
/* Refresh the values that depend on liveness and time (up, stale, RPO). */
void alert_metrics_refresh(alert_metric_state_t *st, const fleet_node_t *n, int64_t now_us);

typedef struct {
    const char *name;
    alert_metric_id_t metric;
    alert_op_t op;
    double warning, critical, clear;
    uint64_t for_ms;
    unsigned roles;
    double peak_factor;      /* NAN: the configured threshold_factor */
    const char *summary;
} alert_builtin_t;

/* The built-in rules; *count receives their number. */
const alert_builtin_t *alert_builtin_rules(size_t *count);

#endif
