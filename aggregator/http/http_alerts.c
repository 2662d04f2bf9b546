/*
 * http_alerts.c — alert and silence routes.
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
        return http_json(r->conn, 200, json_pack("{s:O}", kind, x));
    return http_error(r->conn, 404, "not_found", "no %s %" PRIu64 "%s", kind, id, hint ? hint : "");
}

/* The request body as a JSON object, or an error already sent (NULL). */
json_t *http_read_json(const http_req_t *r)
{
    const struct mg_request_info *ri = mg_get_request_info(r->conn);
    if (ri->content_length > HTTP_BODY_MAX) {
        http_error(r->conn, 413, "payload_too_large", "request bodies are limited to %d bytes", HTTP_BODY_MAX);
        return NULL;
    }
    char *buf = malloc(HTTP_BODY_MAX + 1);
    if (!buf) {
        http_error(r->conn, 500, "internal", "out of memory");
        return NULL;
    }
    size_t len = 0;
    int n;
    while (len <= HTTP_BODY_MAX && (n = mg_read(r->conn, buf + len, HTTP_BODY_MAX + 1 - len)) > 0)
        len += (size_t)n;
    if (len > HTTP_BODY_MAX) {
        free(buf);
        http_error(r->conn, 413, "payload_too_large", "request bodies are limited to %d bytes", HTTP_BODY_MAX);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!json_is_object(j)) {
        json_decref(j);
        http_error(r->conn, 400, "bad_request", "expected a JSON object: %s", j ? "got another JSON value" : jerr.text);
        return NULL;
    }
    return j;
}

/* Only known keys, each a string when present. */
static bool ha_strings(const http_req_t *r, const json_t *body, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k) != 0)
            i++;
        if (!keys[i]) {
            http_error(r->conn, 400, "bad_request", "unknown field \"%s\"", k);
            return false;
        }
        if (!json_is_string(v) && strcmp(k, "matchers") != 0) {
            http_error(r->conn, 400, "bad_request", "field \"%s\" must be a string", k);
            return false;
        }
    }
    return true;
}

int http_core_command(const http_req_t *r, json_t *cmd, const char *action, const char *target)
{
    char what[160];
    snprintf(what, sizeof what, "%s %s: %s", r->method, r->path, action);
    const char *by = json_string_value(json_object_get(cmd, "by"));
    char who[160];
    if (r->http->cfg->auth.enabled) /* the token names the actor; a "by" in the body only adds to it */
        snprintf(who, sizeof who, by && strcmp(by, r->who) != 0 ? "%s (%s)" : "%s", r->who, by ? by : "");
    else
        snprintf(who, sizeof who, "%s", by ? by : r->client ? r->client : "anonymous");
    json_object_set_new(cmd, "by", json_string(who));
    json_object_set_new(cmd, "audit", json_pack("{s:s,s:s,s:s,s:s,s:s}", "who", who, "role", auth_role_name(r->role),
                                                "action", what, "target", target, "client",
                                                r->client ? r->client : ""));
    json_t *body = NULL;
    int status = core_command(cmd, HTTP_COMMAND_TIMEOUT_MS, &body);
    json_decref(cmd);
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
        json_array_append(out, a);
    }
    return http_json(r->conn, 200, json_pack("{s:o}", "alerts", out));
}

int http_alerts(const http_req_t *r, const char *rest)
{
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (!rest || !*rest) {
        if (!get)
            return http_error(r->conn, 405, "method_not_allowed", "%s is not allowed on /api/v1/alerts", r->method);
        return ha_list(r);
    }
    uint64_t id;
    if (!http_id(rest, &id))
        return http_error(r->conn, 404, "not_found", "no alert \"%s\"", rest);
    if (get)
        return http_item(r, r->snap->alerts, id, "alert", NULL);
    if (strcmp(r->method, "PATCH") != 0)
        return http_error(r->conn, 405, "method_not_allowed", "%s is not allowed on an alert", r->method);
    json_t *body = http_read_json(r);
    if (!body)
        return 400;
    static const char *const keys[] = {"action", "comment", "by", "expires_in", NULL};
    const char *action = json_string_value(json_object_get(body, "action"));
    if (!ha_strings(r, body, keys)) {
        json_decref(body);
        return 400;
    }
    if (!action || (strcmp(action, "acknowledge") != 0 && strcmp(action, "resolve") != 0)) {
        json_decref(body);
        return http_error(r->conn, 400, "bad_request", "expected \"action\": \"acknowledge\" or \"resolve\"");
    }
    char verb[16];
    snprintf(verb, sizeof verb, "%s", action);
    json_t *cmd = body;
    json_object_set_new(cmd, "cmd", json_string(verb));
    json_object_del(cmd, "action"); /* action pointed into it: not used after this */
    json_object_set_new(cmd, "id", json_integer((json_int_t)id));
    json_object_set_new(cmd, "id_text", json_string(rest));
    return http_core_command(r, cmd, verb, rest);
}

int http_silences(const http_req_t *r, const char *rest)
{
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (!rest || !*rest) {
        if (get)
            return http_json(r->conn, 200, json_pack("{s:O}", "silences", r->snap->silences));
        if (strcmp(r->method, "POST") != 0)
            return http_error(r->conn, 405, "method_not_allowed", "%s is not allowed on /api/v1/silences", r->method);
        json_t *body = http_read_json(r);
        if (!body)
            return 400;
        static const char *const keys[] = {"matchers", "starts_at", "ends_at", "comment", "by", NULL};
        if (!ha_strings(r, body, keys)) {
            json_decref(body);
            return 400;
        }
        json_object_set_new(body, "cmd", json_string("silence_add"));
        return http_core_command(r, body, "silence", "new silence");
    }
    uint64_t id;
    if (!http_id(rest, &id))
        return http_error(r->conn, 404, "not_found", "no silence \"%s\"", rest);
    if (get)
        return http_item(r, r->snap->silences, id, "silence", NULL);
    if (strcmp(r->method, "DELETE") != 0)
        return http_error(r->conn, 405, "method_not_allowed", "%s is not allowed on a silence", r->method);
    return http_core_command(r, json_pack("{s:s,s:I,s:s}", "cmd", "silence_delete", "id", (json_int_t)id, "id_text", rest),
                      "delete silence", rest);
}
