/*
 * alerting.c — alert evaluation, escalation and silences (see alerting.h).
 */
#include "alerting.h"

#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "metric.h"
#include "calendar.h"
#include "clock.h"
#include "config.h"
#include "core.h"
#include "log.h"

#define AL_RESOLVED_KEPT 200
#define AL_TEXT 256
/* After the aggregator starts, missing values are not "no data" yet: the
 * primary's LSN ring and the slow sections need a few rounds to fill. */
#define AL_START_GRACE_US 10000000LL

typedef struct {
    alert_instance_t sm;
    uint64_t id;              /* 0: no open alert */
    int rule;
    char node[NODE_VIEW_NAME_MAX], cluster[NODE_VIEW_NAME_MAX], region[NODE_VIEW_NAME_MAX];
    const char *role;
    double value, threshold;
    bool acked, peak;
    int64_t ack_at_us, ack_expires_us, started_us, firing_us;
    char ack_by[64], ack_comment[AL_TEXT], summary[AL_TEXT];
    int tier;                 /* tiers reached */
    uint64_t notified;        /* receivers notified, bit per receiver */
    bool flap_noticed;
} al_alert_t;

typedef struct {
    char name[NODE_VIEW_NAME_MAX];
    int64_t live_since_us;    /* up and reporting since; 0 while down or stale */
    al_alert_t *alerts;       /* one per rule */
} al_node_t;

typedef struct {
    char name[64], value[AL_TEXT];
    bool regex;
    regex_t re;
} al_matcher_t;

typedef struct {
    uint64_t id;
    al_matcher_t *m;
    size_t nm;
    int64_t starts_us, ends_us, created_us;
    char comment[AL_TEXT], by[64];
} al_silence_t;

typedef struct {
    char region[NODE_VIEW_NAME_MAX];
    bool peak;
    int64_t at_us;
} al_peak_t;

struct alerting {
    const agg_config_t *cfg;
    const alert_config_t *ac;
    alerting_emit_fn *emit;
    void *arg;
    zhashx_t *nodes;          /* name -> al_node_t */
    zlistx_t *silences;       /* al_silence_t */
    json_t *resolved;         /* most recent first */
    calendar_t *calendar;
    al_peak_t peaks[32];
    size_t npeaks;
    uint64_t last_id;
    int64_t started_us;
};

static uint64_t al_next_id(alerting_t *self)
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
        free(n->alerts);
    free(n);
    *item = NULL;
}

static void al_silence_free(void **item)
{
    al_silence_t *s = *item;
    if (s) {
        for (size_t i = 0; i < s->nm; i++)
            if (s->m[i].regex)
                regfree(&s->m[i].re);
        free(s->m);
    }
    free(s);
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
    zlistx_set_destructor(self->silences, al_silence_free);
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

static bool al_in_peak(alerting_t *self, const char *region, int64_t now_us)
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

static al_node_t *al_node(alerting_t *self, const char *name)
{
    al_node_t *n = zhashx_lookup(self->nodes, name);
    if (n)
        return n;
    if (!(n = calloc(1, sizeof *n)) || !(n->alerts = calloc(self->ac->rule_count ? self->ac->rule_count : 1,
                                                              sizeof *n->alerts))) {
        free(n);
        return NULL;
    }
    snprintf(n->name, sizeof n->name, "%s", name);
    for (size_t i = 0; i < self->ac->rule_count; i++) {
        alert_init(&n->alerts[i].sm);
        n->alerts[i].rule = (int)i;
    }
    zhashx_insert(self->nodes, name, n);
    return n;
}

/* ---- JSON of an alert ---- */

static void al_format_value(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "n/a");
    else if (fabs(v) >= 1000 || v == floor(v))
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.3g", v);
}

static void al_summary(const alerting_t *self, al_alert_t *a)
{
    const alert_rule_t *r = &self->ac->rules[a->rule];
    char out[AL_TEXT] = "", val[32];
    size_t o = 0;
    for (const char *p = r->summary; *p && o + 1 < sizeof out;) {
        const char *sub = NULL;
        size_t skip = 0;
        if (*p == '{') {
            static const char *const names[] = {"node", "cluster", "value", "threshold", "rule", "severity", "region"};
            for (size_t i = 0; i < sizeof names / sizeof names[0] && !sub; i++) {
                size_t l = strlen(names[i]);
                if (strncmp(p + 1, names[i], l) == 0 && p[1 + l] == '}') {
                    skip = l + 2;
                    switch (i) {
                    case 0: sub = a->node; break;
                    case 1: sub = a->cluster; break;
                    case 2: al_format_value(a->value, val, sizeof val); sub = val; break;
                    case 3: al_format_value(a->threshold, val, sizeof val); sub = val; break;
                    case 4: sub = r->name; break;
                    case 5: sub = alert_severity_name(a->sm.severity); break;
                    default: sub = a->region; break;
                    }
                }
            }
        }
        if (sub) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", sub);
            p += skip;
        } else {
            out[o++] = *p++;
        }
        if (o >= sizeof out)
            o = sizeof out - 1;
    }
    out[o < sizeof out ? o : sizeof out - 1] = '\0';
    snprintf(a->summary, sizeof a->summary, "%s", out);
}

static const char *al_state_name(const al_alert_t *a)
{
    return a->id ? alert_state_name(a->sm.state) : "inactive";
}

static json_t *al_labels(const alerting_t *self, const al_alert_t *a)
{
    const alert_rule_t *r = &self->ac->rules[a->rule];
    json_t *l = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "rule", r->name, "node", a->node, "cluster", a->cluster,
                          "region", a->region, "role", a->role ? a->role : "unknown", "severity",
                          alert_severity_name(a->sm.severity));
    for (size_t i = 0; l && i < r->label_count; i++)
        json_object_set_new(l, r->label_keys[i], json_string(r->label_values[i]));
    return l;
}

static json_t *al_json(const alerting_t *self, const al_alert_t *a, const char *state)
{
    char started[40], firing[40], ack[40];
    clock_format_rfc3339(a->started_us, started, sizeof started);
    clock_format_rfc3339(a->firing_us, firing, sizeof firing);
    clock_format_rfc3339(a->ack_at_us, ack, sizeof ack);
    json_t *notified = json_array();
    for (size_t i = 0; i < self->ac->receiver_count; i++)
        if (a->notified & (1ull << i))
            json_array_append_new(notified, json_string(self->ac->receivers[i].name));
    json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:i,s:s,s:s,s:o,s:o,s:o,s:b}", "id",
                          (json_int_t)a->id, "rule", self->ac->rules[a->rule].name, "cluster", a->cluster, "node",
                          a->node, "region", a->region, "severity", alert_severity_name(a->sm.severity), "state",
                          state ? state : al_state_name(a), "acknowledged", a->acked, "peak", a->peak, "tier",
                          a->tier, "started_at", started, "summary", a->summary, "firing_at",
                          a->firing_us ? json_string(firing) : json_null(), "value",
                          isnan(a->value) ? json_null() : json_real(a->value), "notified", notified, "flapping",
                          a->sm.flapping);
    if (!j)
        return NULL;
    json_object_set_new(j, "threshold", isnan(a->threshold) ? json_null() : json_real(a->threshold));
    json_object_set_new(j, "labels", al_labels(self, a));
    if (a->acked)
        json_object_set_new(j, "acknowledgement",
                            json_pack("{s:s,s:s,s:s,s:o}", "by", a->ack_by, "at", ack, "comment", a->ack_comment,
                                      "expires_at", a->ack_expires_us ? json_integer(a->ack_expires_us / 1000000)
                                                                      : json_null()));
    return j;
}

/* ---- durable messages ---- */

static void al_emit_alert(alerting_t *self, const al_alert_t *a, const char *state)
{
    json_t *j = al_json(self, a, state);
    if (j && self->emit)
        self->emit(self->arg, json_pack("{s:s,s:o}", "op", "alert", "alert", j));
    else
        json_decref(j);
}

static void al_emit_event(alerting_t *self, const al_alert_t *a, const char *from, const char *to,
                          const char *detail, int64_t now_us)
{
    if (!self->emit)
        return;
    char at[40];
    clock_format_rfc3339(now_us, at, sizeof at);
    self->emit(self->arg, json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "op", "event", "alert_id",
                                    (json_int_t)a->id, "seq", (json_int_t)al_next_id(self), "at", at, "from", from,
                                    "to", to, "severity", alert_severity_name(a->sm.severity), "detail",
                                    detail ? detail : ""));
}

static void al_notify(alerting_t *self, al_alert_t *a, int receiver, const char *kind, int64_t now_us)
{
    char at[40];
    clock_format_rfc3339(now_us, at, sizeof at);
    json_t *alert = al_json(self, a, NULL);
    uint64_t id = al_next_id(self);
    json_t *payload = json_pack("{s:s,s:I,s:s,s:o}", "kind", kind, "id", (json_int_t)id, "at", at, "alert", alert);
    if (!payload || !self->emit) {
        json_decref(payload);
        return;
    }
    self->emit(self->arg, json_pack("{s:s,s:I,s:I,s:s,s:s,s:o}", "op", "notify", "id", (json_int_t)id,
                                    "alert_id", (json_int_t)a->id, "receiver",
                                    self->ac->receivers[receiver].name, "kind", kind, "payload", payload));
}

static void al_notify_notified(alerting_t *self, al_alert_t *a, const char *kind, int64_t now_us)
{
    for (size_t i = 0; i < self->ac->receiver_count; i++)
        if (a->notified & (1ull << i))
            al_notify(self, a, (int)i, kind, now_us);
}

/* ---- silences ---- */

static const char *al_label(const json_t *labels, const char *name)
{
    return json_string_value(json_object_get(labels, name));
}

static bool al_silenced(const alerting_t *self, const al_alert_t *a, int64_t now_us)
{
    if (zlistx_size(self->silences) == 0)
        return false;
    json_t *labels = al_labels(self, a);
    bool hit = false;
    for (al_silence_t *s = zlistx_first(self->silences); s && !hit; s = zlistx_next(self->silences)) {
        if (now_us < s->starts_us || now_us >= s->ends_us)
            continue;
        bool all = true;
        for (size_t i = 0; i < s->nm && all; i++) {
            const char *v = al_label(labels, s->m[i].name);
            all = v && (s->m[i].regex ? regexec(&s->m[i].re, v, 0, NULL, 0) == 0 : strcmp(v, s->m[i].value) == 0);
        }
        hit = all;
    }
    json_decref(labels);
    return hit;
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
    if (!a->id || a->sm.state != ALERT_FIRING || a->acked || a->sm.flapping)
        return false;
    size_t count;
    const alert_tier_t *tiers = al_tiers(self, al_in_peak(self, a->region, now_us), &count);
    bool changed = false, silenced = false, checked = false;
    while ((size_t)a->tier < count && (int64_t)tiers[a->tier].after_ms * 1000 <= now_us - a->firing_us) {
        if (!checked) {
            silenced = al_silenced(self, a, now_us);
            checked = true;
        }
        if (silenced)
            break;
        const alert_tier_t *t = &tiers[a->tier++];
        for (size_t i = 0; i < t->receiver_count; i++) {
            uint64_t bit = 1ull << t->receivers[i];
            if (!(a->notified & bit)) {
                a->notified |= bit;
                al_notify(self, a, t->receivers[i], "firing", now_us);
            }
        }
        changed = true;
        char detail[64];
        snprintf(detail, sizeof detail, "tier %d reached", a->tier);
        al_emit_event(self, a, "firing", "firing", detail, now_us);
    }
    if (changed)
        al_emit_alert(self, a, NULL);
    return changed;
}

/* ---- evaluation ---- */

/* Keep a closed alert for the API, newest first, sorted by resolved_at. */
static void al_keep_resolved(alerting_t *self, json_t *j)
{
    const char *at = json_string_value(json_object_get(j, "resolved_at"));
    size_t pos = 0;
    while (at && pos < json_array_size(self->resolved)) {
        const char *other = json_string_value(json_object_get(json_array_get(self->resolved, pos), "resolved_at"));
        if (!other || strcmp(other, at) < 0)
            break;
        pos++;
    }
    json_array_insert(self->resolved, pos, j);
    while (json_array_size(self->resolved) > AL_RESOLVED_KEPT)
        json_array_remove(self->resolved, AL_RESOLVED_KEPT);
}

static void al_close(alerting_t *self, al_alert_t *a, const char *state, int64_t now_us)
{
    json_t *j = al_json(self, a, state);
    if (j) {
        char at[40];
        json_object_set_new(j, "resolved_at", json_string(clock_format_rfc3339(now_us, at, sizeof at)));
        al_keep_resolved(self, j);
        if (self->emit)
            self->emit(self->arg, json_pack("{s:s,s:O}", "op", "alert", "alert", j));
        json_decref(j);
    }
    a->id = 0;
    a->acked = false;
    a->ack_by[0] = a->ack_comment[0] = '\0';
    a->ack_expires_us = a->ack_at_us = 0;
    a->tier = 0;
    a->notified = 0;
    a->firing_us = 0;
}

/* How long a live node may lack a metric before that counts as no data: the
 * metric's section cadence, a few times over (a counter delta needs two). */
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

static bool al_eval(alerting_t *self, al_node_t *an, al_alert_t *a, const node_view_t *n, const char *cluster,
                    int64_t now_us)
{
    const alert_rule_t *r = &self->ac->rules[a->rule];
    if (!r->enabled)
        return false;
    unsigned role = n->role == PGVIGIL__ROLE__ROLE_PRIMARY ? ALERT_ROLE_PRIMARY
                    : n->role == PGVIGIL__ROLE__ROLE_REPLICA ? ALERT_ROLE_REPLICA : 0;
    bool applies = (role & r->roles) || (role == 0 && r->roles == (ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA));
    if (!applies && !a->id)
        return false;
    bool peak = al_in_peak(self, n->region, now_us);
    double factor = al_factor(self, r, peak);
    bool has = applies && n->known[r->metric];
    double value = n->value[r->metric];
    if (!has && applies && !n->stale && n->up &&
        ((an->live_since_us && now_us - an->live_since_us < al_grace_us(self, n, r->metric)) ||
         now_us - self->started_us < AL_START_GRACE_US))
        return false; /* (re)started, here or there: the value has not come round yet */
    alert_transition_t t = alert_eval(&a->sm, &r->params, has, value, factor, now_us);
    if (has)
        a->value = value;
    if (a->id || t.changed) {
        snprintf(a->cluster, sizeof a->cluster, "%s", cluster);
        snprintf(a->region, sizeof a->region, "%s", n->region);
        a->role = metric_role_name(n->role);
        alert_severity_t sev = a->sm.severity != ALERT_SEV_NONE ? a->sm.severity : alert_severity_of(&r->params, value, factor);
        a->threshold = alert_threshold(&r->params, sev == ALERT_SEV_NONE ? ALERT_SEV_WARNING : sev, factor);
        if (isnan(a->threshold))
            a->threshold = alert_threshold(&r->params, ALERT_SEV_CRITICAL, factor);
        al_summary(self, a);
    }
    if (!t.changed)
        return false;
    const char *from = alert_state_name(t.from), *to = alert_state_name(t.to);
    if (!a->id) {
        if (t.to != ALERT_PENDING && t.to != ALERT_FIRING)
            return false; /* e.g. inactive -> resolved bookkeeping */
        snprintf(a->node, sizeof a->node, "%s", n->name);
        a->id = al_next_id(self);
        a->started_us = now_us;
        a->peak = peak;
        al_summary(self, a);
    }
    a->peak = a->peak || peak;
    if (t.to == ALERT_FIRING && t.from == ALERT_PENDING)
        a->firing_us = now_us;
    if (t.to == ALERT_FIRING && t.from != ALERT_PENDING && !a->firing_us)
        a->firing_us = now_us;
    al_emit_event(self, a, from, to, t.flapping_started ? "flapping" : NULL, now_us);
    if (t.flapping_started && !a->flap_noticed) {
        size_t count;
        const alert_tier_t *tiers = al_tiers(self, peak, &count);
        a->flap_noticed = true;
        if (count && !al_silenced(self, a, now_us))
            for (size_t i = 0; i < tiers[0].receiver_count; i++)
                al_notify(self, a, tiers[0].receivers[i], "flapping", now_us);
    }
    if (t.flapping_ended)
        a->flap_noticed = false;
    if (t.to == ALERT_FIRING && t.from == ALERT_FIRING && a->notified)
        al_notify_notified(self, a, "firing", now_us); /* severity changed */
    if (t.to == ALERT_RESOLVED || t.to == ALERT_INACTIVE) {
        if (t.to == ALERT_RESOLVED)
            al_notify_notified(self, a, "resolved", now_us);
        al_close(self, a, to, now_us);
        return true;
    }
    al_emit_alert(self, a, NULL);
    al_escalate(self, a, now_us);
    return true;
}

bool alerting_node(alerting_t *self, const node_view_t *n, int64_t now_us)
{
    al_node_t *an = al_node(self, n->name);
    if (!an)
        return false;
    if (n->stale || !n->up || !n->seen)
        an->live_since_us = 0;
    else if (!an->live_since_us)
        an->live_since_us = now_us;
    const char *cluster = n->cluster_id ? n->cluster : "unknown";
    bool changed = false;
    for (size_t i = 0; i < self->ac->rule_count; i++)
        changed |= al_eval(self, an, &an->alerts[i], n, cluster, now_us);
    return changed;
}

bool alerting_tick(alerting_t *self, int64_t now_us)
{
    bool changed = false;
    for (al_node_t *an = zhashx_first(self->nodes); an; an = zhashx_next(self->nodes))
        for (size_t i = 0; i < self->ac->rule_count; i++) {
            al_alert_t *a = &an->alerts[i];
            if (!a->id)
                continue;
            if (a->acked && a->ack_expires_us && now_us >= a->ack_expires_us) {
                a->acked = false;
                a->ack_expires_us = 0;
                al_emit_event(self, a, alert_state_name(a->sm.state), alert_state_name(a->sm.state),
                              "acknowledgement expired", now_us);
                al_emit_alert(self, a, NULL);
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

/* ---- restore ---- */

static int64_t al_time(const json_t *j)
{
    int64_t us = 0;
    return json_is_string(j) && clock_parse_rfc3339(json_string_value(j), &us) == 0 ? us : 0;
}

static int al_rule_index(const alerting_t *self, const char *name)
{
    for (size_t i = 0; name && i < self->ac->rule_count; i++)
        if (strcmp(self->ac->rules[i].name, name) == 0)
            return (int)i;
    return -1;
}

static json_t *al_silence_json(const al_silence_t *s);
static int al_silence_from(alerting_t *self, const json_t *j, int64_t now_us, al_silence_t **out, char *err,
                           size_t errlen);

void alerting_restore(alerting_t *self, const json_t *alerts, const json_t *silences)
{
    size_t i;
    json_t *j;
    json_array_foreach(alerts, i, j) {
        int rule = al_rule_index(self, json_string_value(json_object_get(j, "rule")));
        const char *node = json_string_value(json_object_get(j, "node"));
        const char *state = json_string_value(json_object_get(j, "state"));
        uint64_t id = (uint64_t)json_integer_value(json_object_get(j, "id"));
        if (id > self->last_id)
            self->last_id = id;
        if (state && strcmp(state, "pending") != 0 && strcmp(state, "firing") != 0 && strcmp(state, "nodata") != 0) {
            al_keep_resolved(self, j); /* closed: for the API's history only */
            continue;
        }
        al_node_t *an = node ? al_node(self, node) : NULL;
        if (rule < 0 || !an || !state || !id) {
            log_warning("alert %" PRIu64 " is not restored: its rule is no longer configured", id);
            continue;
        }
        al_alert_t *a = &an->alerts[rule];
        a->id = id;
        snprintf(a->node, sizeof a->node, "%s", node);
        snprintf(a->cluster, sizeof a->cluster, "%s", json_string_value(json_object_get(j, "cluster")) ?: "");
        snprintf(a->region, sizeof a->region, "%s", json_string_value(json_object_get(j, "region")) ?: "");
        snprintf(a->summary, sizeof a->summary, "%s", json_string_value(json_object_get(j, "summary")) ?: "");
        const char *sev = json_string_value(json_object_get(j, "severity"));
        a->sm.severity = sev && strcmp(sev, "critical") == 0 ? ALERT_SEV_CRITICAL
                         : sev && strcmp(sev, "warning") == 0 ? ALERT_SEV_WARNING : ALERT_SEV_NONE;
        a->started_us = al_time(json_object_get(j, "started_at"));
        a->firing_us = al_time(json_object_get(j, "firing_at"));
        a->sm.pending_since_us = a->started_us;
        a->sm.firing_since_us = a->firing_us;
        a->sm.changed_at_us = a->firing_us ? a->firing_us : a->started_us;
        if (strcmp(state, "firing") == 0)
            a->sm.state = ALERT_FIRING;
        else if (strcmp(state, "nodata") == 0) {
            a->sm.state = ALERT_NODATA;
            a->sm.before_nodata = a->firing_us ? ALERT_FIRING : ALERT_PENDING;
        } else
            a->sm.state = ALERT_PENDING;
        a->acked = json_is_true(json_object_get(j, "acknowledged"));
        json_t *ack = json_object_get(j, "acknowledgement");
        if (a->acked && ack) {
            snprintf(a->ack_by, sizeof a->ack_by, "%s", json_string_value(json_object_get(ack, "by")) ?: "");
            snprintf(a->ack_comment, sizeof a->ack_comment, "%s",
                     json_string_value(json_object_get(ack, "comment")) ?: "");
            a->ack_at_us = al_time(json_object_get(ack, "at"));
            a->ack_expires_us = json_integer_value(json_object_get(ack, "expires_at")) * 1000000;
        }
        a->peak = json_is_true(json_object_get(j, "peak"));
        a->tier = (int)json_integer_value(json_object_get(j, "tier"));
        a->value = json_is_number(json_object_get(j, "value")) ? json_number_value(json_object_get(j, "value")) : NAN;
        size_t k;
        json_t *name;
        json_array_foreach(json_object_get(j, "notified"), k, name) {
            int r = json_string_value(name) ? alert_config_receiver(self->ac, json_string_value(name)) : -1;
            if (r >= 0)
                a->notified |= 1ull << r;
        }
    }
    json_array_foreach(silences, i, j) {
        al_silence_t *s = NULL;
        char err[256];
        if (al_silence_from(self, j, 0, &s, err, sizeof err) == 0) {
            s->id = (uint64_t)json_integer_value(json_object_get(j, "id"));
            if (s->id > self->last_id)
                self->last_id = s->id;
            zlistx_add_end(self->silences, s);
        }
    }
    if (json_array_size(alerts) || json_array_size(silences))
        log_info("restored %zu alerts (open and recently closed) and %zu silences", json_array_size(alerts),
                 json_array_size(silences));
}

/* ---- commands ---- */

static al_alert_t *al_find(alerting_t *self, uint64_t id)
{
    for (al_node_t *an = zhashx_first(self->nodes); an; an = zhashx_next(self->nodes))
        for (size_t i = 0; i < self->ac->rule_count; i++)
            if (an->alerts[i].id == id)
                return &an->alerts[i];
    return NULL;
}

static const char *al_text(const json_t *cmd, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(cmd, key));
    return v ? v : def;
}

static int al_silence_from(alerting_t *self, const json_t *j, int64_t now_us, al_silence_t **out, char *err,
                           size_t errlen)
{
    (void)self;
    json_t *ms = json_object_get(j, "matchers");
    if (!json_is_array(ms) || json_array_size(ms) == 0 || json_array_size(ms) > 32) {
        snprintf(err, errlen, "expected \"matchers\": [{\"name\": \"node\", \"value\": \"db1\"}, ...] (1 to 32)");
        return -1;
    }
    al_silence_t *s = calloc(1, sizeof *s);
    if (!s || !(s->m = calloc(json_array_size(ms), sizeof *s->m))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *value = json_string_value(json_object_get(m, "value"));
        json_t *rx = json_object_get(m, "regex");
        if (!name || !value || !*name || strlen(name) >= sizeof s->m[i].name ||
            strlen(value) >= sizeof s->m[i].value - 8 || (rx && !json_is_boolean(rx))) {
            snprintf(err, errlen, "matchers[%zu]: expected {\"name\": text, \"value\": text, \"regex\": bool}", i);
            void *p = s;
            al_silence_free(&p);
            return -1;
        }
        snprintf(s->m[i].name, sizeof s->m[i].name, "%s", name);
        snprintf(s->m[i].value, sizeof s->m[i].value, "%s", value);
        if (json_is_true(rx)) {
            char anchored[AL_TEXT + 8];
            snprintf(anchored, sizeof anchored, "^(%s)$", value);
            if (regcomp(&s->m[i].re, anchored, REG_EXTENDED | REG_NOSUB) != 0) {
                snprintf(err, errlen, "matchers[%zu]: \"%s\" is not a valid extended regular expression", i, value);
                void *p = s;
                al_silence_free(&p);
                return -1;
            }
            s->m[i].regex = true;
        }
        s->nm = i + 1;
    }
    const char *starts = json_string_value(json_object_get(j, "starts_at"));
    const char *ends = json_string_value(json_object_get(j, "ends_at"));
    s->starts_us = now_us;
    if ((starts && clock_parse_rfc3339(starts, &s->starts_us) != 0) || !ends ||
        clock_parse_rfc3339(ends, &s->ends_us) != 0 || s->ends_us <= s->starts_us) {
        snprintf(err, errlen, "expected \"ends_at\" (and optionally \"starts_at\") as RFC 3339 times, ends_at "
                              "after starts_at");
        void *p = s;
        al_silence_free(&p);
        return -1;
    }
    snprintf(s->comment, sizeof s->comment, "%s", al_text(j, "comment", ""));
    snprintf(s->by, sizeof s->by, "%s", al_text(j, "created_by", al_text(j, "by", "anonymous")));
    const char *created = json_string_value(json_object_get(j, "created_at"));
    s->created_us = now_us;
    if (created)
        clock_parse_rfc3339(created, &s->created_us);
    *out = s;
    return 0;
}

static json_t *al_silence_json(const al_silence_t *s)
{
    char a[40], b[40], c[40];
    json_t *ms = json_array();
    for (size_t i = 0; i < s->nm; i++)
        json_array_append_new(ms, json_pack("{s:s,s:s,s:b}", "name", s->m[i].name, "value", s->m[i].value, "regex",
                                            s->m[i].regex));
    return json_pack("{s:I,s:o,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)s->id, "matchers", ms, "starts_at",
                     clock_format_rfc3339(s->starts_us, a, sizeof a), "ends_at",
                     clock_format_rfc3339(s->ends_us, b, sizeof b), "created_at",
                     clock_format_rfc3339(s->created_us, c, sizeof c), "comment", s->comment, "created_by", s->by);
}

int alerting_command(alerting_t *self, const json_t *cmd, int64_t now_us, json_t **reply)
{
    const char *what = al_text(cmd, "cmd", "");
    if (strcmp(what, "silence_add") == 0) {
        al_silence_t *s = NULL;
        char err[256];
        if (al_silence_from(self, cmd, now_us, &s, err, sizeof err) != 0) {
            *reply = core_error("bad_request", "%s", err);
            return 400;
        }
        s->id = al_next_id(self);
        zlistx_add_end(self->silences, s);
        json_t *j = al_silence_json(s);
        if (self->emit)
            self->emit(self->arg, json_pack("{s:s,s:O}", "op", "silence", "silence", j));
        *reply = json_pack("{s:o}", "silence", j);
        return 201;
    }
    uint64_t id = (uint64_t)json_integer_value(json_object_get(cmd, "id"));
    if (strcmp(what, "silence_delete") == 0) {
        for (al_silence_t *s = zlistx_first(self->silences); s; s = zlistx_next(self->silences))
            if (s->id == id) {
                zlistx_delete(self->silences, zlistx_cursor(self->silences));
                if (self->emit)
                    self->emit(self->arg, json_pack("{s:s,s:I}", "op", "silence_delete", "id", (json_int_t)id));
                *reply = json_pack("{s:b}", "deleted", 1);
                return 200;
            }
        *reply = core_error("not_found", "no silence %s", json_string_value(json_object_get(cmd, "id_text")) ?: "");
        return 404;
    }
    al_alert_t *a = id ? al_find(self, id) : NULL;
    if (!a) {
        *reply = core_error("not_found", "no open alert with id %s", al_text(cmd, "id_text", "?"));
        return 404;
    }
    const char *by = al_text(cmd, "by", "anonymous"), *comment = al_text(cmd, "comment", "");
    if (strcmp(what, "acknowledge") == 0) {
        uint64_t expires_ms = 0;
        const char *exp = json_string_value(json_object_get(cmd, "expires_in"));
        if (exp && config_parse_duration_ms(exp, &expires_ms) != 0) {
            *reply = core_error("bad_request", "expires_in: expected a duration such as \"30m\", got \"%s\"", exp);
            return 400;
        }
        bool was = a->acked;
        a->acked = true;
        a->ack_at_us = now_us;
        a->ack_expires_us = expires_ms ? now_us + (int64_t)expires_ms * 1000 : 0;
        snprintf(a->ack_by, sizeof a->ack_by, "%s", by);
        snprintf(a->ack_comment, sizeof a->ack_comment, "%s", comment);
        al_emit_event(self, a, alert_state_name(a->sm.state), alert_state_name(a->sm.state), "acknowledged", now_us);
        al_emit_alert(self, a, NULL);
        if (!was)
            al_notify_notified(self, a, "acknowledged", now_us);
        *reply = json_pack("{s:o}", "alert", al_json(self, a, NULL));
        return 200;
    }
    if (strcmp(what, "resolve") == 0) {
        al_emit_event(self, a, alert_state_name(a->sm.state), "resolved", "resolved by hand", now_us);
        al_notify_notified(self, a, "resolved", now_us);
        json_t *j = al_json(self, a, "resolved");
        al_close(self, a, "resolved", now_us);
        alert_init(&a->sm); /* re-armed: if the condition holds, a new alert follows after `for` */
        *reply = json_pack("{s:o}", "alert", j);
        return 200;
    }
    *reply = core_error("bad_request", "expected action \"acknowledge\" or \"resolve\", got \"%s\"", what);
    return 400;
}

/* ---- views ---- */

json_t *alerting_view(alerting_t *self, int64_t now_us)
{
    json_t *alerts = json_array(), *silences = json_array();
    for (al_node_t *an = zhashx_first(self->nodes); an; an = zhashx_next(self->nodes))
        for (size_t i = 0; i < self->ac->rule_count; i++) {
            al_alert_t *a = &an->alerts[i];
            if (!a->id)
                continue;
            json_t *j = al_json(self, a, NULL);
            json_object_set_new(j, "silenced", json_boolean(al_silenced(self, a, now_us)));
            json_array_append_new(alerts, j);
        }
    size_t i;
    json_t *r;
    json_array_foreach(self->resolved, i, r) json_array_append(alerts, r);
    for (al_silence_t *s = zlistx_first(self->silences); s; s = zlistx_next(self->silences)) {
        json_t *j = al_silence_json(s);
        json_object_set_new(j, "state", json_string(now_us < s->starts_us ? "pending"
                                                    : now_us < s->ends_us  ? "active"
                                                                           : "expired"));
        json_array_append_new(silences, j);
    }
    return json_pack("{s:o,s:o}", "alerts", alerts, "silences", silences);
}

void alerting_firing_counts(const alerting_t *self, unsigned *warning, unsigned *critical)
{
    *warning = *critical = 0;
    for (al_node_t *an = zhashx_first(self->nodes); an; an = zhashx_next(self->nodes))
        for (size_t i = 0; i < self->ac->rule_count; i++)
            if (an->alerts[i].id && an->alerts[i].sm.state == ALERT_FIRING) {
                if (an->alerts[i].sm.severity == ALERT_SEV_CRITICAL)
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
        if (al_in_peak(self, region, now_us))
            json_array_append_new(out, json_string(region));
    }
    return out;
}
