/*
 * alert.c — see alert.h.
 */
#include "alert.h"

#include <math.h>
#include <string.h>

void alert_init(alert_instance_t *a)
{
    memset(a, 0, sizeof *a);
    a->state = ALERT_INACTIVE;
}

const char *alert_state_name(alert_state_t s)
{
    static const char *const names[] = {"inactive", "pending", "firing", "resolved", "nodata"};
    return (unsigned)s <= ALERT_NODATA ? names[s] : "unknown";
}

const char *alert_severity_name(alert_severity_t s)
{
    static const char *const names[] = {"none", "warning", "critical"};
    return (unsigned)s <= ALERT_SEV_CRITICAL ? names[s] : "unknown";
}

static double alert_scale(const alert_params_t *p, double t, double factor)
{
    if (isnan(t) || !(factor > 0) || factor >= 1)
        return t;
    return p->op == ALERT_OP_GT ? t * factor : t / factor;
}

double alert_threshold(const alert_params_t *p, alert_severity_t sev, double factor)
{
    return alert_scale(p, sev == ALERT_SEV_CRITICAL ? p->critical : p->warning, factor);
}

static bool alert_breaches(const alert_params_t *p, double value, double t)
{
    if (isnan(t))
        return false;
    return p->op == ALERT_OP_GT ? value > t : value < t;
}

alert_severity_t alert_severity_of(const alert_params_t *p, double value, double factor)
{
    if (alert_breaches(p, value, alert_threshold(p, ALERT_SEV_CRITICAL, factor)))
        return ALERT_SEV_CRITICAL;
    if (alert_breaches(p, value, alert_threshold(p, ALERT_SEV_WARNING, factor)))
        return ALERT_SEV_WARNING;
    return ALERT_SEV_NONE;
}

/* Has a firing alert's value gone back past the clear threshold? */
static bool alert_cleared(const alert_params_t *p, double value, double factor)
{
    double clear = p->clear;
    if (isnan(clear))
        clear = isnan(p->warning) ? p->critical : p->warning;
    clear = alert_scale(p, clear, factor);
    return p->op == ALERT_OP_GT ? value <= clear : value >= clear;
}

static void alert_flip(alert_instance_t *a, const alert_params_t *p, int64_t now, alert_transition_t *t)
{
    if (p->flap_transitions <= 0)
        return;
    a->flips[a->next_flip] = now;
    a->next_flip = (a->next_flip + 1) % ALERT_FLAP_RING;
    if (a->nflips < ALERT_FLAP_RING)
        a->nflips++;
    int recent = 0;
    for (int i = 0; i < a->nflips; i++)
        recent += now - a->flips[i] <= p->flap_window_us;
    if (!a->flapping && recent > p->flap_transitions) {
        a->flapping = true;
        t->flapping_started = true;
    }
}

static void alert_set(alert_instance_t *a, alert_state_t to, alert_severity_t sev, int64_t now)
{
    if (a->state != to || a->severity != sev)
        a->changed_at_us = now;
    a->state = to;
    a->severity = sev;
}

static void alert_firing(alert_instance_t *a, const alert_params_t *p, alert_severity_t sev, double value,
                         double factor, int64_t now, alert_transition_t *t)
{
    if (alert_cleared(p, value, factor)) {
        alert_set(a, ALERT_RESOLVED, ALERT_SEV_NONE, now);
        t->notify = true;
        alert_flip(a, p, now, t);
    } else if (sev != ALERT_SEV_NONE && sev != a->severity) {
        alert_set(a, ALERT_FIRING, sev, now); /* escalation or de-escalation */
        t->notify = true;
    }
}

static void alert_step(alert_instance_t *a, const alert_params_t *p, alert_severity_t sev, double value,
                       double factor, int64_t now, alert_transition_t *t)
{
    switch (a->state) {
    case ALERT_INACTIVE:
    case ALERT_RESOLVED:
        if (sev == ALERT_SEV_NONE)
            return;
        a->pending_since_us = now;
        alert_set(a, ALERT_PENDING, sev, now);
        /* with `for` 0 it fires at once */
        // fallthrough
    case ALERT_PENDING:
        if (sev == ALERT_SEV_NONE) {
            alert_set(a, ALERT_INACTIVE, ALERT_SEV_NONE, now);
        } else if (now - a->pending_since_us >= p->for_us) {
            a->firing_since_us = now;
            alert_set(a, ALERT_FIRING, sev, now);
            t->notify = true;
            alert_flip(a, p, now, t);
        } else {
            alert_set(a, ALERT_PENDING, sev, now);
        }
        return;
    case ALERT_FIRING:
        alert_firing(a, p, sev, value, factor, now, t);
        return;
    case ALERT_NODATA:
        return;
    }
}

alert_transition_t alert_eval(alert_instance_t *a, const alert_params_t *p, bool has_value, double value,
                              double factor, int64_t now_us)
{
    alert_state_t from = a->state;
    alert_severity_t from_sev = a->severity;
    alert_transition_t t = {0};
    if (!has_value || isnan(value)) {
        /* Never a silent resolve: pending and firing alerts wait in no data. */
        if (a->state == ALERT_PENDING || a->state == ALERT_FIRING) {
            a->before_nodata = a->state;
            alert_set(a, ALERT_NODATA, a->severity, now_us);
            t.notify = a->state != from && !a->flapping && from == ALERT_FIRING;
        }
    } else {
        alert_severity_t sev = alert_severity_of(p, value, factor);
        if (a->state == ALERT_NODATA)
            a->state = a->before_nodata; /* continue where it was */
        bool was_firing = from == ALERT_NODATA && a->state == ALERT_FIRING;
        alert_step(a, p, sev, value, factor, now_us, &t);
        if (was_firing && a->state == ALERT_FIRING && a->severity == from_sev)
            t.notify = false; /* still firing as before: no new notice */
    }
    /* Flapping: one notice when it starts; quiet until stable a whole window. */
    if (a->flapping && !t.flapping_started) {
        int64_t last = a->flips[(a->next_flip + ALERT_FLAP_RING - 1) % ALERT_FLAP_RING];
        if (now_us - last > p->flap_window_us) {
            a->flapping = false;
            a->nflips = 0;
            t.flapping_ended = true;
        } else {
            t.notify = false;
        }
    }
    if (t.flapping_started)
        t.notify = false; /* the flapping notice replaces this one */
    t.from = from;
    t.to = a->state;
    t.severity = a->severity;
    t.changed = from != a->state || from_sev != a->severity;
    return t;
}
