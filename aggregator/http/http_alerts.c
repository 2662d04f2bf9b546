/*
 * http_alerts.c — alert and silence routes.
 *
 * (methods and roles: the route table in http.c)
 *
 *   GET    /api/v1/alerts?state=&severity=&cluster=&node=
 *          state: open (default: pending, firing, nodata), pending, firing,
 *          nodata, resolved, all
 *   GET    /api/v1/alerts/{id}
 *   PATCH  /api/v1/alerts/{id}   {"action":"acknowledge"|"resolve","comment","by","expires_in"}
 *   GET    /api/v1/silences
 *   POST   /api/v1/silences      {"matchers":[{"name","value","regex"}],"starts_at","ends_at","comment","by"}
 *   DELETE /api/v1/silences/{id}
 *
 * Reads come from the snapshot; changes go to the core (core_command) and
 * are visible to the next read once answered.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "http_internal.h"

#define HTTP_COMMAND_TIMEOUT_MS 5000

static bool ha_open(const char *state)
{
    return strcmp(state, "pending") == 0 || strcmp(state, "firing") == 0 || strcmp(state, "nodata") == 0;
}

bool http_id(const char *text, uint64_t *id)
{
    char *end;
    if (!text || !*text || *text == '-')
        return false;
    *id = strtoull(text, &end, 10);
    return *end == '\0' && *id > 0;
}

int http_item(const http_req_t *r, const json_t *list, uint64_t id, const char *kind, const char *hint)
{
    size_t i;
    const json_t *x;
    json_array_foreach(list, i, x) if ((uint64_t)json_integer_value(json_object_get(x, "id")) == id)
        return http_json(r->conn, 200, json_pack("{s:o}", kind, http_copy(x)));
    return http_error(r->conn, 404, "not_found", "no %s %" PRIu64 "%s", kind, id, hint ? hint : "");
}

int http_core_call(const http_req_t *r, json_t *cmd, const char *action, const char *target, json_t **body)
{
    char what[160];
    snprintf(what, sizeof what, "%s %s: %s", r->method, r->path, action);
    const char *by = json_string_value(json_object_get(cmd, "by"));
    char who[160];
    if (http_auth(r->http)->enabled) /* the token names the actor; a "by" in the body only adds to it */
        snprintf(who, sizeof who, by && strcmp(by, r->who) != 0 ? "%s (%s)" : "%s", r->who, by ? by : "");
    else
        snprintf(who, sizeof who, "%s", by ? by : r->client ? r->client : "anonymous");
    json_object_set_new(cmd, "by", json_string(who));
    json_object_set_new(cmd, "audit", json_pack("{s:s,s:s,s:s,s:s,s:s}", "who", who, "role", auth_role_name(r->role),
                                                "action", what, "target", target, "client",
                                                r->client ? r->client : ""));
    int status = core_command(cmd, HTTP_COMMAND_TIMEOUT_MS, body);
    json_decref(cmd);
    return status;
}

int http_core_command(const http_req_t *r, json_t *cmd, const char *action, const char *target)
{
    json_t *body = NULL;
    int status = http_core_call(r, cmd, action, target, &body);
    if (status == 503 && !body)
        return http_error(r->conn, 503, "unavailable", "the aggregator's core did not answer in time");
    return http_json(r->conn, status, body ? body : json_object());
}

static int ha_list(const http_req_t *r)
{
    char state[16] = "open", severity[16] = "", cluster[80] = "", node[80] = "";
    http_param(r, "state", state, sizeof state);
    http_param(r, "severity", severity, sizeof severity);
    http_param(r, "cluster", cluster, sizeof cluster);
    http_param(r, "node", node, sizeof node);
    static const char *const states[] = {"open", "pending", "firing", "nodata", "resolved", "all", NULL};
    size_t i = 0;
    while (states[i] && strcmp(states[i], state) != 0)
        i++;
    if (!states[i])
        return http_error(r->conn, 400, "bad_request",
                          "state must be open, pending, firing, nodata, resolved or all, not \"%s\"", state);
    if (severity[0] && strcmp(severity, "warning") != 0 && strcmp(severity, "critical") != 0)
        return http_error(r->conn, 400, "bad_request", "severity must be warning or critical, not \"%s\"", severity);
    json_t *out = json_array(), *a;
    json_array_foreach(r->snap->alerts, i, a) {
        const char *st = json_string_value(json_object_get(a, "state"));
        if (!st)
            continue;
        bool state_ok = strcmp(state, "all") == 0 || (strcmp(state, "open") == 0 && ha_open(st)) ||
                        (strcmp(state, "resolved") == 0 && !ha_open(st)) || strcmp(state, st) == 0;
        if (!state_ok ||
            (severity[0] && strcmp(json_string_value(json_object_get(a, "severity")), severity) != 0) ||
            (cluster[0] && strcmp(json_string_value(json_object_get(a, "cluster")), cluster) != 0) ||
            (node[0] && strcmp(json_string_value(json_object_get(a, "node")), node) != 0))
            continue;
        json_array_append_new(out, http_copy(a));
    }
    return http_json(r->conn, 200, json_pack("{s:o}", "alerts", out));
}

int http_alerts(const http_req_t *r)
{
    return ha_list(r);
}

int http_alert(const http_req_t *r)
{
    const char *rest = r->arg[0];
    uint64_t id;
    if (!http_id(rest, &id))
        return http_error(r->conn, 404, "not_found", "no alert \"%s\"", rest);
    return http_item(r, r->snap->alerts, id, "alert", NULL);
}

/* PATCH /api/v1/alerts/{id} */
int http_alert_change(const http_req_t *r)
{
    const char *rest = r->arg[0];
    uint64_t id;
    char msg[256];
    if (!http_id(rest, &id))
        return http_error(r->conn, 404, "not_found", "no alert \"%s\"", rest);
    json_t *body = http_read_json(r);
    if (!body)
        return 400;
    if (!http_body_alert_action(body, msg, sizeof msg)) {
        json_decref(body);
        return http_error(r->conn, 400, "bad_request", "%s", msg);
    }
    char verb[16];
    snprintf(verb, sizeof verb, "%s", json_string_value(json_object_get(body, "action")));
    json_t *cmd = body;
    json_object_set_new(cmd, "cmd", json_string(verb));
    json_object_del(cmd, "action");
    json_object_set_new(cmd, "id", json_integer((json_int_t)id));
    json_object_set_new(cmd, "id_text", json_string(rest));
    return http_core_command(r, cmd, verb, rest);
}

int http_silences(const http_req_t *r)
{
    return http_json(r->conn, 200, json_pack("{s:o}", "silences", http_copy(r->snap->silences)));
}

int http_silence(const http_req_t *r)
{
    const char *rest = r->arg[0];
    uint64_t id;
    if (!http_id(rest, &id))
        return http_error(r->conn, 404, "not_found", "no silence \"%s\"", rest);
    return http_item(r, r->snap->silences, id, "silence", NULL);
}

/* POST /api/v1/silences */
int http_silence_add(const http_req_t *r)
{
    char msg[256];
    json_t *body = http_read_json(r);
    if (!body)
        return 400;
    if (!http_body_silence(body, msg, sizeof msg)) {
        json_decref(body);
        return http_error(r->conn, 400, "bad_request", "%s", msg);
    }
    json_object_set_new(body, "cmd", json_string("silence_add"));
    return http_core_command(r, body, "silence", "new silence");
}

/* DELETE /api/v1/silences/{id} */
int http_silence_delete(const http_req_t *r)
{
    const char *rest = r->arg[0];
    uint64_t id;
    if (!http_id(rest, &id))
        return http_error(r->conn, 404, "not_found", "no silence \"%s\"", rest);
    return http_core_command(
        r, json_pack("{s:s,s:I,s:s}", "cmd", "silence_delete", "id", (json_int_t)id, "id_text", rest),
        "delete silence", rest);
}
