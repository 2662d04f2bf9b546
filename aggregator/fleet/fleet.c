/*
 * fleet.c — fleet state and event detection (see fleet.h).
 *
 * Every sample updates its node; a primary's sample extends its cluster's
 * LSN ring (on the aggregator clock), a replica's sample is measured against
 * that ring. Events are emitted once per transition, never per sample.
 */
#include "fleet.h"
#include "fleet_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "clock.h"
#include "log.h"
#include "pbjson.h"
#include "store_line.h"

static void fleet_node_free(void **item)
{
    fleet_node_t *n = *item;
    if (n && n->latest)
        pgvigil__sample__free_unpacked(n->latest, NULL);
    free(n);
    *item = NULL;
}

static void fleet_cluster_free(void **item)
{
    free(*item);
    *item = NULL;
}

fleet_t *fleet_new(const agg_config_t *cfg)
{
    fleet_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->nodes = zhashx_new();
    self->clusters = zhashx_new();
    if (!self->nodes || !self->clusters) {
        fleet_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->nodes, fleet_node_free);
    zhashx_set_destructor(self->clusters, fleet_cluster_free);
    return self;
}

void fleet_destroy(fleet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fleet_t *self = *self_p;
    zhashx_destroy(&self->nodes);
    zhashx_destroy(&self->clusters);
    for (size_t i = 0; i < FLEET_EVENTS_MAX; i++)
        json_decref(self->events[i]);
    free(self);
    *self_p = NULL;
}

static void fleet_cluster_label(const fleet_t *self, uint64_t id, char *buf, size_t len)
{
    const char *name = agg_config_cluster_name(self->cfg, id);
    if (name)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "%" PRIu64, id);
}

void fleet_set_writer(fleet_t *self, store_writer_t *w) { self->writer = w; }

static void fleet_put(fleet_t *self, store_table_t t, int64_t at_us, store_line_t *l)
{
    const char *text = store_line_end(l);
    if (self->writer && text)
        store_put(self->writer, t, at_us, text);
    store_line_free(l);
}

static void fleet_cluster_col(store_line_t *l, uint64_t id)
{
    if (id)
        store_line_u64(l, id);
    else
        store_line_null(l);
}

static const char *fleet_role_name(Pgvigil__Role r)
{
    return r == PGVIGIL__ROLE__ROLE_PRIMARY ? "primary" : r == PGVIGIL__ROLE__ROLE_REPLICA ? "replica" : "unknown";
}

static void fleet_row_status(fleet_t *self, const fleet_node_t *n, const char *state, int64_t at,
                             const char *reason)
{
    if (!self->writer)
        return;
    store_line_t l;
    store_line_init(&l);
    store_line_text(&l, n->name);
    store_line_time(&l, at);
    store_line_text(&l, state);
    fleet_cluster_col(&l, n->cluster_id);
    store_line_text(&l, n->region);
    store_line_text(&l, fleet_role_name(n->role));
    store_line_int(&l, n->timeline);
    store_line_text(&l, reason);
    fleet_put(self, STORE_STATUS, at, &l);
}

static void fleet_row_sample(fleet_t *self, const fleet_node_t *n, const Pgvigil__Sample *s,
                             int64_t received_at)
{
    if (!self->writer)
        return;
    json_t *j = pbjson_from_message(&s->base);
    char *metrics = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    store_line_t l;
    store_line_init(&l);
    store_line_text(&l, n->name);
    store_line_time(&l, s->collected_at_us);
    store_line_u64(&l, s->sequence);
    fleet_cluster_col(&l, s->up ? s->system_identifier : 0);
    store_line_text(&l, s->region);
    store_line_text(&l, s->up ? fleet_role_name(s->role) : "unknown");
    store_line_bool(&l, s->up);
    if (s->up && s->has_timeline)
        store_line_int(&l, s->timeline);
    else
        store_line_null(&l);
    store_line_time(&l, received_at);
    store_line_text(&l, metrics ? metrics : "{}");
    free(metrics);
    fleet_put(self, STORE_NODE_SAMPLES, s->collected_at_us, &l);
}

static void fleet_row_lag(fleet_t *self, const fleet_node_t *n, int64_t t)
{
    if (!self->writer)
        return;
    store_line_t l;
    store_line_init(&l);
    store_line_text(&l, n->name);
    store_line_time(&l, t);
    store_line_u64(&l, n->cluster_id);
    store_line_u64(&l, n->lag.bytes);
    store_line_double(&l, n->lag.seconds);
    store_line_u64(&l, n->lag.receive_bytes);
    store_line_u64(&l, n->lag.apply_bytes);
    store_line_bool(&l, n->replay_paused);
    store_line_double(&l, n->primary_replay_lag_s);
    store_line_double(&l, (double)lag_offset_estimate(&n->offset) / 1e6);
    fleet_put(self, STORE_REPLICATION_LAG, t, &l);
}

__attribute__((format(printf, 6, 7))) static void
fleet_event(fleet_t *self, uint64_t cluster_id, const char *node, const char *kind,
            const char *severity, const char *fmt, ...)
{
    char msg[512], at[40], cluster[80];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_format_rfc3339(clock_wall_us(), at, sizeof at);
    fleet_cluster_label(self, cluster_id, cluster, sizeof cluster);
    json_t *e = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s}", "at", at, "cluster", cluster, "node",
                          node, "kind", kind, "severity", severity, "message", msg);
    if (!e)
        return;
    json_decref(self->events[self->event_next]);
    self->events[self->event_next] = e;
    self->event_next = (self->event_next + 1) % FLEET_EVENTS_MAX;
    if (self->event_count < FLEET_EVENTS_MAX)
        self->event_count++;
    log_report(strcmp(severity, "info") == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING, NULL, NULL,
               "event %s on cluster %s: %s", kind, cluster, msg);
    if (self->writer) {
        int64_t now = clock_wall_us();
        store_line_t l;
        store_line_init(&l);
        store_line_text(&l, node ? node : "");
        store_line_text(&l, kind);
        store_line_time(&l, now);
        fleet_cluster_col(&l, cluster_id);
        store_line_text(&l, severity);
        store_line_text(&l, msg);
        fleet_put(self, STORE_EVENTS, now, &l);
    }
}

static fleet_node_t *fleet_node(fleet_t *self, const char *name)
{
    fleet_node_t *n = zhashx_lookup(self->nodes, name);
    if (n)
        return n;
    if (!(n = calloc(1, sizeof *n)))
        return NULL;
    snprintf(n->name, sizeof n->name, "%s", name);
    n->primary_replay_lag_s = NAN;
    zhashx_insert(self->nodes, name, n);
    return n;
}

static fleet_cluster_t *fleet_cluster(fleet_t *self, uint64_t id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, id);
    fleet_cluster_t *c = zhashx_lookup(self->clusters, key);
    if (c)
        return c;
    if (!(c = calloc(1, sizeof *c)))
        return NULL;
    c->id = id;
    zhashx_insert(self->clusters, key, c);
    return c;
}

/* Sequence accounting; false when the sample is a duplicate to drop. */
static bool fleet_sequence(fleet_t *self, fleet_node_t *n, const Pgvigil__Sample *s)
{
    if (n->started_at_us && s->collector_started_at_us != n->started_at_us) {
        n->restarts++;
        n->last_seq = 0;
        fleet_event(self, n->cluster_id, n->name, "collector_restart", "info",
                    "the collector of %s restarted", n->name);
    } else if (n->last_seq && s->sequence <= n->last_seq) {
        n->duplicates++;
        return false;
    } else if (n->last_seq && s->sequence > n->last_seq + 1) {
        n->gaps += s->sequence - n->last_seq - 1;
    }
    n->started_at_us = s->collector_started_at_us;
    n->last_seq = s->sequence;
    n->received++;
    return true;
}

static bool fleet_is_live_primary(const fleet_node_t *n, uint64_t cluster_id)
{
    return n && n->up && !n->stale && n->role == PGVIGIL__ROLE__ROLE_PRIMARY &&
           n->cluster_id == cluster_id;
}

static void fleet_primary_sample(fleet_t *self, fleet_cluster_t *c, fleet_node_t *n,
                                 const Pgvigil__Sample *s, int64_t t)
{
    if (!c->primary[0]) {
        snprintf(c->primary, sizeof c->primary, "%s", n->name);
        c->timeline = n->timeline;
    } else if (strcmp(c->primary, n->name) != 0) {
        fleet_node_t *old = zhashx_lookup(self->nodes, c->primary);
        bool old_live = fleet_is_live_primary(old, c->id);
        if (old_live && !c->split_brain) {
            c->split_brain = true;
            fleet_event(self, c->id, n->name, "split_brain", "critical",
                        "%s and %s both accept writes as primary of one cluster (timelines %u and %u)",
                        old->name, n->name, old->timeline, n->timeline);
        }
        if (n->timeline < c->timeline || (old_live && n->timeline == c->timeline))
            return; /* the older history: not the cluster's primary, not its LSN ring */
        fleet_event(self, c->id, n->name, "failover", "critical",
                    "%s is the new primary (timeline %u); the previous primary was %s (timeline %u)",
                    n->name, n->timeline, c->primary, c->timeline);
        snprintf(c->primary, sizeof c->primary, "%s", n->name);
        c->timeline = n->timeline;
        lag_ring_reset(&c->ring);
    } else if (n->timeline > c->timeline) {
        fleet_event(self, c->id, n->name, "timeline_change", "warning",
                    "%s moved from timeline %u to %u", n->name, c->timeline, n->timeline);
        c->timeline = n->timeline;
    }
    if (s->primary_replication && s->primary_replication->has_current_wal_lsn)
        lag_ring_push(&c->ring, t, s->primary_replication->current_wal_lsn);
    bool retaining = false;
    for (size_t i = 0; s->replication_slots && i < s->replication_slots->n_slots; i++) {
        const Pgvigil__ReplicationSlot *sl = s->replication_slots->slots[i];
        if (sl->has_active && !sl->active && sl->retained_bytes > FLEET_SLOT_RETAINED_MAX) {
            retaining = true;
            if (!n->slot_retaining)
                fleet_event(self, c->id, n->name, "slot_inactive", "warning",
                            "replication slot %s on %s is inactive and retains %" PRIu64 " MB of WAL",
                            sl->slot_name ? sl->slot_name : "?", n->name, sl->retained_bytes >> 20);
        }
    }
    if (s->replication_slots)
        n->slot_retaining = retaining;
}

/* The primary's own view of this standby (pg_stat_replication.replay_lag),
 * matched by application_name == node name. */
static double fleet_primary_view(fleet_t *self, const fleet_cluster_t *c, const char *node)
{
    const fleet_node_t *p = c->primary[0] ? zhashx_lookup(self->nodes, c->primary) : NULL;
    const Pgvigil__PrimaryReplication *pr =
        p && p->latest ? p->latest->primary_replication : NULL;
    for (size_t i = 0; pr && i < pr->n_standbys; i++) {
        const Pgvigil__Standby *sb = pr->standbys[i];
        if (sb->application_name && strcmp(sb->application_name, node) == 0)
            return sb->has_replay_lag_us ? (double)sb->replay_lag_us / 1e6 : 0;
    }
    return NAN;
}

static void fleet_replica_sample(fleet_t *self, fleet_cluster_t *c, fleet_node_t *n,
                                 const Pgvigil__Sample *s, int64_t t)
{
    const Pgvigil__ReplicaReplication *rr = s->replica_replication;
    if (strcmp(c->primary, n->name) == 0)
        c->primary[0] = '\0'; /* the former primary rejoined as a replica */
    if (!rr)
        return;
    bool paused = rr->has_replay_paused && rr->replay_paused;
    if (paused != n->replay_paused)
        fleet_event(self, c->id, n->name, paused ? "replay_paused" : "replay_resumed",
                    paused ? "warning" : "info", "WAL replay on %s %s", n->name,
                    paused ? "is paused" : "resumed");
    n->replay_paused = paused;
    snprintf(n->wal_status, sizeof n->wal_status, "%s",
             rr->wal_receiver_status ? rr->wal_receiver_status : "");
    bool disconnected = strcmp(n->wal_status, "streaming") != 0;
    if (disconnected != n->disconnected)
        fleet_event(self, c->id, n->name, disconnected ? "replica_disconnected" : "replica_reconnected",
                    disconnected ? "warning" : "info", "%s %s", n->name,
                    disconnected ? "is not streaming from its upstream" : "streams again");
    n->disconnected = disconnected;
    n->has_lag = rr->has_replay_lsn && c->primary[0] &&
                 lag_compute(&c->ring, t, rr->has_receive_lsn, rr->receive_lsn, rr->replay_lsn, &n->lag);
    /* Replayed position older than the ring (it was filled after this
     * aggregator started): the ring's answer is only a lower bound. The
     * age of the last replayed commit is the better estimate then. */
    if (n->has_lag && lag_before_ring(&c->ring, rr->replay_lsn) && rr->has_last_xact_replay_at_us &&
        rr->last_xact_replay_at_us > 0) {
        double age = (double)(s->collected_at_us - rr->last_xact_replay_at_us) / 1e6;
        if (age > n->lag.seconds)
            n->lag.seconds = age;
    }
    n->primary_replay_lag_s = fleet_primary_view(self, c, n->name);
    if (n->has_lag)
        fleet_row_lag(self, n, t);
}

static void fleet_up_sample(fleet_t *self, fleet_node_t *n, const Pgvigil__Sample *s, int64_t t)
{
    if (n->cluster_id && n->cluster_id != s->system_identifier)
        log_warning("node %s now reports system identifier %" PRIu64 " (was %" PRIu64 ")", n->name,
                    s->system_identifier, n->cluster_id);
    n->cluster_id = s->system_identifier;
    n->role = s->role;
    n->timeline = s->has_timeline ? s->timeline : n->timeline;
    n->server_version = s->server_version;
    fleet_cluster_t *c = fleet_cluster(self, n->cluster_id);
    if (!c)
        return;
    if (n->role == PGVIGIL__ROLE__ROLE_PRIMARY) {
        n->has_lag = false;
        fleet_primary_sample(self, c, n, s, t);
    } else {
        fleet_replica_sample(self, c, n, s, t);
    }
}

bool fleet_apply(fleet_t *self, Pgvigil__Sample *s, int64_t received_at_us)
{
    fleet_node_t *n = fleet_node(self, s->node);
    if (!n || !fleet_sequence(self, n, s)) {
        pgvigil__sample__free_unpacked(s, NULL);
        return false;
    }
    lag_offset_add(&n->offset, s->collected_at_us, received_at_us);
    int64_t t = s->collected_at_us - lag_offset_estimate(&n->offset);
    snprintf(n->region, sizeof n->region, "%s", s->region);
    n->last_seen_us = received_at_us;
    n->collected_at_us = s->collected_at_us;
    n->interval_ms = s->interval_ms;
    bool was_stale = n->stale, was_up = n->up, first = !n->seen;
    if (n->stale) {
        n->stale = false;
        fleet_event(self, n->cluster_id, n->name, "node_reporting", "info",
                    "the collector of %s reports again", n->name);
    }
    if (s->up) {
        if (n->seen && !n->up)
            fleet_event(self, s->system_identifier, n->name, "node_up", "info", "%s is up again", n->name);
        n->up = true;
        fleet_up_sample(self, n, s, t);
    } else {
        if (n->up || !n->seen)
            fleet_event(self, n->cluster_id, n->name, "node_down",
                        n->role == PGVIGIL__ROLE__ROLE_PRIMARY ? "critical" : "warning",
                        "%s is down: %s", n->name, s->error ? s->error : "no reason given");
        n->up = false;
        n->has_lag = false;
    }
    n->seen = true;
    if (first || was_stale || was_up != n->up)
        fleet_row_status(self, n, n->up ? "up" : "down", received_at_us, s->up ? NULL : s->error);
    fleet_row_sample(self, n, s, received_at_us);
    if (n->latest)
        pgvigil__sample__free_unpacked(n->latest, NULL);
    n->latest = s;
    return true;
}

double fleet_paused_lag_now(const fleet_t *self, const fleet_node_t *n, int64_t now_us)
{
    if (!n->up || n->stale || !n->replay_paused || !n->has_lag || !n->latest || !n->latest->replica_replication)
        return NAN;
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, n->cluster_id);
    const fleet_cluster_t *c = zhashx_lookup(self->clusters, key);
    if (!c)
        return NAN;
    int64_t reached = lag_time_reached(&c->ring, n->latest->replica_replication->replay_lsn);
    /* Only once the primary is known to have written past the replay
     * position: an idle primary means no lag, paused or not. */
    if (reached == INT64_MAX || reached >= now_us || lag_before_ring(&c->ring, n->latest->replica_replication->replay_lsn))
        return NAN;
    uint64_t newest;
    if (!lag_primary_lsn_at(&c->ring, now_us, &newest) || newest <= n->latest->replica_replication->replay_lsn)
        return NAN;
    return (double)(now_us - reached) / 1e6;
}

bool fleet_check_stale(fleet_t *self, int64_t now_us)
{
    bool changed = false;
    for (fleet_node_t *n = zhashx_first(self->nodes); n; n = zhashx_next(self->nodes)) {
        int64_t limit = (int64_t)self->cfg->stale_intervals * (n->interval_ms ? n->interval_ms : 1000) * 1000;
        if (!n->stale && now_us - n->last_seen_us > limit) {
            n->stale = true;
            changed = true;
            fleet_row_status(self, n, "stale", now_us, "the collector stopped reporting");
            fleet_event(self, n->cluster_id, n->name, "node_stale", "warning",
                        "no sample from the collector of %s for %.1f s", n->name,
                        (double)(now_us - n->last_seen_us) / 1e6);
        }
    }
    for (fleet_cluster_t *c = zhashx_first(self->clusters); c; c = zhashx_next(self->clusters)) {
        if (!c->split_brain)
            continue;
        int primaries = 0;
        for (fleet_node_t *n = zhashx_first(self->nodes); n; n = zhashx_next(self->nodes))
            primaries += fleet_is_live_primary(n, c->id);
        if (primaries <= 1) {
            c->split_brain = false;
            changed = true;
            fleet_event(self, c->id, NULL, "split_brain_resolved", "info",
                        "only one primary accepts writes again");
        }
    }
    return changed;
}
