/*
 * alerting_restore.c — open alerts and silences reloaded from the database at start; a
 * restored alert is not announced again. Hand-over between aggregators: forgetting the
 * alerts of clusters no longer ours, adopting those a previous owner stored. A restored
 * or adopted alert is opened (alerting_open: allocated and listed in the index) or, when
 * its (node, rule) has one open already, written over it.
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

/* The state machine of a restored open alert, from its stored state. */
static void al_restore_state(al_alert_t *a, const json_t *j, const char *state)
{
    alert_instance_t *sm = &a->live->sm;
    const char *sev = json_string_value(json_object_get(j, "severity"));
    sm->severity = sev && strcmp(sev, "critical") == 0  ? ALERT_SEV_CRITICAL
                   : sev && strcmp(sev, "warning") == 0 ? ALERT_SEV_WARNING
                                                        : ALERT_SEV_NONE;
    a->started_us = al_time(json_object_get(j, "started_at"));
    a->firing_us = al_time(json_object_get(j, "firing_at"));
    sm->pending_since_us = a->started_us;
    sm->firing_since_us = a->firing_us;
    sm->changed_at_us = a->firing_us ? a->firing_us : a->started_us;
    if (strcmp(state, "firing") == 0)
        sm->state = ALERT_FIRING;
    else if (strcmp(state, "nodata") == 0) {
        sm->state = ALERT_NODATA;
        sm->before_nodata = a->firing_us ? ALERT_FIRING : ALERT_PENDING;
    } else
        sm->state = ALERT_PENDING;
}

/* Acknowledgement, escalation and notified receivers of a restored alert. */
static void al_restore_progress(alerting_t *self, al_alert_t *a, const json_t *j)
{
    a->acked = json_is_true(json_object_get(j, "acknowledged"));
    json_t *ack = json_object_get(j, "acknowledgement");
    if (a->acked && ack) {
        snprintf(a->ack_by, sizeof a->ack_by, "%s", json_string_value(json_object_get(ack, "by")) ?: "");
        snprintf(a->ack_comment, sizeof a->ack_comment, "%s", json_string_value(json_object_get(ack, "comment")) ?: "");
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

static void al_restore_alert(alerting_t *self, json_t *j)
{
    int rule = al_rule_index(self, json_string_value(json_object_get(j, "rule")));
    const char *node = json_string_value(json_object_get(j, "node"));
    const char *state = json_string_value(json_object_get(j, "state"));
    uint64_t id = (uint64_t)json_integer_value(json_object_get(j, "id"));
    if (id > self->last_id)
        self->last_id = id;
    if (state && strcmp(state, "pending") != 0 && strcmp(state, "firing") != 0 && strcmp(state, "nodata") != 0) {
        alerting_keep_resolved(self, j); /* closed: for the API's history only */
        return;
    }
    al_node_t *an = node ? alerting_node_state(self, node) : NULL;
    if (rule < 0 || !an || !state || !id) {
        log_warning("alert %" PRIu64 " is not restored: its rule is no longer configured", id);
        return;
    }
    al_alert_t *a = alerting_open(self, an, rule, id); /* the one open here already, if any */
    if (!a) {
        alerting_settle(&an->slots[rule], &self->ac->rules[rule].params, clock_wall_us());
        return;
    }
    const char *cluster_id = json_string_value(json_object_get(j, "cluster_id"));
    a->cluster_id = cluster_id ? strtoull(cluster_id, NULL, 10) : 0;
    if (a->cluster_id)
        an->cluster_id = a->cluster_id;
    snprintf(a->node, sizeof a->node, "%s", node);
    snprintf(a->cluster, sizeof a->cluster, "%s", json_string_value(json_object_get(j, "cluster")) ?: "");
    snprintf(a->region, sizeof a->region, "%s", json_string_value(json_object_get(j, "region")) ?: "");
    snprintf(a->summary, sizeof a->summary, "%s", json_string_value(json_object_get(j, "summary")) ?: "");
    al_restore_state(a, j, state);
    al_restore_progress(self, a, j);
}

void alerting_restore(alerting_t *self, const json_t *alerts, const json_t *silences)
{
    size_t i;
    json_t *j;
    json_array_foreach(alerts, i, j) al_restore_alert(self, j);
    json_array_foreach(silences, i, j) {
        al_silence_t *s = NULL;
        char err[256];
        if (alerting_silence_from(self, j, 0, &s, err, sizeof err) == 0) {
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

/* ---- hand-over between aggregators ---- */

void alerting_forget_unowned(alerting_t *self)
{
    if (!self->owns)
        return;
    for (al_node_t *an = zhashx_first(self->nodes); an; an = zhashx_next(self->nodes)) {
        if (!an->cluster_id || self->owns(self->owns_arg, an->cluster_id))
            continue;
        for (size_t i = 0; i < self->ac->rule_count; i++)
            alerting_slot_clear(self, &an->slots[i]);
        an->live_since_us = 0;
    }
}

void alerting_adopt(alerting_t *self, const json_t *alerts)
{
    size_t i;
    json_t *j;
    json_array_foreach(alerts, i, j) {
        const char *state = json_string_value(json_object_get(j, "state"));
        if (state && (strcmp(state, "pending") == 0 || strcmp(state, "firing") == 0 || strcmp(state, "nodata") == 0))
            al_restore_alert(self, j);
    }
    if (json_array_size(alerts))
        log_info("took over %zu open alerts from the previous owner", json_array_size(alerts));
}
