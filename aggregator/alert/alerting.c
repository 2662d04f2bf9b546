/*
 * alert/ — alerting, one concern per file:
 *   alert.c             the (rule, node) state machine (pure)
 *   alert_config.c      rules, regions, peak, escalation, receivers (YAML)
 *   calendar.c          peak days and hours per region (pure)
 *   peak_events.c       the optional "is today a peak day" query
 *   alerting.c          evaluation over node views, escalation, views (this file)
 *   alerting_emit.c     an alert's JSON and the durable messages it emits
 *   alerting_silence.c  silences: parsing, matching, add and delete
 *   alerting_command.c  acknowledge and resolve from the API
 *   alerting_restore.c  open alerts and silences reloaded at start, hand-over
 *   alerting_reload.c   a new configuration for a running engine
 *   alerting_index.c    where a (node, rule)'s state lives; the open alerts' index
 *
 * alerting.c — alert evaluation and escalation (see alerting.h).
 */
#include "alerting.h"


#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "alerting_internal.h"
#include "calendar.h"
#include "clock.h"
#include "config.h"
#include "core.h"
#include "log.h"
#include "metric.h"

uint64_t alerting_next_id(alerting_t *self)
{
    uint64_t id = (uint64_t)clock_wall_us();
    if (id <= self->last_id)
        id = self->last_id + 1;
    return self->last_id = id;
}

static void al_node_free(void **item)
{
    al_node_t *n = *item;
    if (n)
        free(n->slots);
    free(n);
    *item = NULL;
}
alerting_t *alerting_new(const agg_config_t *cfg, alerting_emit_fn *emit, void *arg)
{
    alerting_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->ac = &cfg->alerting;
    self->emit = emit;
    self->arg = arg;
    self->nodes = zhashx_new();
    self->silences = zlistx_new();
    self->resolved = json_array();
    self->calendar = calendar_new();
    self->started_us = clock_wall_us();
    if (!self->nodes || !self->silences || !self->resolved || !self->calendar) {
        alerting_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->nodes, al_node_free);
    zlistx_set_destructor(self->silences, alerting_silence_free);
    calendar_set_weekdays(self->calendar, self->ac->peak_weekdays);
    calendar_set_hours(self->calendar, self->ac->peak_start_min, self->ac->peak_end_min);
    for (size_t i = 0; i < self->ac->peak_date_count; i++)
        calendar_add_date(self->calendar, self->ac->peak_dates[i][0], self->ac->peak_dates[i][1],
                          self->ac->peak_dates[i][2]);
    return self;
}

void alerting_destroy(alerting_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    alerting_t *self = *self_p;
    for (al_node_t *an = self->nodes ? zhashx_first(self->nodes) : NULL; an; an = zhashx_next(self->nodes))
        for (size_t i = 0; i < self->ac->rule_count; i++)
            alerting_slot_clear(self, &an->slots[i]);
    free(self->open);
    json_decref(self->view);
    zhashx_destroy(&self->nodes);
    zlistx_destroy(&self->silences);
    json_decref(self->resolved);
    calendar_destroy(&self->calendar);
    free(self);
    *self_p = NULL;
}

void alerting_events_peak(alerting_t *self, int64_t now_us)
{
    for (size_t i = 0; i <= self->ac->region_count; i++) {
        const char *zone = i < self->ac->region_count ? self->ac->regions[i].timezone : "UTC";
        calendar_state_t st;
        int y, m, d;
        if (calendar_eval(self->calendar, zone, now_us, &st) != 0 || st.peak_day ||
            calendar_parse_date(st.local_date, &y, &m, &d) != 0)
            continue;
        calendar_add_date(self->calendar, y, m, d);
        self->npeaks = 0; /* recompute */
    }
}

bool alerting_in_peak(alerting_t *self, const char *region, int64_t now_us)
{
    for (size_t i = 0; i < self->npeaks; i++)
        if (strcmp(self->peaks[i].region, region) == 0 && now_us - self->peaks[i].at_us < 1000000 &&
            now_us >= self->peaks[i].at_us)
            return self->peaks[i].peak;
    calendar_state_t st;
    bool peak = calendar_eval(self->calendar, alert_config_timezone(self->ac, region), now_us, &st) == 0 && st.peak;
    size_t slot = self->npeaks;
    for (size_t i = 0; i < self->npeaks; i++)
        if (strcmp(self->peaks[i].region, region) == 0)
            slot = i;
    if (slot == self->npeaks) {
        if (self->npeaks == sizeof self->peaks / sizeof self->peaks[0])
            return peak;
        self->npeaks++;
    }
    snprintf(self->peaks[slot].region, sizeof self->peaks[slot].region, "%s", region);
    self->peaks[slot].peak = peak;
    self->peaks[slot].at_us = now_us;
    return peak;
}

static double al_factor(const alerting_t *self, const alert_rule_t *r, bool peak)
{
    if (!peak || metric_info(r->metric)->kind == METRIC_BOOL)
        return 1.0;
    return isnan(r->peak_factor) ? self->ac->peak_factor : r->peak_factor;
}

al_node_t *alerting_node_state(alerting_t *self, const char *name)
{
    al_node_t *n = zhashx_lookup(self->nodes, name);
    if (n)
        return n;
    /* every slot at rest, inactive (ALERT_INACTIVE is 0) */
    if (!(n = calloc(1, sizeof *n)) ||
        !(n->slots = calloc(self->ac->rule_count ? self->ac->rule_count : 1, sizeof *n->slots))) {
        free(n);
        return NULL;
    }
    snprintf(n->name, sizeof n->name, "%s", name);
    if (zhashx_insert(self->nodes, name, n) != 0) {
        free(n->slots);
        free(n);
        return NULL;
    }
    return n;
}

/* ---- escalation ---- */

static const alert_tier_t *al_tiers(const alerting_t *self, bool peak, size_t *count)
{
    int which = peak && self->ac->tier_count[1] ? 1 : 0;
    *count = self->ac->tier_count[which];
    return self->ac->tiers[which];
}

static bool al_escalate(alerting_t *self, al_alert_t *a, int64_t now_us)
{
    if (a->live->sm.state != ALERT_FIRING || a->acked || a->live->sm.flapping)
        return false;
    size_t count;
    const alert_tier_t *tiers = al_tiers(self, alerting_in_peak(self, a->region, now_us), &count);
    bool changed = false, silenced = false, checked = false;
    while ((size_t)a->tier < count && (int64_t)tiers[a->tier].after_ms * 1000 <= now_us - a->firing_us) {
        if (!checked) {
            silenced = alerting_silenced(self, a, now_us);
            checked = true;
        }
        if (silenced)
            break;
        const alert_tier_t *t = &tiers[a->tier++];
        for (size_t i = 0; i < t->receiver_count; i++) {
            uint64_t bit = 1ull << t->receivers[i];
            if (!(a->notified & bit)) {
                a->notified |= bit;
                alerting_notify(self, a, t->receivers[i], "firing", now_us);
            }
        }
        changed = true;
        char detail[64];
        snprintf(detail, sizeof detail, "tier %d reached", a->tier);
        alerting_emit_event(self, a, "firing", "firing", detail, now_us);
    }
    if (changed)
        alerting_emit_alert(self, a, NULL);
    return changed;
}

static int64_t al_grace_us(const alerting_t *self, const node_view_t *n, int metric)
{
    const Pgvigil__Sample *s = n->latest;
    uint32_t every = n->interval_ms ? n->interval_ms : 1000;
    metric_cadence_t c = metric_info(metric)->cadence;
    if (c == METRIC_SLOW && s && s->slow_interval_ms)
        every = s->slow_interval_ms;
    else if ((c == METRIC_STATS || c == METRIC_HOURLY) && s && s->stats_interval_ms)
        every = s->stats_interval_ms;
    return (int64_t)(self->cfg->stale_intervals + 1) * every * 1000;
}

/* A storm of transitions: one "flapping" notice to the first tier. */
static void al_flapping(alerting_t *self, al_alert_t *a, bool peak, int64_t now_us)
{
    size_t count;
    const alert_tier_t *tiers = al_tiers(self, peak, &count);
    a->live->flap_noticed = true;
    if (count && !alerting_silenced(self, a, now_us))
        for (size_t i = 0; i < tiers[0].receiver_count; i++)
            alerting_notify(self, a, tiers[0].receivers[i], "flapping", now_us);
}

/* What an open (or opening) alert says: where, and against which threshold. */
static void al_describe(alerting_t *self, al_alert_t *a, const node_view_t *n, const char *cluster, double value,
                        double factor)
{
    const alert_rule_t *r = &self->ac->rules[a->rule];
    snprintf(a->cluster, sizeof a->cluster, "%s", cluster);
    a->cluster_id = n->cluster_id;
    snprintf(a->region, sizeof a->region, "%s", n->region);
    a->role = metric_role_name(n->role);
    alert_severity_t sev = a->live->sm.severity != ALERT_SEV_NONE ? a->live->sm.severity
                                                                  : alert_severity_of(&r->params, value, factor);
    a->threshold = alert_threshold(&r->params, sev == ALERT_SEV_NONE ? ALERT_SEV_WARNING : sev, factor);
    if (isnan(a->threshold))
        a->threshold = alert_threshold(&r->params, ALERT_SEV_CRITICAL, factor);
    alerting_summary(self, a);
}

/* What follows a change of an open alert a (the rule's state machine made
 * transition t): events, notices, escalation, or its close. */
static void al_changed(alerting_t *self, al_alert_t *a, al_slot_t *slot, alert_transition_t t, bool peak,
                       int64_t now_us)
{
    const alert_rule_t *r = &self->ac->rules[a->rule];
    al_live_t *live = a->live;
    const char *from = alert_state_name(t.from), *to = alert_state_name(t.to);
    a->peak = a->peak || peak;
    if (t.to == ALERT_FIRING && t.from == ALERT_PENDING)
        a->firing_us = now_us;
    if (t.to == ALERT_FIRING && t.from != ALERT_PENDING && !a->firing_us)
        a->firing_us = now_us;
    alerting_emit_event(self, a, from, to, t.flapping_started ? "flapping" : NULL, now_us);
    if (t.flapping_started && !live->flap_noticed)
        al_flapping(self, a, peak, now_us);
    if (t.to == ALERT_FIRING && t.from == ALERT_FIRING && a->notified)
        alerting_notify_notified(self, a, "firing", now_us); /* severity changed */
    if (t.to == ALERT_RESOLVED || t.to == ALERT_INACTIVE) {
        if (t.to == ALERT_RESOLVED)
            alerting_notify_notified(self, a, "resolved", now_us);
        alerting_close(self, a, to, now_us);
        alerting_settle(slot, &r->params, now_us);
        return;
    }
    alerting_emit_alert(self, a, NULL);
    al_escalate(self, a, now_us);
}

/* Rule i on node view n. A slot at rest stays so (no allocation) unless the
 * value breaches; an alert opens (gets an id) when the state machine goes
 * to pending or firing and closes when it resolves or goes back. */
static bool al_eval(alerting_t *self, al_node_t *an, int i, const node_view_t *n, const char *cluster, bool peak,
                    int64_t now_us)
{
    const alert_rule_t *r = &self->ac->rules[i];
    al_slot_t *slot = &an->slots[i];
    al_alert_t *a = slot->live ? slot->live->open : NULL;
    if (!r->enabled)
        return false;
    unsigned role = n->role == PGVIGIL__ROLE__ROLE_PRIMARY ? ALERT_ROLE_PRIMARY
                    : n->role == PGVIGIL__ROLE__ROLE_REPLICA ? ALERT_ROLE_REPLICA : 0;
    bool applies = (role & r->roles) || (role == 0 && r->roles == (ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA));
    if (!applies && !a)
        return false;
    bool has = applies && n->known[r->metric];
    double value = n->value[r->metric];
    if (!has && !slot->live)
        return false; /* at rest, and no data does not move it */
    if (!has && applies && !n->stale && n->up &&
        ((an->live_since_us && now_us - an->live_since_us < al_grace_us(self, n, r->metric)) ||
         now_us - self->started_us < AL_START_GRACE_US))
        return false; /* (re)started, here or there: the value has not come round yet */
    double factor = al_factor(self, r, peak);
    if (!slot->live && alert_severity_of(&r->params, value, factor) == ALERT_SEV_NONE)
        return false; /* at rest, and a value that does not move it */
    al_live_t *live = alerting_live(slot);
    if (!live)
        return false; /* out of memory: at rest still, tried again on the next sample */
    alert_instance_t before = a ? (alert_instance_t){0} : live->sm;
    alert_transition_t t = alert_eval(&live->sm, &r->params, has, value, factor, now_us);
    if (t.flapping_ended)
        live->flap_noticed = false; /* also when it ends without a change: the next storm is noticed */
    if (!a && (!t.changed || (t.to != ALERT_PENDING && t.to != ALERT_FIRING))) {
        alerting_settle(slot, &r->params, now_us); /* e.g. inactive -> resolved bookkeeping */
        return false;
    }
    if (!a) {
        if (!(a = alerting_open(self, an, i, alerting_next_id(self)))) {
            live->sm = before; /* as if this sample had not come: it opens on a later one */
            alerting_settle(slot, &r->params, now_us);
            return false;
        }
        a->started_us = now_us;
        a->peak = peak;
    }
    if (has)
        a->value = value;
    al_describe(self, a, n, cluster, value, factor);
    if (!t.changed)
        return false;
    al_changed(self, a, slot, t, peak, now_us);
    return true;
}

bool alerting_node(alerting_t *self, const node_view_t *n, int64_t now_us)
{
    al_node_t *an = alerting_node_state(self, n->name);
    if (!an)
        return false;
    if (n->stale || !n->up || !n->seen)
        an->live_since_us = 0;
    else if (!an->live_since_us)
        an->live_since_us = now_us;
    const char *cluster = n->cluster_id ? n->cluster : "unknown";
    an->cluster_id = n->cluster_id;
    bool changed = false, peak = alerting_in_peak(self, n->region, now_us);
    for (size_t i = 0; i < self->ac->rule_count; i++)
        changed |= al_eval(self, an, (int)i, n, cluster, peak, now_us);
    return changed;
}

void alerting_set_owner_filter(alerting_t *self, alerting_owns_fn *owns, void *arg)
{
    self->owns = owns;
    self->owns_arg = arg;
}

bool alerting_tick(alerting_t *self, int64_t now_us)
{
    bool changed = false;
    for (size_t i = 0; i < self->nopen; i++) {
        al_alert_t *a = self->open[i];
        if (self->owns && (!a->an->cluster_id || !self->owns(self->owns_arg, a->an->cluster_id)))
            continue;
        if (a->acked && a->ack_expires_us && now_us >= a->ack_expires_us) {
            a->acked = false;
            a->ack_expires_us = 0;
            alerting_emit_event(self, a, alert_state_name(a->live->sm.state), alert_state_name(a->live->sm.state),
                                "acknowledgement expired", now_us);
            alerting_emit_alert(self, a, NULL);
            changed = true;
        }
        changed |= al_escalate(self, a, now_us);
    }
    /* Drop silences that ended an hour ago. */
    for (al_silence_t *s = zlistx_first(self->silences); s; s = zlistx_next(self->silences))
        if (now_us >= s->ends_us + 3600LL * 1000000) {
            zlistx_delete(self->silences, zlistx_cursor(self->silences));
            changed = true;
            break; /* one per tick keeps the iteration simple */
        }
    return changed;
}

/* ---- views ---- */

static json_t *al_view(alerting_t *self, int64_t now_us)
{
    json_t *alerts = json_array(), *silences = json_array();
    for (size_t i = 0; i < self->nopen; i++) {
        json_t *j = alerting_json(self, self->open[i], NULL);
        json_object_set_new(j, "silenced", json_boolean(alerting_silenced(self, self->open[i], now_us)));
        json_array_append_new(alerts, j);
    }
    size_t i;
    json_t *r;
    json_array_foreach(self->resolved, i, r) json_array_append(alerts, r);
    for (al_silence_t *s = zlistx_first(self->silences); s; s = zlistx_next(self->silences)) {
        json_t *j = alerting_silence_json(s);
        json_object_set_new(j, "state", json_string(now_us < s->starts_us ? "pending"
                                                    : now_us < s->ends_us  ? "active"
                                                                           : "expired"));
        json_array_append_new(silences, j);
    }
    return json_pack("{s:o,s:o}", "alerts", alerts, "silences", silences);
}

json_t *alerting_view(alerting_t *self, int64_t now_us)
{
    int64_t age = now_us - self->view_at_us;
    self->view_reused = self->view && self->nopen >= ALERTING_VIEW_MANY && age >= 0 && age < ALERTING_VIEW_MANY_US;
    if (self->view_reused)
        return json_incref(self->view);
    json_t *view = al_view(self, now_us);
    if (view) {
        json_decref(self->view);
        self->view = json_incref(view);
        self->view_at_us = now_us;
    }
    return view;
}

bool alerting_view_reused(const alerting_t *self) { return self->view_reused; }

void alerting_firing_counts(const alerting_t *self, unsigned *warning, unsigned *critical)
{
    *warning = *critical = 0;
    for (size_t i = 0; i < self->nopen; i++)
        if (self->open[i]->live->sm.state == ALERT_FIRING) {
            if (self->open[i]->live->sm.severity == ALERT_SEV_CRITICAL)
                ++*critical;
            else
                ++*warning;
        }
}

json_t *alerting_peak_regions(alerting_t *self, int64_t now_us)
{
    json_t *out = json_array();
    for (size_t i = 0; i < self->npeaks; i++) {
        char region[NODE_VIEW_NAME_MAX]; /* al_in_peak rewrites the cache entry */
        snprintf(region, sizeof region, "%s", self->peaks[i].region);
        if (alerting_in_peak(self, region, now_us))
            json_array_append_new(out, json_string(region));
    }
    return out;
}

