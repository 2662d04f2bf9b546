/*
 * alerting_emit.c — an alert as JSON (API, notifications, storage) and the durable messages
 * alerting emits: alert upserts, alert events, notifications; closing an alert (its last
 * JSON goes to the resolved list, then its details are freed: the state machine stays
 * with its (node, rule) for the caller to settle).
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

void alerting_summary(const alerting_t *self, al_alert_t *a)
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
                    case 5: sub = alert_severity_name(a->live->sm.severity); break;
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
    return a->id ? alert_state_name(a->live->sm.state) : "inactive";
}

json_t *alerting_labels(const alerting_t *self, const al_alert_t *a)
{
    const alert_rule_t *r = &self->ac->rules[a->rule];
    json_t *l = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "rule", r->name, "node", a->node, "cluster", a->cluster,
                          "region", a->region, "role", a->role ? a->role : "unknown", "severity",
                          alert_severity_name(a->live->sm.severity));
    for (size_t i = 0; l && i < r->label_count; i++)
        json_object_set_new(l, r->label_keys[i], json_string(r->label_values[i]));
    return l;
}

json_t *alerting_json(const alerting_t *self, const al_alert_t *a, const char *state)
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
                          a->node, "region", a->region, "severity", alert_severity_name(a->live->sm.severity), "state",
                          state ? state : al_state_name(a), "acknowledged", a->acked, "peak", a->peak, "tier",
                          a->tier, "started_at", started, "summary", a->summary, "firing_at",
                          a->firing_us ? json_string(firing) : json_null(), "value",
                          isnan(a->value) ? json_null() : json_real(a->value), "notified", notified, "flapping",
                          a->live->sm.flapping);
    if (!j)
        return NULL;
    if (a->cluster_id) {
        char cluster_id[24];
        snprintf(cluster_id, sizeof cluster_id, "%" PRIu64, a->cluster_id);
        json_object_set_new(j, "cluster_id", json_string(cluster_id));
    }
    json_object_set_new(j, "threshold", isnan(a->threshold) ? json_null() : json_real(a->threshold));
    json_object_set_new(j, "labels", alerting_labels(self, a));
    if (a->acked)
        json_object_set_new(j, "acknowledgement",
                            json_pack("{s:s,s:s,s:s,s:o}", "by", a->ack_by, "at", ack, "comment", a->ack_comment,
                                      "expires_at", a->ack_expires_us ? json_integer(a->ack_expires_us / 1000000)
                                                                      : json_null()));
    return j;
}

/* ---- durable messages ---- */

void alerting_emit_alert(alerting_t *self, const al_alert_t *a, const char *state)
{
    json_t *j = alerting_json(self, a, state);
    if (j && self->emit)
        self->emit(self->arg, json_pack("{s:s,s:o}", "op", "alert", "alert", j));
    else
        json_decref(j);
}

void alerting_emit_event(alerting_t *self, const al_alert_t *a, const char *from, const char *to,
                          const char *detail, int64_t now_us)
{
    if (!self->emit)
        return;
    char at[40];
    clock_format_rfc3339(now_us, at, sizeof at);
    self->emit(self->arg, json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "op", "event", "alert_id",
                                    (json_int_t)a->id, "seq", (json_int_t)alerting_next_id(self), "at", at, "from", from,
                                    "to", to, "severity", alert_severity_name(a->live->sm.severity), "detail",
                                    detail ? detail : ""));
}

void alerting_notify(alerting_t *self, al_alert_t *a, int receiver, const char *kind, int64_t now_us)
{
    char at[40];
    clock_format_rfc3339(now_us, at, sizeof at);
    json_t *alert = alerting_json(self, a, NULL);
    uint64_t id = alerting_next_id(self);
    json_t *payload = json_pack("{s:s,s:I,s:s,s:o}", "kind", kind, "id", (json_int_t)id, "at", at, "alert", alert);
    if (!payload || !self->emit) {
        json_decref(payload);
        return;
    }
    char cluster_id[24];
    snprintf(cluster_id, sizeof cluster_id, "%" PRIu64, a->cluster_id);
    self->emit(self->arg, json_pack("{s:s,s:I,s:I,s:s,s:s,s:o,s:s}", "op", "notify", "id", (json_int_t)id,
                                    "alert_id", (json_int_t)a->id, "receiver",
                                    self->ac->receivers[receiver].name, "kind", kind, "payload", payload,
                                    "cluster_id", cluster_id));
}

void alerting_notify_notified(alerting_t *self, al_alert_t *a, const char *kind, int64_t now_us)
{
    for (size_t i = 0; i < self->ac->receiver_count; i++)
        if (a->notified & (1ull << i))
            alerting_notify(self, a, (int)i, kind, now_us);
}

/* ---- evaluation ---- */

/* Keep a closed alert for the API, newest first, sorted by resolved_at. */
void alerting_keep_resolved(alerting_t *self, json_t *j)
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

void alerting_close(alerting_t *self, al_alert_t *a, const char *state, int64_t now_us)
{
    json_t *j = alerting_json(self, a, state);
    if (j) {
        char at[40];
        json_object_set_new(j, "resolved_at", json_string(clock_format_rfc3339(now_us, at, sizeof at)));
        alerting_keep_resolved(self, j);
        if (self->emit)
            self->emit(self->arg, json_pack("{s:s,s:O}", "op", "alert", "alert", j));
        json_decref(j);
    }
    alerting_unlist(self, a);
    free(a);
}
