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
#include "pairing.h"
#include "pbarena.h"

/* The node's latest sample goes: freed now, or with the last fragment that
 * shares it. */
static void fleet_node_drop_latest(fleet_node_t *n)
{
    if (n->shared)
        frag_sample_unref(&n->shared);
    else if (n->latest)
        pbarena_free(&n->latest->base);
    n->latest = NULL;
}

static void fleet_node_free(void **item)
{
    fleet_node_t *n = *item;
    if (n)
        fleet_node_drop_latest(n);
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

void fleet_set_config(fleet_t *self, const agg_config_t *cfg)
{
    self->cfg = cfg;
}

void fleet_destroy(fleet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fleet_t *self = *self_p;
    zhashx_destroy(&self->nodes);
    free(self->all);
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
    if (self->count == self->cap) {
        size_t cap = self->cap * 2 + 64;
        fleet_node_t **all = realloc(self->all, cap * sizeof *all);
        if (!all)
            return NULL;
        self->all = all;
        self->cap = cap;
    }
    if (!(n = calloc(1, sizeof *n)))
        return NULL;
    snprintf(n->view.name, sizeof n->view.name, "%s", name);
    n->view.primary_replay_lag_s = NAN;
    zhashx_insert(self->nodes, name, n);
    self->all[self->count++] = n;
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
            self->split_brains++;
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

/* A lag row for the history, with the lag at t. */
static void fleet_lag_row(fleet_t *self, const fleet_node_t *n, const lag_result_t *lag, int64_t t)
{
    fleet_note_t note = {.kind = FLEET_NOTE_LAG, .node = &n->view, .sample = n->latest, .at_us = t, .lag = lag};
    fleet_notify(self, &note);
}

/* A replica's lag measured against an extrapolated primary position is
 * measured again, at the same instant, once a primary point covers it; its
 * history row is written then. */
static void fleet_revise_lag(fleet_t *self, fleet_cluster_t *c, int64_t t)
{
    size_t keep = 0;
    for (size_t i = 0; i < c->n_revise; i++) {
        fleet_node_t *r = c->revise[i];
        if (!r->lag_row_pending)
            continue;
        if (r->lag_obs.t_us > t) {
            c->revise[keep++] = r;
            continue;
        }
        if (r->view.cluster_id == c->id && r->view.has_lag)
            lag_compute(&c->ring, &r->lag_obs, r->lag_obs.t_us, &r->sample_lag);
        fleet_lag_row(self, r, &r->sample_lag, r->lag_obs.t_us);
        r->lag_row_pending = false;
    }
    c->n_revise = keep;
}

/* The collector's watch saw the primary's WAL stand still for a spell
 * before this reading (taken at t on our clock): the spell goes in the ring
 * on the same clock, so writing resumed after it, not anywhere since the
 * previous sample. Times are checked before any arithmetic (a collector's
 * numbers are not trusted). */
static void fleet_still_spell(fleet_cluster_t *c, const Pgvigil__PrimaryReplication *p, int64_t t)
{
    if (!p->has_still_wal_lsn || !p->has_still_from_us || !p->has_still_until_us || !p->has_measured_at_us ||
        p->still_wal_lsn > p->current_wal_lsn || p->still_from_us <= 0 || p->still_from_us > p->still_until_us ||
        p->still_until_us >= p->measured_at_us)
        return;
    int64_t until = p->measured_at_us - p->still_until_us, from = p->measured_at_us - p->still_from_us;
    if (until > FLEET_STILL_MAX_US)
        return;
    lag_ring_push_still(&c->ring, t - (from < FLEET_STILL_MAX_US ? from : FLEET_STILL_MAX_US), t - until,
                        p->still_wal_lsn);
}

static void fleet_primary_sample(fleet_t *self, fleet_cluster_t *c, fleet_node_t *n, const Pgvigil__Sample *s,
                                 int64_t t)
{
    if (!fleet_primary_decide(self, c, n))
        return;
    const Pgvigil__PrimaryReplication *p = s->primary_replication;
    if (p && p->has_current_wal_lsn) {
        fleet_still_spell(c, p, t);
        lag_ring_push(&c->ring, t, p->current_wal_lsn);
        fleet_revise_lag(self, c, t);
    }
    fleet_detect_slots(self, c, n, s);
}

/* The primary's own view of this standby (pg_stat_replication.replay_lag),
 * from the row paired with it (pairing.h); NAN when none pairs. */
static double fleet_primary_view(fleet_t *self, const fleet_cluster_t *c, fleet_node_t *n, const Pgvigil__Sample *s)
{
    const fleet_node_t *p = c->primary[0] ? zhashx_lookup(self->nodes, c->primary) : NULL;
    const Pgvigil__Standby *sb = pairing_standby(p ? p->latest : NULL, s, n->view.name, &n->view.paired_by);
    if (!sb)
        return NAN;
    return sb->has_replay_lag_us ? (double)sb->replay_lag_us / 1e6 : 0;
}

/* The replica's lag at its sample time t (n->sample_lag). Replayed position
 * older than the ring (it was filled after this aggregator started): the
 * ring's answer is only a lower bound; the age of the last replayed commit
 * is the better estimate then. */
static void fleet_measure_lag(fleet_node_t *n, const fleet_cluster_t *c, const Pgvigil__ReplicaReplication *rr,
                              const Pgvigil__Sample *s, int64_t t)
{
    node_view_t *v = &n->view;
    bool same_replay = v->has_lag && rr->has_replay_lsn && rr->replay_lsn == n->lag_obs.replay_lsn;
    n->lag_obs = (lag_observation_t){t, rr->has_receive_lsn, rr->receive_lsn, rr->replay_lsn};
    v->has_lag = rr->has_replay_lsn && c->primary[0] && lag_compute(&c->ring, &n->lag_obs, t, &n->sample_lag);
    if (v->has_lag && n->sample_lag.lower_bound && rr->has_last_xact_replay_at_us && rr->last_xact_replay_at_us > 0) {
        double age = (double)(s->collected_at_us - rr->last_xact_replay_at_us) / 1e6;
        if (age > n->sample_lag.seconds)
            n->sample_lag.seconds = age;
    }
    n->replay_stuck = same_replay && v->has_lag && n->sample_lag.bytes > 0;
}

/* The history row of this measurement: now, or once the next primary point
 * revises an estimated one. */
static void fleet_lag_history(fleet_t *self, fleet_cluster_t *c, fleet_node_t *n, int64_t t)
{
    if (n->sample_lag.estimated) {
        bool listed = false;
        for (size_t i = 0; i < c->n_revise; i++)
            listed |= c->revise[i] == n;
        if (!listed && c->n_revise < FLEET_REVISE_MAX)
            c->revise[c->n_revise++] = n, listed = true;
        n->lag_row_pending = listed;
    }
    if (!n->lag_row_pending)
        fleet_lag_row(self, n, &n->sample_lag, t);
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
    /* Older collectors sent "" for a replica without a WAL receiver. */
    snprintf(v->wal_status, sizeof v->wal_status, "%s",
             rr->wal_receiver_status && rr->wal_receiver_status[0] ? rr->wal_receiver_status : "no receiver");
    v->disconnected = strcmp(v->wal_status, "streaming") != 0;
    fleet_detect_replica(self, c, n, was_paused, was_disconnected);
    if (n->lag_row_pending)
        fleet_lag_row(self, n, &n->sample_lag, n->lag_obs.t_us); /* never revised: stored as it was */
    n->lag_row_pending = false;
    fleet_measure_lag(n, c, rr, s, t);
    v->primary_replay_lag_s = fleet_primary_view(self, c, n, s);
    if (v->has_lag)
        fleet_lag_history(self, c, n, t);
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
    fleet_cluster_t *c = n->cluster && n->cluster->id == v->cluster_id ? n->cluster : fleet_cluster(self, v->cluster_id);
    n->cluster = c;
    if (!c)
        return;
    if (v->role == PGVIGIL__ROLE__ROLE_PRIMARY) {
        v->has_lag = false;
        fleet_primary_sample(self, c, n, s, t);
    } else {
        fleet_replica_sample(self, c, n, s, t);
    }
    v->split_brain = c->split_brain;
}

/* The cluster's split brain, as the node's view shows it (the members of a
 * cluster learn of it at the next tick). True when it changed. */
static bool fleet_node_split_brain(fleet_node_t *n)
{
    bool split = n->view.cluster_id && n->cluster && n->cluster->split_brain;
    if (split == n->view.split_brain)
        return false;
    n->view.split_brain = split;
    return true;
}

static bool fleet_node_lag_now(const fleet_node_t *n, int64_t now_us, lag_result_t *out);

/* Whether n's position cannot be moving (paused, not streaming, stuck
 * while behind): its lag grows with the clock until its next sample. */
static bool fleet_node_moving(const fleet_node_t *n)
{
    const node_view_t *v = &n->view;
    return v->up && !v->stale && v->has_lag && v->role == PGVIGIL__ROLE__ROLE_REPLICA && n->cluster &&
           (v->replay_paused || v->disconnected || n->replay_stuck);
}

/* The one place a replica's final lag is set: the lag at its sample time,
 * or at now_us for a replica whose position cannot be moving
 * (fleet_lag_now). */
static bool fleet_node_lag(fleet_node_t *n, int64_t now_us)
{
    node_view_t *v = &n->view;
    if (!v->has_lag)
        return false;
    lag_result_t lag;
    bool now = fleet_node_lag_now(n, now_us, &lag), moving = fleet_node_moving(n);
    if (!now)
        lag = n->sample_lag;
    bool changed = memcmp(&lag, &v->lag, sizeof lag) != 0 || moving != v->lag_moving;
    v->lag = lag;
    v->lag_moving = moving;
    v->lag_at_us = now ? now_us : n->lag_obs.t_us;
    v->lag_rate_bps = moving ? lag_ring_rate(&n->cluster->ring) : 0;
    return changed;
}

/* When the sample's WAL positions were read (collector clock): the
 * replication section's own time when it has one, else the round's start. */
static int64_t fleet_measured_at(const Pgvigil__Sample *s)
{
    if (s->primary_replication && s->primary_replication->has_measured_at_us)
        return s->primary_replication->measured_at_us;
    if (s->replica_replication && s->replica_replication->has_measured_at_us)
        return s->replica_replication->measured_at_us;
    return s->collected_at_us;
}

static void fleet_take_sample(fleet_node_t *n, Pgvigil__Sample *s, int64_t received_at_us, int64_t *t)
{
    node_view_t *v = &n->view;
    lag_offset_add(&n->offset, s->collector_started_at_us, s->collected_at_us, received_at_us);
    v->clock_offset_us = lag_offset_estimate(&n->offset);
    v->clock_offset_recent_us = lag_offset_recent(&n->offset);
    v->clock_steps = n->offset.steps;
    *t = lag_offset_map(&n->offset, fleet_measured_at(s), received_at_us);
    snprintf(v->region, sizeof v->region, "%s", s->region);
    v->last_seen_us = received_at_us;
    v->collected_at_us = s->collected_at_us;
    v->interval_ms = s->interval_ms;
}

/* Whether n's latest sample (at now_us) asks its primary for fast rounds
 * (fleet_applied_t.fast_primary): the primary's name, or NULL. */
static const char *fleet_node_fast_primary(fleet_node_t *n, int64_t now_us)
{
    const node_view_t *v = &n->view;
    fleet_cluster_t *c = n->cluster;
    if (v->role != PGVIGIL__ROLE__ROLE_REPLICA || !c || !c->primary[0] || !v->up || !v->has_lag ||
        !(v->replay_paused || v->disconnected || n->replay_stuck)) {
        n->fast_since_us = 0;
        return NULL;
    }
    if (!n->fast_since_us)
        n->fast_since_us = now_us;
    if (now_us - n->fast_since_us > FLEET_FAST_EPISODE_US ||
        (c->fast_asked_us && now_us - c->fast_asked_us < FLEET_FAST_RENEW_US))
        return NULL;
    c->fast_asked_us = now_us;
    return c->primary;
}

bool fleet_apply(fleet_t *self, Pgvigil__Sample *s, int64_t received_at_us, fleet_applied_t *out)
{
    fleet_applied_t applied = {0};
    fleet_node_t *n = fleet_node(self, s->node);
    if (!n || !fleet_sequence(self, n, s, &applied.collector_restarted)) {
        pbarena_free(&s->base);
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
    fleet_node_drop_latest(n);
    n->latest = s;
    n->shared = frag_sample_new(s); /* NULL (out of memory): fragments go without it */
    v->latest = s;
    fleet_node_lag(n, received_at_us);
    applied.fast_primary = fleet_node_fast_primary(n, received_at_us);
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

static bool fleet_node_lag_now(const fleet_node_t *n, int64_t now_us, lag_result_t *out)
{
    if (!fleet_node_moving(n) || now_us <= n->lag_obs.t_us)
        return false;
    const fleet_cluster_t *c = n->cluster;
    lag_result_t now;
    if (!c || !lag_compute(&c->ring, &n->lag_obs, now_us, &now))
        return false;
    /* Never below the sampled figure (the lower-bound correction of a
     * position older than the ring is kept). */
    if (now.seconds < n->sample_lag.seconds)
        now.seconds = n->sample_lag.seconds;
    *out = now;
    return true;
}

bool fleet_lag_now(const fleet_t *self, const node_view_t *v, int64_t now_us, lag_result_t *out)
{
    const fleet_node_t *n = zhashx_lookup(self->nodes, v->name);
    return n && fleet_node_lag_now(n, now_us, out);
}

double fleet_paused_lag_now(const fleet_t *self, const node_view_t *v, int64_t now_us)
{
    lag_result_t now;
    /* An idle primary means no lag, stuck or not: lag_compute reads 0
     * until the primary is known to have written past the replay position. */
    if (!fleet_lag_now(self, v, now_us, &now) || now.seconds <= 0)
        return NAN;
    return now.seconds;
}

bool fleet_tick(fleet_t *self, int64_t now_us)
{
    bool changed = false;
    for (fleet_cluster_t *c = self->split_brains ? zhashx_first(self->clusters) : NULL; c;
         c = zhashx_next(self->clusters))
        changed |= fleet_detect_split_brain_end(self, c);
    size_t todo = self->count < FLEET_TICK_NODES ? self->count : FLEET_TICK_NODES;
    for (size_t k = 0; k < todo; k++) {
        if (self->tick_next >= self->count)
            self->tick_next = 0;
        fleet_node_t *n = self->all[self->tick_next++];
        bool mine = false;
        if (fleet_detect_stale(self, n, now_us)) {
            fleet_status(self, n, "stale", now_us, "the collector stopped reporting");
            mine = true;
        }
        mine |= fleet_node_split_brain(n);
        mine |= fleet_node_lag(n, now_us);
        mine |= metric_tick(&n->view, &n->metrics, n->latest, now_us);
        if (mine)
            n->view.version++;
        changed |= mine;
    }
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

void fleet_set_owners(fleet_t *self, fleet_owner_fn owner_of, void *arg)
{
    for (fleet_cluster_t *c = zhashx_first(self->clusters); c; c = zhashx_next(self->clusters)) {
        char owner[FLEET_NAME_MAX];
        owner_of(arg, c->id, owner, sizeof owner);
        c->has_owner = true;
        if (strcmp(owner, c->owner) != 0)
            snprintf(c->owner, sizeof c->owner, "%s", owner);
    }
}

size_t fleet_node_count(const fleet_t *self) { return self->count; }

const node_view_t *fleet_node_at(const fleet_t *self, size_t i)
{
    return i < self->count ? &self->all[i]->view : NULL;
}
