/*
 * snapshot.h — immutable, reference-counted views of the fleet for readers.
 *
 * The core actor is the only writer: after changes (coalesced to at most one
 * per publish_interval) it builds a new snapshot_t and publishes it. HTTP
 * worker threads acquire the current snapshot, read it, and release it.
 * Acquire holds the holder's mutex only for a pointer load and an atomic
 * increment (publication swaps the pointer under it): the sample path never
 * touches it, and readers never wait on the core's work. A snapshot and everything it points to is never modified after
 * publication; readers must not change reference counts of its json_t values
 * (serialize or deep-copy what they need). The fleet's nodes and clusters
 * are fragments (frag.h) shared with the previous snapshot where they did
 * not change, so building one costs what changed.
 *
 * JSON shapes (the HTTP API serves these as they are):
 *   clusters: [{"id":"<system identifier>","name":"<display name or id>",
 *               "primary":"<node>"|null,"timeline":N,"status":"ok|degraded|critical",
 *               "nodes":[<node summary>...]}]
 *   node summary: {"node","cluster","role":"primary|replica|unknown","up":bool,
 *               "stale":bool,"state":"up|down|stale","region","timeline",
 *               "last_seen":"RFC 3339","server_version":N,
 *               "clock_offset_ms":X,
 *               "lag":{"bytes":N,"seconds":X,"receive_bytes":N,"apply_bytes":N,
 *                      "replay_paused":bool,"primary_replay_lag_seconds":X|null,
 *                      "wal_receiver_status":"streaming"|...}   (replicas only)}
 *               in clusters, replicas also carry "upstream": the member they
 *               stream from (matched by address and port), or null
 *   nodes: {"<node>": <node summary> + {"sample": <latest sample, pbjson>,
 *            "ingest":{"received","gaps","duplicates","restarts"}}}
 *   events: [{"at":"RFC 3339","cluster","node","kind","severity","message"}]
 *            newest first, the most recent 1000
 */
#ifndef PGVIGIL_SNAPSHOT_H
#define PGVIGIL_SNAPSHOT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "frag.h"

typedef struct snapshot {
    uint64_t version;             /* increases by one per publication */
    int64_t built_at_us;
    frag_set_t *node_frags;       /* node summaries (+ Prometheus lines, samples), by name */
    frag_set_t *cluster_frags;    /* clusters with their members, by id */
    json_t *events;               /* array, newest first */
    json_t *alerts;               /* array: open alerts, then recently resolved (alerting.h) */
    json_t *silences;             /* array: pending, active and recently expired */
    json_t *peak_regions;         /* array of region names in peak now */
    json_t *diag;                 /* object: node -> diagnostics document (diag.h) */
    json_t *maintenance;          /* array: operations, active and the most recent 500, newest first (maint.h) */
    unsigned alerts_warning, alerts_critical; /* firing */
    _Atomic(json_t *) clusters_cache; /* snapshot_clusters(), parsed on first use */
    /* Quick health verdict, served without touching JSON. */
    const char *status;           /* "ok" | "degraded" | "critical" | "empty" */
    uint32_t cluster_count, node_count, nodes_up, nodes_down, nodes_stale;
    uint64_t samples_applied;     /* samples the core had applied when built */
    int64_t publish_cost_us;      /* what a publish took lately (smoothed) */
    atomic_uint refs;             /* readers holding it, plus one while current */
} snapshot_t;

typedef struct snapshot_holder snapshot_holder_t;

snapshot_holder_t *snapshot_holder_new(void);
void snapshot_holder_destroy(snapshot_holder_t **self_p);

/* Allocate an empty snapshot for the core to fill. */
snapshot_t *snapshot_new(void);
/* Core thread: make snap current. The holder takes ownership; the previous
 * snapshot is freed once its last reader has released it. */
void snapshot_publish(snapshot_holder_t *self, snapshot_t *snap);
/* Any thread: the current snapshot (an empty one before the first publish);
 * pair with snapshot_release(). */
const snapshot_t *snapshot_acquire(snapshot_holder_t *self);
void snapshot_release(snapshot_holder_t *self, const snapshot_t *snap);

/* Readers (any thread, while holding snap). The clusters array (shape
 * above), parsed from the fragments on first use and kept with the snapshot:
 * borrowed, NULL on failure. For whole-fleet readers (full health, status
 * page); lists page through frag_set_write_json() instead. */
const json_t *snapshot_clusters(const snapshot_t *snap);
/* One node's full view (summary, sample, ingest): new JSON, NULL if absent. */
json_t *snapshot_node(const snapshot_t *snap, const char *name);
/* A node's JSON whose lag moves with the clock ("moving": a paused, cut off
 * or stuck replica) moved from the instant it was computed for (the core's
 * last tick, up to ~100 ms back) to now_us: seconds by the time passed,
 * bytes and receive_bytes by the primary's write rate times it (at most
 * SNAPSHOT_LAG_AHEAD_MAX_US ahead); anything else is left alone. */
#define SNAPSHOT_LAG_AHEAD_MAX_US 1000000LL
void snapshot_lag_to(json_t *node, int64_t now_us);
/* Every node's Prometheus lines, grouped by family. */
void snapshot_write_prom(const snapshot_t *snap, FILE *f);

#endif
