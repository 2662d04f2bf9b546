/*
 * http_stream.c — GET /api/v1/stream: the fleet pushed as Server-Sent Events.
 *
 * Each event carries what a dashboard shows at a glance, whenever the core
 * publishes a new snapshot (at most one per publish_interval, checked every
 * 200 ms here):
 *   id: <snapshot version>
 *   event: fleet
 *   data: {"version","status","nodes","up","down","stale","peak_regions",
 *          "clusters":[...],"alerts":[open alerts]}
 * and a comment line every 15 s to keep proxies from closing an idle stream.
 * A stream holds one civetweb worker, so at most HTTP_STREAMS_MAX run at once
 * (503 beyond); each ends when the client goes away or the server stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "http_internal.h"

static char *hs_event(const snapshot_t *s)
{
    json_t *open = json_array(), *a;
    size_t i;
    json_array_foreach(s->alerts, i, a) {
        const char *st = json_string_value(json_object_get(a, "state"));
        if (st && (strcmp(st, "pending") == 0 || strcmp(st, "firing") == 0 || strcmp(st, "nodata") == 0))
            json_array_append(open, a);
    }
    json_t *ev = json_pack("{s:I,s:s,s:i,s:i,s:i,s:i,s:O,s:O,s:o}", "version", (json_int_t)s->version, "status",
                           s->status, "nodes", (int)s->node_count, "up", (int)s->nodes_up, "down", (int)s->nodes_down,
                           "stale", (int)s->nodes_stale, "peak_regions",
                           s->peak_regions ? s->peak_regions : json_array(), "clusters",
                           s->clusters ? s->clusters : json_array(), "alerts", open);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return text;
}

int http_stream(const http_req_t *r)
{
    http_t *h = r->http;
    if (atomic_fetch_add(&h->streams, 1) >= HTTP_STREAMS_MAX) {
        atomic_fetch_sub(&h->streams, 1);
        return http_error(r->conn, 503, "unavailable", "too many open streams; retry later");
    }
    mg_printf(r->conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                       "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nX-Accel-Buffering: no\r\n"
                       "%s%s%sConnection: close\r\n\r\nretry: 2000\n\n",
              h->cfg->auth.cors_origin ? "Access-Control-Allow-Origin: " : "",
              h->cfg->auth.cors_origin ? h->cfg->auth.cors_origin : "", h->cfg->auth.cors_origin ? "\r\n" : "");
    uint64_t sent = 0;
    int64_t ping_at = clock_mono_us() + 15000000;
    while (!atomic_load(&h->stopping)) {
        const snapshot_t *s = snapshot_acquire(h->snapshots);
        char *text = s->version != sent ? hs_event(s) : NULL;
        uint64_t version = s->version;
        snapshot_release(h->snapshots, s);
        int rc = 1;
        if (text) {
            rc = mg_printf(r->conn, "id: %llu\nevent: fleet\ndata: %s\n\n", (unsigned long long)version, text);
            free(text);
            sent = version;
        } else if (clock_mono_us() >= ping_at) {
            rc = mg_printf(r->conn, ": ping\n\n");
            ping_at = clock_mono_us() + 15000000;
        }
        if (rc <= 0)
            break; /* the client went away */
        usleep(200000);
    }
    atomic_fetch_sub(&h->streams, 1);
    return 200;
}
