/*
 * alerting_command.c — operator commands from the HTTP API (via the core): acknowledge,
 * resolve, silence add and delete.
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

/* ---- commands ---- */

const char *alerting_text(const json_t *cmd, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(cmd, key));
    return v ? v : def;
}

static int alerting_acknowledge(alerting_t *self, al_alert_t *a, const json_t *cmd, int64_t now_us, json_t **reply)
{
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
    snprintf(a->ack_by, sizeof a->ack_by, "%s", alerting_text(cmd, "by", "anonymous"));
    snprintf(a->ack_comment, sizeof a->ack_comment, "%s", alerting_text(cmd, "comment", ""));
    alerting_emit_event(self, a, alert_state_name(a->live->sm.state), alert_state_name(a->live->sm.state),
                        "acknowledged", now_us);
    alerting_emit_alert(self, a, NULL);
    if (!was)
        alerting_notify_notified(self, a, "acknowledged", now_us);
    *reply = json_pack("{s:o}", "alert", alerting_json(self, a, NULL));
    return 200;
}

static int alerting_resolve(alerting_t *self, al_alert_t *a, int64_t now_us, json_t **reply)
{
    alerting_emit_event(self, a, alert_state_name(a->live->sm.state), "resolved", "resolved by hand", now_us);
    alerting_notify_notified(self, a, "resolved", now_us);
    json_t *j = alerting_json(self, a, "resolved");
    al_slot_t *slot = &a->an->slots[a->rule];
    const alert_params_t *p = &self->ac->rules[a->rule].params;
    alerting_close(self, a, "resolved", now_us); /* frees a */
    alert_init(&slot->live->sm); /* re-armed: if the condition holds, a new alert follows after `for` */
    alerting_settle(slot, p, now_us);
    *reply = json_pack("{s:o}", "alert", j);
    return 200;
}

/* POST /api/v1/receivers/{name}/test: one notification of kind "test",
 * sent to that receiver through the ordinary path (outbox, notify actor).
 * Replies 202 with its id; the outcome comes from notify (notify.h). */
static int alerting_receiver_test(alerting_t *self, const json_t *cmd, int64_t now_us, json_t **reply)
{
    const char *name = alerting_text(cmd, "receiver", "");
    if (alert_config_receiver(self->ac, name) < 0) {
        *reply = core_error("not_found", "no receiver named \"%s\" is configured", name);
        return 404;
    }
    char at[40], summary[AL_TEXT];
    clock_format_rfc3339(now_us, at, sizeof at);
    snprintf(summary, sizeof summary, "Test notification from pgvigil, sent by %s", alerting_text(cmd, "by", "?"));
    uint64_t id = alerting_next_id(self);
    json_t *alert = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:o}", "id", (json_int_t)0, "rule", "test",
                              "cluster", "", "node", "", "region", "", "severity", "warning", "state", "test",
                              "started_at", at, "summary", summary, "peak", 0, "labels", json_object());
    json_t *payload = alert ? json_pack("{s:s,s:I,s:s,s:o}", "kind", "test", "id", (json_int_t)id, "at", at,
                                        "alert", alert)
                            : NULL;
    if (!payload || !self->emit) {
        json_decref(payload);
        *reply = core_error("internal", "out of memory");
        return 500;
    }
    self->emit(self->arg, json_pack("{s:s,s:I,s:I,s:s,s:s,s:o}", "op", "notify", "id", (json_int_t)id, "alert_id",
                                    (json_int_t)0, "receiver", name, "kind", "test", "payload", payload));
    *reply = json_pack("{s:{s:I,s:s,s:s}}", "notification", "id", (json_int_t)id, "receiver", name, "kind", "test");
    return 202;
}

int alerting_command(alerting_t *self, const json_t *cmd, int64_t now_us, json_t **reply)
{
    const char *what = alerting_text(cmd, "cmd", "");
    if (strcmp(what, "receiver_test") == 0)
        return alerting_receiver_test(self, cmd, now_us, reply);
    if (strcmp(what, "silence_add") == 0 || strcmp(what, "silence_delete") == 0)
        return alerting_silence_command(self, cmd, what, now_us, reply);
    uint64_t id = (uint64_t)json_integer_value(json_object_get(cmd, "id"));
    al_alert_t *a = id ? alerting_find(self, id) : NULL;
    if (!a) {
        *reply = core_error("not_found", "no open alert with id %s", alerting_text(cmd, "id_text", "?"));
        return 404;
    }
    if (strcmp(what, "acknowledge") == 0)
        return alerting_acknowledge(self, a, cmd, now_us, reply);
    if (strcmp(what, "resolve") == 0)
        return alerting_resolve(self, a, now_us, reply);
    *reply = core_error("bad_request", "expected action \"acknowledge\" or \"resolve\", got \"%s\"", what);
    return 400;
}
