/*
 * metric.h — the metric catalogue: the one table that names a per-node
 * metric (DESIGN 4), in the spirit of PostgreSQL's pgstat kinds.
 *
 * Each descriptor says what a metric is (name, unit, help, cadence, kind),
 * how it is derived from a sample (one small function), and who uses it:
 * Prometheus (/metrics), history (a stable slot in node_samples.metric_values),
 * the pressure view, a built-in alert rule. Alerting, /metrics, history rows
 * and the history series API all read this table; nothing else names a metric.
 *
 * Derivation: metric_update() runs the derivations of one node into its node
 * view (nodeview.h) once per sample, and metric_tick() re-runs those that move
 * with the clock (flag METRIC_F_CLOCK) once per timer tick. A derivation
 * returns METRIC_SET (a value), METRIC_UNKNOWN (no value now) or METRIC_KEEP
 * (its section is not in this sample: the previous value stands). Counter
 * kinds (RATE: per second, DELTA: per interval) receive the counter total from
 * their derivation; the catalogue keeps the previous total per node in a
 * metric_state_t and gives no value on the first sample or after a decrease.
 *
 * Liveness: values are forgotten when the node goes down (except flags
 * METRIC_F_REPORTING / METRIC_F_ALWAYS) or its collector goes stale (except
 * METRIC_F_ALWAYS), so a rule reads "no data" then, never a stale number.
 *
 * State: the table is constant. metric_state_t belongs to the owner of the
 * node view it derives into (the fleet, on the core thread).
 */
#ifndef PGVIGIL_METRIC_H
#define PGVIGIL_METRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgvigil.pb-c.h"

/* Capacity of a node view's value array; the table may not outgrow it. */
#define METRIC_MAX 64

typedef enum { METRIC_FAST, METRIC_SLOW, METRIC_STATS, METRIC_HOURLY, METRIC_NODE } metric_cadence_t;
typedef enum {
    METRIC_GAUGE,  /* a level */
    METRIC_RATIO,  /* a level between 0 and 1 */
    METRIC_BOOL,   /* 0 or 1: peak factors do not apply */
    METRIC_RATE,   /* a counter turned into a per-second rate */
    METRIC_DELTA,  /* a counter turned into its increase per interval */
    METRIC_TOTAL,  /* a counter exported as is (Prometheus counter) */
} metric_kind_t;

enum {
    METRIC_F_PROM = 1u << 0,      /* exported on /metrics */
    METRIC_F_PRESSURE = 1u << 1,  /* shown in the pressure view */
    METRIC_F_CLOCK = 1u << 2,     /* moves with the clock: re-derived every tick */
    METRIC_F_REPORTING = 1u << 3, /* known while the collector reports, up or down */
    METRIC_F_ALWAYS = 1u << 4,    /* never forgotten */
    METRIC_F_PROM_ZERO = 1u << 5, /* exported as 0 while unknown */
    METRIC_F_PROM_NODE = 1u << 6, /* carries the node's role and region labels */
};

typedef enum { METRIC_KEEP, METRIC_SET, METRIC_UNKNOWN } metric_result_t;

struct node_view;

typedef struct {
    const Pgvigil__Sample *sample; /* the node's latest sample (NULL: none yet) */
    const struct node_view *view;  /* identity, liveness, replication and earlier values */
    int64_t now_us;
} metric_input_t;

typedef metric_result_t(metric_derive_fn)(const metric_input_t *in, double *out);

/* A built-in alert rule on the metric (alert.h, alert_config.h semantics). */
typedef struct {
    const char *name; /* NULL: no built-in rule */
    int op;           /* alert_op_t */
    double warning, critical, clear;
    uint64_t for_ms;
    unsigned roles;     /* ALERT_ROLE_* */
    double peak_factor; /* NAN: the configured threshold_factor */
    const char *summary;
} metric_rule_t;

typedef struct {
    const char *name, *unit, *help;
    metric_cadence_t cadence;
    metric_kind_t kind;
    unsigned flags;    /* METRIC_F_* */
    int slot;          /* history position in metric_values (1-based, never reused); 0: not kept */
    const char *prom;  /* Prometheus name; NULL: "pgvigil_" + name */
    metric_derive_fn *derive;
    metric_rule_t rule;
} metric_t;

/* Metrics referred to by code (derivations reading others, the views). */
typedef enum {
    METRIC_NODE_UP,
    METRIC_COLLECTOR_STALE,
    METRIC_LAG_SECONDS,
    METRIC_LAG_BYTES,
    METRIC_REPLICA_DISCONNECTED,
    METRIC_REPLAY_PAUSED,
    METRIC_SLOT_RETAINED_BYTES,
    METRIC_CONNECTION_SATURATION,
    METRIC_IDLE_IN_TRANSACTION_SECONDS,
    METRIC_LONG_QUERY_SECONDS,
    METRIC_BLOCKED_SESSIONS,
    METRIC_DEADLOCKS,
    METRIC_CACHE_HIT_RATIO,
    METRIC_XID_WRAPAROUND_RATIO,
    METRIC_DEAD_TUPLE_RATIO,
    METRIC_ARCHIVER_FAILING,
    METRIC_RPO_SECONDS,
    METRIC_PROBE_LATENCY_MS,
    METRIC_QUERY_REGRESSIONS,
    METRIC_BACKUP_FAILED,
    METRIC_BACKUP_AGE_SECONDS,
    METRIC_RESTORE_FAILED,
    METRIC_RESTORE_RTO_RATIO,
    METRIC_BLOCKS_HIT,
    METRIC_BLOCKS_READ,
    METRIC_BACKUP_TAKEN_AT,
    METRIC_NAMED /* the rows after these are named by the table only */
} metric_id_t;

/* Rows in the table. */
size_t metric_count(void);
/* Descriptor by id, NULL when out of range. */
const metric_t *metric_info(int id);
/* Id by name, or -1. */
int metric_find(const char *name);
/* The highest history slot: the catalogue version stored with each row. */
int metric_history_slots(void);
/* The Prometheus name of id into buf. */
const char *metric_prom_name(int id, char *buf, size_t len);
/* Role names in one place: "primary", "replica", "unknown". */
const char *metric_role_name(Pgvigil__Role role);

/* A level metric (GAUGE, RATIO, BOOL) derived from sample s alone, for
 * readers without a node view (the pressure view reads the same derivation
 * as alerting); false when s does not carry it. */
bool metric_from_sample(int id, const Pgvigil__Sample *s, double *out);

/* Per-node counter state for RATE and DELTA metrics. */
typedef struct {
    double total[METRIC_MAX];
    int64_t at_us[METRIC_MAX];
    bool have[METRIC_MAX];
    int liveness; /* what the last pass applied: 0 live, 1 down, 2 stale or unseen */
} metric_state_t;

/* Derive every metric of v from its latest sample s (after the fleet
 * updated v's identity, liveness and replication fields). */
void metric_update(struct node_view *v, metric_state_t *st, const Pgvigil__Sample *s, int64_t now_us);
/* Re-derive the metrics that move with the clock, and apply liveness.
 * Returns true when a value or its known bit changed. */
bool metric_tick(struct node_view *v, metric_state_t *st, const Pgvigil__Sample *s, int64_t now_us);
/* Re-derive one metric (a value another module fed into the view). */
void metric_update_one(struct node_view *v, metric_state_t *st, const Pgvigil__Sample *s, int id,
                       int64_t now_us);

#endif
