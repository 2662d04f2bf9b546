/*
 * alerting_silence.c — silences: label matchers (exact or anchored extended regular
 * expressions) over a time range; parsing, matching, JSON.
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

void alerting_silence_free(void **item)
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

/* ---- silences ---- */

static const char *al_label(const json_t *labels, const char *name)
{
    return json_string_value(json_object_get(labels, name));
}

bool alerting_silenced(const alerting_t *self, const al_alert_t *a, int64_t now_us)
{
    if (zlistx_size(self->silences) == 0)
        return false;
    json_t *labels = alerting_labels(self, a);
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

int alerting_silence_from(alerting_t *self, const json_t *j, int64_t now_us, al_silence_t **out, char *err,
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
            alerting_silence_free(&p);
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
                alerting_silence_free(&p);
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
        alerting_silence_free(&p);
        return -1;
    }
    snprintf(s->comment, sizeof s->comment, "%s", alerting_text(j, "comment", ""));
    snprintf(s->by, sizeof s->by, "%s", alerting_text(j, "created_by", alerting_text(j, "by", "anonymous")));
    const char *created = json_string_value(json_object_get(j, "created_at"));
    s->created_us = now_us;
    if (created)
        clock_parse_rfc3339(created, &s->created_us);
    *out = s;
    return 0;
}

json_t *alerting_silence_json(const al_silence_t *s)
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


int alerting_silence_command(alerting_t *self, const json_t *cmd, const char *what, int64_t now_us, json_t **reply)
{
    if (strcmp(what, "silence_add") == 0) {
        al_silence_t *s = NULL;
        char err[256];
        if (alerting_silence_from(self, cmd, now_us, &s, err, sizeof err) != 0) {
            *reply = core_error("bad_request", "%s", err);
            return 400;
        }
        /* a silence made on another aggregator keeps its id everywhere */
        uint64_t given = (uint64_t)json_integer_value(json_object_get(cmd, "silence_id"));
        s->id = given ? given : alerting_next_id(self);
        if (given > self->last_id)
            self->last_id = given;
        zlistx_add_end(self->silences, s);
        json_t *j = alerting_silence_json(s);
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
    *reply = core_error("bad_request", "expected action \"acknowledge\" or \"resolve\", got \"%s\"", what);
    return 400;
}
