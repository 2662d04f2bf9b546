/*
 * http_stream.c — GET /api/v1/stream: the fleet pushed as Server-Sent Events.
 *
 * Each event carries what a dashboard shows at a glance, whenever the core
 * publishes a new snapshot (at most one per publish_interval, checked every
 * 200 ms here):
 *   id: <snapshot version>
 *   event: fleet
 *   data: {"version","status","nodes","up","down","stale","peak_regions",
 *          "clusters":[...],"clusters_paged":bool,"alerts":[open alerts]}
 *   (clusters empty and clusters_paged true beyond HTTP_STREAM_CLUSTERS_MAX)
 * and a comment line every 15 s to keep proxies from closing an idle stream.
 * Events are at least HTTP_STREAM_GAP_US apart, and gzip-compressed (one
 * deflate stream, flushed after each event) when the client accepts it.
 * A stream holds one civetweb worker, so at most HTTP_STREAMS_MAX run at once
 * (503 beyond); each ends when the client goes away or the server stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "clock.h"

#include "http_internal.h"

/* At most one event a second: a large fleet changes with every sample. */
#define HTTP_STREAM_GAP_US 1000000
#define HTTP_STREAM_CLUSTERS_MAX 500 /* beyond this, events carry no clusters */

static char *hs_event(const snapshot_t *s)
{
    json_t *open = json_array(), *a;
    size_t i;
    json_array_foreach(s->alerts, i, a) {
        const char *st = json_string_value(json_object_get(a, "state"));
        if (st && (strcmp(st, "pending") == 0 || strcmp(st, "firing") == 0 || strcmp(st, "nodata") == 0))
            json_array_append_new(open, http_copy(a));
    }
    /* A large fleet is not sent whole every second: the dashboard pages
     * through /api/v1/clusters instead ("clusters_paged"). */
    bool paged = s->cluster_count > HTTP_STREAM_CLUSTERS_MAX;
    const json_t *clusters = paged ? NULL : snapshot_clusters(s);
    json_t *ev = json_pack("{s:I,s:s,s:i,s:i,s:i,s:i,s:o,s:o,s:b,s:o}", "version", (json_int_t)s->version, "status",
                           s->status, "nodes", (int)s->node_count, "up", (int)s->nodes_up, "down", (int)s->nodes_down,
                           "stale", (int)s->nodes_stale, "peak_regions",
                           s->peak_regions ? http_copy(s->peak_regions) : json_array(), "clusters",
                           clusters ? http_copy(clusters) : json_array(), "clusters_paged", paged, "alerts", open);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return text;
}

/* Write text, through the gzip stream when there is one (each event is
 * flushed whole, so the browser can show it at once). */
static int hs_write(struct mg_connection *conn, z_stream *z, const char *text, size_t len)
{
    if (!z)
        return mg_write(conn, text, len);
    unsigned char out[16384];
    z->next_in = (Bytef *)text;
    z->avail_in = (uInt)len;
    do {
        z->next_out = out;
        z->avail_out = sizeof out;
        if (deflate(z, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
            return -1;
        size_t n = sizeof out - z->avail_out;
        if (n && mg_write(conn, out, n) <= 0)
            return -1;
    } while (z->avail_out == 0);
    return (int)len;
}

int http_stream(const http_req_t *r)
{
    http_t *h = r->http;
    if (atomic_fetch_add(&h->streams, 1) >= HTTP_STREAMS_MAX) {
        atomic_fetch_sub(&h->streams, 1);
        return http_error(r->conn, 503, "unavailable", "too many open streams; retry later");
    }
    z_stream zs = {0}, *z = NULL;
    if (http_accepts_gzip(r->conn) && deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK)
        z = &zs;
    mg_printf(r->conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                       "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nX-Accel-Buffering: no\r\n"
                       "%s%s%s%sConnection: close\r\n\r\n",
              z ? "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n" : "",
              h->cfg->auth.cors_origin ? "Access-Control-Allow-Origin: " : "",
              h->cfg->auth.cors_origin ? h->cfg->auth.cors_origin : "", h->cfg->auth.cors_origin ? "\r\n" : "");
    int rc = hs_write(r->conn, z, "retry: 2000\n\n", 13);
    uint64_t sent = 0;
    int64_t ping_at = clock_mono_us() + 15000000, next_at = 0;
    while (rc > 0 && !atomic_load(&h->stopping)) {
        int64_t now = clock_mono_us();
        const snapshot_t *s = now >= next_at ? snapshot_acquire(h->snapshots) : NULL;
        char *text = s && s->version != sent ? hs_event(s) : NULL;
        uint64_t version = s ? s->version : 0;
        if (s)
            snapshot_release(h->snapshots, s);
        if (text) {
            char head[64];
            int n = snprintf(head, sizeof head, "id: %llu\nevent: fleet\ndata: ", (unsigned long long)version);
            rc = hs_write(r->conn, z, head, (size_t)n);
            if (rc > 0)
                rc = hs_write(r->conn, z, text, strlen(text));
            if (rc > 0)
                rc = hs_write(r->conn, z, "\n\n", 2);
            free(text);
            sent = version;
            next_at = now + HTTP_STREAM_GAP_US;
            ping_at = now + 15000000;
        } else if (now >= ping_at) {
            rc = hs_write(r->conn, z, ": ping\n\n", 8);
            ping_at = now + 15000000;
        }
        usleep(200000);
    }
    if (z)
        deflateEnd(z);
    atomic_fetch_sub(&h->streams, 1);
    return 200;
}
