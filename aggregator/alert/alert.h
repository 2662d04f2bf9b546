/*
 * alert.h — the per (rule, node) alert state machine (DESIGN 4.2). Pure: the
 * caller supplies the measurement and the time; nothing here reads a clock.
 *
 *   inactive -> pending -> firing (warning <-> critical) -> resolved
 *
 * - pending: the condition holds, but not yet for the rule's `for`;
 * - firing: it has held for `for`; severity moves between warning and
 *   critical as the value crosses the critical threshold;
 * - resolved: the value went back past the clear threshold (hysteresis: an
 *   alert at "lag > 5 s, clear 3 s" stays firing at 4 s);
 * - no data: the node's collector is stale or the metric is missing while
 *   pending or firing. It is its own state, never a silent resolve; when data
 *   returns the alert goes back to firing (without a new notice) or resolves.
 * - flapping: more than flap_transitions firing/resolved changes within
 *   flap_window; one "flapping" notice replaces the storm, and notices resume
 *   once the alert has been stable for a whole window.
 *
 * Peak days make thresholds stricter by a factor f in (0, 1]: a "greater
 * than" threshold t becomes t * f (lag > 30 s becomes lag > 15 s at f = 0.5);
 * a "less than" threshold becomes t / f (free connections < 10 becomes < 20).
 * Rules on bounded ratios (cache hit ratio < 0.9) should set their own factor
 * close to 1. The clear threshold moves with the same rule.
 */
#ifndef PGVIGIL_ALERT_H
#define PGVIGIL_ALERT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { ALERT_INACTIVE, ALERT_PENDING, ALERT_FIRING, ALERT_RESOLVED, ALERT_NODATA } alert_state_t;
typedef enum { ALERT_SEV_NONE, ALERT_SEV_WARNING, ALERT_SEV_CRITICAL } alert_severity_t;
typedef enum { ALERT_OP_GT, ALERT_OP_LT } alert_op_t;

#define ALERT_FLAP_RING 32

typedef struct {
    alert_op_t op;
    double warning;          /* NAN: no warning level */
    double critical;         /* NAN: no critical level */
    double clear;            /* NAN: the lowest active threshold itself */
    int64_t for_us;
    int flap_transitions;    /* 0: no flap detection */
    int64_t flap_window_us;
} alert_params_t;

typedef struct {
    alert_state_t state;
    alert_state_t before_nodata; /* pending or firing */
    alert_severity_t severity;
    int64_t pending_since_us, firing_since_us, changed_at_us;
    int64_t flips[ALERT_FLAP_RING]; /* times of firing<->resolved changes */
    int nflips, next_flip;
    bool flapping;
} alert_instance_t;

typedef struct {
    bool changed;            /* state or severity changed */
    alert_state_t from, to;
    alert_severity_t severity;
    bool notify;             /* worth a notification (not while flapping) */
    bool flapping_started, flapping_ended;
} alert_transition_t;

void alert_init(alert_instance_t *a);

/* Threshold for a severity under a peak factor (1.0 outside peak). */
double alert_threshold(const alert_params_t *p, alert_severity_t sev, double factor);
/* Severity the value alone would have (no hysteresis, no `for`). */
alert_severity_t alert_severity_of(const alert_params_t *p, double value, double factor);

/* One evaluation at now_us. has_value false means no data. */
alert_transition_t alert_eval(alert_instance_t *a, const alert_params_t *p, bool has_value, double value,
                              double factor, int64_t now_us);

const char *alert_state_name(alert_state_t s);
const char *alert_severity_name(alert_severity_t s);

#endif
