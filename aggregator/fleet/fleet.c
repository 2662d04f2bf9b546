/*
 * fleet/ — the core's picture of the fleet, one concern per file:
 *   fleet.c              clusters and nodes: samples in, lag measured, node
 *                        views computed, observers told (this file)
 *   fleet_events.c       event detectors and the event ring
 *   metric.c             the metric catalogue's lookups and derivation engine;
 *   metric_table.c       its rows: the only place a per-node metric is named
 *   nodeview.c           a node as readers see it (nodeview.h)
 *   fleet_view.c         JSON and Prometheus renderings of the node views
 *   lag.c                replication lag arithmetic (pure)
 *   core.c, snapshot.c   the core actor and the snapshots it publishes
 *
 * fleet.c — fleet state (see fleet.h). Every sample updates its node; a
 * primary's sample extends its cluster's LSN ring (on the aggregator clock),
 * a replica's sample is measured against that ring. The node's view is then
 * derived through the catalogue, and the observers are told. A replica's
 * final lag seconds are set in one place, fleet_node_lag(), at each sample
 * and each tick.
 */
#include "fleet.h"
#include "fleet_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "log.h"

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

int fleet_observe(fleet_t *self, fleet_observer_fn *fn, void *arg)
{
    for (size_t i = 0; i < FLEET_OBSERVERS_MAX; i++)
        if (!self->observers[i].fn) {
            self->observers[i].fn = fn;
            self->observers[i].arg = arg;
            return 0;
        }
    return -1;
}

void fleet_unobserve(fleet_t *self, fleet_observer_fn *fn, void *arg)
{
    for (size_t i = 0; i < FLEET_OBSERVERS_MAX; i++)
        if (self->observers[i].fn == fn && self->observers[i].arg == arg)
            self->observers[i].fn = NULL;
}

void fleet_notify(fleet_t *self, const fleet_note_t *note)
{
    for (size_t i = 0; i < FLEET_OBSERVERS_MAX; i++)
        if (self->observers[i].fn)
            self->observers[i].fn(self->observers[i].arg, note);
}

static void fleet_status(fleet_t *self, const fleet_node_t *n, const char *state, int64_t at_us, const char *reason)
{
    fleet_note_t note = {.kind = FLEET_NOTE_STATUS, .node = &n->view, .at_us = at_us, .state = state, .reason = reason};
    fleet_notify(self, &note);
}

void fleet_cluster_label(const fleet_t *self, uint64_t id, char *buf, size_t len)
{
    const char *name = agg_config_cluster_name(self->cfg, id);
    if (name)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "%" PRIu64, id);
}

static fleet_node_t *fleet_node(fleet_t *self, const char *name)
{
    fleet_node_t *n = zhashx_lookup(self->nodes, name);
    if (n)
        return n;
    if (!(n = calloc(1, sizeof *n)))
        return NULL;
    snprintf(n->view.name, sizeof n->view.name, "%s", name);
    n->view.primary_replay_lag_s = NAN;
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

static const fleet_cluster_t *fleet_cluster_of(const fleet_t *self, uint64_t id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, id);
    return zhashx_lookup(self->clusters, key);
}

/* Sequence accounting; false when the sample is a duplicate to drop. */
static bool fleet_sequence(fleet_t *self, fleet_node_t *n, const Pgvigil__Sample *s, bool *restarted)
{
    node_view_t *v = &n->view;
    if (n->started_at_us && s->collector_started_at_us != n->started_at_us) {
        v->restarts++;
        n->last_seq = 0;
        *restarted = true;
        fleet_detect_restart(self, n);
    } else if (n->last_seq && s->sequence <= n->last_seq) {
        v->duplicates++;
        return false;
    } else if (n->last_seq && s->sequence > n->last_seq + 1) {
        v->gaps += s->sequence - n->last_seq - 1;
    }
    n->started_at_us = s->collector_started_at_us;
    n->last_seq = s->sequence;
    v->received++;
    return true;
}

bool fleet_is_live_primary(const fleet_node_t *n, uint64_t cluster_id)
{
    return n && n->view.up && !n->view.stale && n->view.role == PGVIGIL__ROLE__ROLE_PRIMARY &&
           n->view.cluster_id == cluster_id;
}

/* Whether n is the cluster's primary after this sample: failover, split
 * brain and timeline changes are detected here, where that is decided. */
static bool fleet_primary_decide(fleet_t *self, fleet_cluster_t *c, fleet_node_t *n)
{
    const node_view_t *v = &n->view;
    if (!c->primary[0]) {
        snprintf(c->primary, sizeof c->primary, "%s", v->name);
        c->timeline = v->timeline;
    } else if (strcmp(c->primary, v->name) != 0) {
        fleet_node_t *old = zhashx_lookup(self->nodes, c->primary);
        bool old_live = fleet_is_live_primary(old, c->id);
        if (old_live && !c->split_brain) {
            c->split_brain = true;
            fleet_event(self, c->id, n, "split_brain", "critical",
                        "%s and %s both accept writes as primary of one cluster (timelines %u and %u)",
                        old->view.name, v->name, old->view.timeline, v->timeline);
        }
        if (v->timeline < c->timeline || (old_live && v->timeline == c->timeline))
            return false; /* the older history: not the cluster's primary, not its LSN ring */
        fleet_event(self, c->id, n, "failover", "critical",
                    "%s is the new primary (timeline %u); the previous primary was %s (timeline %u)", v->name,
                    v->timeline, c->primary, c->timeline);
        snprintf(c->primary, sizeof c->primary, "%s", v->name);
        c->timeline = v->timeline;
        lag_ring_reset(&c->ring);
    } else if (v->timeline > c->timeline) {
        fleet_event(self, c->id, n, "timeline_change", "warning", "%s moved from timeline %u to %u", v->name,
                    c->timeline, v->timeline);
        c->timeline = v->timeline;
    }
    return true;
}

static void fleet_primary_sample(fleet_t *self, fleet_cluster_t *c, fleet_node_t *n, const Pgvigil__Sample *s,
                                 int64_t t)
{
    if (!fleet_primary_decide(self, c, n))
        return;
    if (s->primary_replication && s->primary_replication->has_current_wal_lsn)
        lag_ring_push(&c->ring, t, s->primary_replication->current_wal_lsn);
    fleet_detect_slots(self, c, n, s);
}

/* The primary's own view of this standby (pg_stat_replication.replay_lag),
 * matched by application_name == node name. */
static double fleet_primary_view(fleet_t *self, const fleet_cluster_t *c, const char *node)
{
    const fleet_node_t *p = c->primary[0] ? zhashx_lookup(self->nodes, c->primary) : NULL;
    const Pgvigil__PrimaryReplication *pr = p && p->latest ? p->latest->primary_replication : NULL;
    for (size_t i = 0; pr && i < pr->n_standbys; i++) {
        const Pgvigil__Standby *sb = pr->standbys[i];
        if (sb->application_name && strcmp(sb->application_name, node) == 0)
            return sb->has_replay_lag_us ? (double)sb->replay_lag_us / 1e6 : 0;
    }
    return NAN;
}

/* The replica's lag at its sample time t. Replayed position older than the
 * ring (it was filled after this aggregator started): the ring's answer is
 * only a lower bound; the age of the last replayed commit is the better
 * estimate then. */
static void fleet_measure_lag(fleet_node_t *n, const fleet_cluster_t *c, const Pgvigil__ReplicaReplication *rr,
                              const Pgvigil__Sample *s, int64_t t)
{
    node_view_t *v = &n->view;
    v->has_lag = rr->has_replay_lsn && c->primary[0] &&
                 lag_compute(&c->ring, t, rr->has_receive_lsn, rr->receive_lsn, rr->replay_lsn, &v->lag);
    if (v->has_lag && lag_before_ring(&c->ring, rr->replay_lsn) && rr->has_last_xact_replay_at_us &&
        rr->last_xact_replay_at_us > 0) {
        double age = (double)(s->collected_at_us - rr->last_xact_replay_at_us) / 1e6;
        if (age > v->lag.seconds)
            v->lag.seconds = age;
    }
    n->sample_lag_s = v->has_lag ? v->lag.seconds : 0;
}

static void fleet_replica_sample(fleet_t *self, fleet_cluster_t *c, fleet_node_t *n, const Pgvigil__Sample *s,
                                 int64_t t)
{
    node_view_t *v = &n->view;
    const Pgvigil__ReplicaReplication *rr = s->replica_replication;
    if (strcmp(c->primary, v->name) == 0)
        c->primary[0] = '\0'; /* the former primary rejoined as a replica */
    if (!rr)
        return;
    bool was_paused = v->replay_paused, was_disconnected = v->disconnected;
    v->replay_paused = rr->has_replay_paused && rr->replay_paused;
    snprintf(v->wal_status, sizeof v->wal_status, "%s", rr->wal_receiver_status ? rr->wal_receiver_status : "");
    v->disconnected = strcmp(v->wal_status, "streaming") != 0;
    fleet_detect_replica(self, c, n, was_paused, was_disconnected);
    fleet_measure_lag(n, c, rr, s, t);
    v->primary_replay_lag_s = fleet_primary_view(self, c, v->name);
    if (v->has_lag) {
        fleet_note_t note = {.kind = FLEET_NOTE_LAG, .node = v, .sample = s, .at_us = t};
        fleet_notify(self, &note);
    }
}

static void fleet_up_sample(fleet_t *self, fleet_node_t *n, const Pgvigil__Sample *s, int64_t t)
{
    node_view_t *v = &n->view;
    if (v->cluster_id && v->cluster_id != s->system_identifier)
        log_warning("node %s now reports system identifier %" PRIu64 " (was %" PRIu64 ")", v->name,
                    s->system_identifier, v->cluster_id);
    v->cluster_id = s->system_identifier;
    fleet_cluster_label(self, v->cluster_id, v->cluster, sizeof v->cluster);
    v->role = s->role;
    v->timeline = s->has_timeline ? s->timeline : v->timeline;
    v->server_version = s->server_version;
    fleet_cluster_t *c = fleet_cluster(self, v->cluster_id);
    if (!c)
        return;
    if (v->role == PGVIGIL__ROLE__ROLE_PRIMARY) {
        v->has_lag = false;
        fleet_primary_sample(self, c, n, s, t);
    } else {
        fleet_replica_sample(self, c, n, s, t);
    }
}

/* The one place a replica's final lag seconds are set: the lag at its sample
 * time, or more once a paused replica falls behind with the clock. */
static bool fleet_node_lag(const fleet_t *self, fleet_node_t *n, int64_t now_us)
{
    node_view_t *v = &n->view;
    if (!v->has_lag)
        return false;
    double paused = fleet_paused_lag_now(self, v, now_us), seconds = n->sample_lag_s;
    if (!isnan(paused) && paused > seconds)
        seconds = paused;
    bool changed = seconds != v->lag.seconds;
    v->lag.seconds = seconds;
    return changed;
}

static void fleet_take_sample(fleet_node_t *n, Pgvigil__Sample *s, int64_t received_at_us, int64_t *t)
{
    node_view_t *v = &n->view;
    lag_offset_add(&n->offset, s->collected_at_us, received_at_us);
    v->clock_offset_us = lag_offset_estimate(&n->offset);
    *t = s->collected_at_us - v->clock_offset_us;
    snprintf(v->region, sizeof v->region, "%s", s->region);
    v->last_seen_us = received_at_us;
    v->collected_at_us = s->collected_at_us;
    v->interval_ms = s->interval_ms;
}

bool fleet_apply(fleet_t *self, Pgvigil__Sample *s, int64_t received_at_us, fleet_applied_t *out)
{
    fleet_applied_t applied = {0};
    fleet_node_t *n = fleet_node(self, s->node);
    if (!n || !fleet_sequence(self, n, s, &applied.collector_restarted)) {
        pgvigil__sample__free_unpacked(s, NULL);
        return false;
    }
    node_view_t *v = &n->view;
    int64_t t;
    fleet_take_sample(n, s, received_at_us, &t);
    bool was_stale = v->stale, was_up = v->up, first = !v->seen;
    fleet_detect_liveness(self, n, s, was_up, was_stale);
    v->stale = false;
    v->up = s->up;
    if (s->up)
        fleet_up_sample(self, n, s, t);
    else
        v->has_lag = false;
    v->seen = true;
    if (n->latest)
        pgvigil__sample__free_unpacked(n->latest, NULL);
    n->latest = s;
    v->latest = s;
    fleet_node_lag(self, n, received_at_us);
    metric_update(v, &n->metrics, s, received_at_us);
    v->version++;
    if (first || was_stale || was_up != v->up)
        fleet_status(self, n, v->up ? "up" : "down", received_at_us, s->up ? NULL : s->error);
    fleet_note_t note = {.kind = FLEET_NOTE_SAMPLE, .node = v, .sample = s, .at_us = received_at_us};
    fleet_notify(self, &note);
    if (s->backup && s->backup->has_verified_at_us && s->backup->verified_at_us != n->backup_verified_us) {
        n->backup_verified_us = s->backup->verified_at_us;
        applied.backup_verified = true;
    }
    if (out)
        *out = applied;
    return true;
}

double fleet_paused_lag_now(const fleet_t *self, const node_view_t *v, int64_t now_us)
{
    const Pgvigil__ReplicaReplication *rr = v->latest ? v->latest->replica_replication : NULL;
    if (!v->up || v->stale || !v->replay_paused || !v->has_lag || !rr)
        return NAN;
    const fleet_cluster_t *c = fleet_cluster_of(self, v->cluster_id);
    if (!c)
        return NAN;
    int64_t reached = lag_time_reached(&c->ring, rr->replay_lsn);
    /* Only once the primary is known to have written past the replay
     * position: an idle primary means no lag, paused or not. */
    if (reached == INT64_MAX || reached >= now_us || lag_before_ring(&c->ring, rr->replay_lsn))
        return NAN;
    uint64_t newest;
    if (!lag_primary_lsn_at(&c->ring, now_us, &newest) || newest <= rr->replay_lsn)
        return NAN;
    return (double)(now_us - reached) / 1e6;
}

bool fleet_tick(fleet_t *self, int64_t now_us)
{
    bool changed = false;
    for (fleet_node_t *n = zhashx_first(self->nodes); n; n = zhashx_next(self->nodes)) {
        bool mine = false;
        if (fleet_detect_stale(self, n, now_us)) {
            fleet_status(self, n, "stale", now_us, "the collector stopped reporting");
            mine = true;
        }
        mine |= fleet_node_lag(self, n, now_us);
        mine |= metric_tick(&n->view, &n->metrics, n->latest, now_us);
        if (mine)
            n->view.version++;
        changed |= mine;
    }
    for (fleet_cluster_t *c = zhashx_first(self->clusters); c; c = zhashx_next(self->clusters))
        changed |= fleet_detect_split_brain_end(self, c);
    return changed;
}

void fleet_superseded(fleet_t *self, const char *node, uint32_t count)
{
    fleet_node_t *n = zhashx_lookup(self->nodes, node);
    if (n && n->last_seq)
        n->last_seq += count;
}

void fleet_set_regressions(fleet_t *self, const char *node, unsigned count, int64_t now_us)
{
    fleet_node_t *n = zhashx_lookup(self->nodes, node);
    if (!n || n->view.query_regressions == count)
        return;
    n->view.query_regressions = count;
    metric_update_one(&n->view, &n->metrics, n->latest, METRIC_QUERY_REGRESSIONS, now_us);
    n->view.version++;
}

const node_view_t *fleet_node_view(const fleet_t *self, const char *node)
{
    const fleet_node_t *n = node ? zhashx_lookup(self->nodes, node) : NULL;
    return n ? &n->view : NULL;
}

const node_view_t *fleet_first(fleet_t *self)
{
    const fleet_node_t *n = zhashx_first(self->nodes);
    return n ? &n->view : NULL;
}

const node_view_t *fleet_next(fleet_t *self)
{
    const fleet_node_t *n = zhashx_next(self->nodes);
    return n ? &n->view : NULL;
}
