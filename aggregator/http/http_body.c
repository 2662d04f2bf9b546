/*
 * http_body.c — JSON request bodies: size, depth, shape (see http_body.h).
 *
 * Owns nothing: every function is pure over its arguments.
 */
#include "http_body.h"

#include <stdio.h>
#include <string.h>

int http_body_depth(const char *text, size_t len, int limit)
{
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest && (deepest = depth) > limit)
                return limit + 1;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

int http_body_parse(const char *text, size_t len, json_t **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (len > HTTP_BODY_MAX) {
        snprintf(msg, msglen, "request bodies are limited to %d bytes", HTTP_BODY_MAX);
        return 413;
    }
    if (http_body_depth(text, len, HTTP_BODY_DEPTH_MAX) > HTTP_BODY_DEPTH_MAX) {
        snprintf(msg, msglen, "the body nests arrays and objects deeper than %d levels", HTTP_BODY_DEPTH_MAX);
        return 400;
    }
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j)) {
        snprintf(msg, msglen, "expected a JSON object: %s", j ? "got another JSON value" : jerr.text);
        json_decref(j);
        return 400;
    }
    *out = j;
    return 0;
}

static bool hb_in(const char *const *names, const char *name)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* Only keys, each a string when present (except the one named any). */
static bool hb_strings(const json_t *body, const char *const *keys, const char *any, char *msg, size_t msglen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (!hb_in(keys, k)) {
            snprintf(msg, msglen, "unknown field \"%s\"", k);
            return false;
        }
        if (!json_is_string(v) && !(any && strcmp(k, any) == 0)) {
            snprintf(msg, msglen, "field \"%s\" must be a string", k);
            return false;
        }
    }
    return true;
}

bool http_body_alert_action(const json_t *body, char *msg, size_t msglen)
{
    static const char *const keys[] = {"action", "comment", "by", "expires_in", NULL};
    if (!hb_strings(body, keys, NULL, msg, msglen))
        return false;
    const char *action = json_string_value(json_object_get(body, "action"));
    if (!action || (strcmp(action, "acknowledge") != 0 && strcmp(action, "resolve") != 0)) {
        snprintf(msg, msglen, "expected \"action\": \"acknowledge\" or \"resolve\"");
        return false;
    }
    return true;
}

bool http_body_silence(const json_t *body, char *msg, size_t msglen)
{
    static const char *const keys[] = {"matchers", "starts_at", "ends_at", "comment", "by", NULL};
    return hb_strings(body, keys, "matchers", msg, msglen);
}

bool http_body_maintenance(const json_t *body, char *msg, size_t msglen)
{
    static const char *const strs[] = {"node", "operation", "database", "schema", "table", "index", "by",
                                       "comment", NULL};
    static const char *const bools[] = {"concurrently", "verbose", "analyze", "force", NULL};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        bool is_str = hb_in(strs, k), is_bool = hb_in(bools, k);
        if (!is_str && !is_bool) {
            snprintf(msg, msglen, "unknown key \"%s\"", k);
            return false;
        }
        if ((is_str && !json_is_string(v)) || (is_bool && !json_is_boolean(v))) {
            snprintf(msg, msglen, is_str ? "\"%s\" must be a string" : "\"%s\" must be true or false", k);
            return false;
        }
    }
    return true;
}
