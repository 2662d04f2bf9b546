/*
 * http_status.c — the public status page: /api/v1/status (JSON) and /status
 * (HTML). Per region a coarse verdict and the open incidents, without node,
 * cluster or metric names and without numbers, so it can face customers.
 * No authentication; cacheable for 15 s.
 *
 *   outage       a primary in the region is down or unreachable
 *   degraded     a firing alert or a node not up in the region
 *   operational  otherwise
 *
 * {"regions":[{"region","status","incidents":[{"title","severity","since"}]}],
 *  "status":"operational|degraded|outage","updated_at"}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "http_internal.h"

static const char *hs_title(const char *rule)
{
    if (strcmp(rule, "node_down") == 0)
        return "Database unavailable";
    if (strncmp(rule, "replica", 7) == 0 || strncmp(rule, "replication", 11) == 0 ||
        strcmp(rule, "replay_paused") == 0 || strncmp(rule, "slot", 4) == 0)
        return "Read replicas delayed";
    if (strcmp(rule, "collector_stale") == 0)
        return "Monitoring delayed";
    return "Performance degraded";
}

static int hs_rank(const char *status)
{
    return strcmp(status, "outage") == 0 ? 2 : strcmp(status, "degraded") == 0 ? 1 : 0;
}

static const char *hs_worse(const char *a, const char *b)
{
    return hs_rank(a) >= hs_rank(b) ? a : b;
}

static json_t *hs_region(json_t *regions, const char *name)
{
    json_t *r = json_object_get(regions, name);
    if (!r) {
        r = json_pack("{s:s,s:s,s:[]}", "region", name, "status", "operational", "incidents");
        json_object_set_new(regions, name, r);
    }
    return r;
}

static void hs_set(json_t *region, const char *status)
{
    const char *now = json_string_value(json_object_get(region, "status"));
    json_object_set_new(region, "status", json_string(hs_worse(now, status)));
}

static json_t *hs_build(const snapshot_t *s)
{
    json_t *regions = json_object();
    size_t i, j;
    json_t *a;
    for (i = 0; s->node_frags && i < s->node_frags->count; i++) {
        const frag_t *n = s->node_frags->items[i];
        if (!n->id[0]) /* not in a cluster yet */
            continue;
        json_t *r = hs_region(regions, n->region[0] ? n->region : "default");
        if (n->state != FRAG_UP)
            hs_set(r, n->role == PGVIGIL__ROLE__ROLE_PRIMARY ? "outage" : "degraded");
    }
    json_array_foreach(s->alerts, i, a)
    {
        const char *state = json_string_value(json_object_get(a, "state"));
        if (!state || strcmp(state, "firing") != 0)
            continue;
        const char *region = json_string_value(json_object_get(a, "region"));
        const char *rule = json_string_value(json_object_get(a, "rule"));
        const char *sev = json_string_value(json_object_get(a, "severity"));
        json_t *r = hs_region(regions, region && *region ? region : "default");
        const char *title = hs_title(rule ? rule : "");
        bool primary_down = rule && strcmp(rule, "node_down") == 0 &&
                            strcmp(json_string_value(json_object_get(json_object_get(a, "labels"), "role")) ?: "",
                                   "primary") == 0;
        hs_set(r, primary_down ? "outage" : "degraded");
        json_t *incidents = json_object_get(r, "incidents"), *inc;
        bool merged = false;
        json_array_foreach(incidents, j, inc) if (strcmp(json_string_value(json_object_get(inc, "title")), title) == 0)
        { /* one incident per kind: the earliest start, the worst severity */
            const char *since = json_string_value(json_object_get(inc, "since"));
            const char *started = json_string_value(json_object_get(a, "started_at"));
            if (started && since && strcmp(started, since) < 0)
                json_object_set_new(inc, "since", json_string(started));
            if (sev && strcmp(sev, "critical") == 0)
                json_object_set_new(inc, "severity", json_string("major"));
            merged = true;
        }
        if (!merged)
            json_array_append_new(incidents, json_pack("{s:s,s:s,s:s}", "title", title, "severity",
                                                       sev && strcmp(sev, "critical") == 0 ? "major" : "minor",
                                                       "since", json_string_value(json_object_get(a, "started_at"))
                                                                    ?: ""));
    }
    json_t *list = json_array();
    const char *overall = "operational", *key;
    json_t *r;
    json_object_foreach(regions, key, r) {
        overall = hs_worse(overall, json_string_value(json_object_get(r, "status")));
        json_array_append(list, r);
    }
    char at[40];
    json_t *out = json_pack("{s:o,s:s,s:s}", "regions", list, "status", overall, "updated_at",
                            clock_format_rfc3339(s->built_at_us, at, sizeof at));
    json_decref(regions);
    return out;
}

static void hs_escape(FILE *f, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*p, f);
        }
    }
}

int http_status(const http_req_t *r, bool html)
{
    static const char *cache = "Cache-Control: public, max-age=15\r\n";
    static const char *html_headers = "Cache-Control: public, max-age=15\r\n"
                                      "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
                                      "frame-ancestors 'none'\r\n";
    json_t *st = hs_build(r->snap);
    if (!html) {
        char *text = json_dumps(st, JSON_COMPACT);
        json_decref(st);
        int rc = http_send_ex(r->conn, 200, "application/json", text ? text : "{}", text ? strlen(text) : 2, cache);
        free(text);
        return rc;
    }
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    if (!f) {
        json_decref(st);
        return http_error(r->conn, 500, "internal", "out of memory");
    }
    const char *overall = json_string_value(json_object_get(st, "status"));
    fputs("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
          "<title>Service status</title><style>"
          "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}"
          ".operational{color:#1a7f37}.degraded{color:#9a6700}.outage{color:#cf222e}"
          "li{margin:.3rem 0}section{border-top:1px solid #ddd;padding:.5rem 0}</style></head><body>",
          f);
    fprintf(f, "<h1>Service status: <span class=\"%s\">%s</span></h1>", overall, overall);
    size_t i, j;
    json_t *reg, *inc;
    json_array_foreach(json_object_get(st, "regions"), i, reg) {
        const char *status = json_string_value(json_object_get(reg, "status"));
        fputs("<section><h2>", f);
        hs_escape(f, json_string_value(json_object_get(reg, "region")));
        fprintf(f, ": <span class=\"%s\">%s</span></h2><ul>", status, status);
        json_array_foreach(json_object_get(reg, "incidents"), j, inc) {
            fputs("<li>", f);
            hs_escape(f, json_string_value(json_object_get(inc, "title")));
            fputs(" (", f);
            hs_escape(f, json_string_value(json_object_get(inc, "severity")));
            fputs(", since ", f);
            hs_escape(f, json_string_value(json_object_get(inc, "since")));
            fputs(")</li>", f);
        }
        fputs("</ul></section>", f);
    }
    fputs("<p><small>Updated ", f);
    hs_escape(f, json_string_value(json_object_get(st, "updated_at")));
    fputs("</small></p></body></html>", f);
    fclose(f);
    json_decref(st);
    int rc = http_send_ex(r->conn, 200, "text/html; charset=utf-8", page, len, html_headers);
    free(page);
    return rc;
}
