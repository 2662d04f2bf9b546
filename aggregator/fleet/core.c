/*
 * core.c — the core actor (see core.h): receives accepted samples from
 * ingest, applies them to the fleet, checks staleness, and publishes a new
 * snapshot at most once per publish_interval (or ten times what a publish
 * takes, if more) when something changed.
 */
#include "core.h"

#include <czmq.h>
#include <stdarg.h>
#include <string.h>

#include "actor.h"
#include "alerting.h"
#include "clock.h"
#include "core_cluster.h"
#include "fleet.h"
#include "fleet_frags.h"
#include "ingest.h"
#include "log.h"
#include "maint.h"
#include "notify.h"
#include "pbarena.h"
#include "peak_events.h"
#include "store_rows.h"

#define CORE_PUBLISH_SHARE 10 /* publishes at least this many times their cost apart */
#define CORE_JUDGE_TICKS 10   /* ticks of 100 ms: the clock judges each node once a second */

typedef struct {
    const agg_config_t *cfg;
    snapshot_holder_t *snapshots;
    diag_t *diag;
    maint_t *maint;
    zsock_t *collector_cmds; /* PUSH to ingest: [node][packed Command] */
    fleet_t *fleet;
    fleet_frags_t *frags; /* the fleet's fragments, for snapshots */
    uint64_t ticks;       /* staleness ticks so far */
    store_t *store;
    store_writer_t *writer; /* NULL: no history; created on the actor's thread */
    zsock_t *pull, *commands, *notify;
    alerting_t *alerting;
    core_cluster_t *cluster;    /* ownership among aggregators (never NULL) */
    peak_events_t *peak_events; /* NULL: no events query */
    int64_t peak_events_at_us;
    uint64_t last_audit_id;
    bool quiesced; /* shutdown began: no staleness, no alert changes */
    bool dirty;
    int64_t published_at_us;
    int64_t publish_cost_us; /* CPU time a publish took lately (smoothed) */
    uint64_t version;
    atomic_uint_fast64_t applied;
} core_state_t;

struct core {
    zactor_t *actor;
    core_state_t *state;
};

/* Whether a publish may follow the last one now: at least interval_us
 * later, and never closer than CORE_PUBLISH_SHARE times what a publish
 * takes: at fleet scale, with every node changing every second, a publish
 * still costs a pointer per node, and publishing may take at most a tenth of
 * the core thread. */
static bool core_publish_due(const core_state_t *st, int64_t interval_us)
{
    int64_t busy = st->publish_cost_us * CORE_PUBLISH_SHARE;
    return clock_mono_us() - st->published_at_us >= (busy > interval_us ? busy : interval_us);
}

static void core_publish(core_state_t *st)
{
    int64_t cpu_us = clock_thread_cpu_us();
    fleet_frags_view_t v;
    snapshot_t *snap = snapshot_new();
    core_cluster_owners(st->cluster, st->fleet);
    if (!snap || fleet_frags_publish(st->frags, &v) != 0) {
        free(snap);
        return;
    }
    snap->version = ++st->version;
    snap->built_at_us = clock_wall_us();
    snap->node_frags = v.nodes;
    snap->cluster_frags = v.clusters;
    snap->events = v.events;
    snap->status = v.status;
    snap->cluster_count = v.cluster_count;
    snap->node_count = v.node_count;
    snap->nodes_up = v.nodes_up;
    snap->nodes_down = v.nodes_down;
    snap->nodes_stale = v.nodes_stale;
    snap->samples_applied = atomic_load(&st->applied);
    snap->publish_cost_us = st->publish_cost_us;
    json_t *av = alerting_view(st->alerting, clock_wall_us());
    snap->alerts = json_incref(json_object_get(av, "alerts"));
    core_cluster_publish(st->cluster, snap->alerts); /* before annotate: our own alerts only */
    core_cluster_annotate(st->cluster, snap);         /* "owner"; the other owners' alerts */
    snap->silences = json_incref(json_object_get(av, "silences"));
    json_decref(av);
    snap->diag = diag_all(st->diag, clock_mono_us());
    snap->maintenance = maint_view(st->maint);
    snap->peak_regions = alerting_peak_regions(st->alerting, clock_wall_us());
    alerting_firing_counts(st->alerting, &snap->alerts_warning, &snap->alerts_critical);
    snapshot_publish(st->snapshots, snap);
    st->dirty = false;
    st->published_at_us = clock_mono_us();
    st->publish_cost_us = (st->publish_cost_us * 3 + clock_thread_cpu_us() - cpu_us) / 4;
}

static void core_emit(void *arg, json_t *msg)
{
    core_state_t *st = arg;
    if (!msg || !core_cluster_may_emit(st->cluster, msg))
        return;
    if (!st->notify || zmq_send(zsock_resolve(st->notify), &msg, sizeof msg, 0) != (int)sizeof msg)
        json_decref(msg);
}

/* What follows a sample the fleet took (s is n's latest now): a restarted
 * collector's maintenance operations fail, diagnostics take their sections
 * (the node view carries the regressions they count, alerting reads them),
 * a new backup verification is stored. */
static void core_sampled(core_state_t *st, const char *node, const fleet_applied_t *what, const Pgvigil__Sample *s,
                         int64_t received_at_us)
{
    if (what->collector_restarted && maint_collector_restarted(st->maint, node, clock_wall_us()))
        log_warning("the collector of %s restarted: its maintenance operations failed", node);
    if (diag_apply(st->diag, s, received_at_us))
        fleet_set_regressions(st->fleet, node, diag_regressions(st->diag, node), received_at_us);
    const node_view_t *v = fleet_node_view(st->fleet, node);
    if (what->backup_verified && (!v || core_cluster_owns(st->cluster, v->cluster_id)))
        core_emit(st, json_pack("{s:s,s:o}", "op", "backup", "backup", diag_backup_json(node, s->backup)));
}

static void core_send_command(void *arg, const char *node, const Pgvigil__Command *cmd);

/* A replica of ours is paused, cut off or stuck: ask its primary's
 * collector to follow the WAL closely (FLEET_FAST_* in fleet.h). */
static void core_fast_primary(core_state_t *st, const node_view_t *v, const char *primary)
{
    if (!v || !core_cluster_owns(st->cluster, v->cluster_id))
        return;
    Pgvigil__Command cmd = PGVIGIL__COMMAND__INIT;
    cmd.has_fast_rounds_ms = 1;
    cmd.fast_rounds_ms = FLEET_FAST_ROUNDS_MS;
    core_send_command(st, primary, &cmd);
}

static int core_on_sample(zloop_t *loop, zsock_t *pull, void *arg)
{
    (void)loop;
    core_state_t *st = arg;
    /* Drain what is queued, bounded so timers still run under load. */
    void *z = zsock_resolve(pull);
    for (int i = 0; i < 10000; i++) {
        ingest_handoff_t h;
        if (zmq_recv(z, &h, sizeof h, ZMQ_DONTWAIT) != (int)sizeof h)
            break;
        if (h.result) {
            if (maint_result(st->maint, h.node, h.result, clock_wall_us()))
                st->dirty = true;
            pgvigil__command_result__free_unpacked(h.result, NULL);
            continue;
        }
        char node[FLEET_NAME_MAX];
        snprintf(node, sizeof node, "%s", h.sample->node);
        int64_t started_at_us = h.sample->collector_started_at_us;
        uint64_t sequence = h.sample->sequence;
        if (h.coalesced)
            fleet_superseded(st->fleet, node, h.coalesced);
        fleet_applied_t what;
        if (fleet_apply(st->fleet, h.sample, h.received_at_us, &what)) {
            st->dirty = true;
            core_sampled(st, node, &what, h.sample, h.received_at_us);
            const node_view_t *v = fleet_node_view(st->fleet, node);
            if (what.fast_primary)
                core_fast_primary(st, v, what.fast_primary);
            if (v && core_cluster_heard(st->cluster, v->cluster_id))
                alerting_node(st->alerting, v, clock_wall_us());
        }
        /* After the sample's rows (or none: a duplicate): the store tells
         * ingest when they are durable, and ingest acknowledges it. */
        if (st->writer)
            store_mark(st->writer, node, started_at_us, sequence);
        atomic_fetch_add(&st->applied, 1);
    }
    /* Leading edge: publish at once when the last snapshot is old enough;
     * the timer publishes what arrives in between. */
    if (st->dirty && core_publish_due(st, (int64_t)st->cfg->publish_interval_ms * 1000))
        core_publish(st);
    return 0;
}

/* Ownership among aggregators changed (core_cluster.h). */
static int core_on_cluster(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)sock;
    core_state_t *st = arg;
    if (core_cluster_on_event(st->cluster))
        st->dirty = true;
    return 0;
}

static int core_on_stale(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    core_state_t *st = arg;
    if (st->quiesced)
        return 0; /* shutting down: silence from collectors is ours, not theirs */
    if (fleet_tick(st->fleet, clock_wall_us()))
        st->dirty = true;
    int64_t count, at;
    if (st->peak_events && peak_events_peak(st->peak_events, &count, &at) && at != st->peak_events_at_us) {
        st->peak_events_at_us = at;
        alerting_events_peak(st->alerting, clock_wall_us());
    }
    /* Every sample is judged as it arrives; what the clock alone moves
     * (a "for" duration running out, no data) is judged here, each node
     * once every CORE_JUDGE_TICKS ticks, a slice per tick: a tick's cost
     * stays a fraction of the fleet's size. */
    bool alerts = false;
    size_t nodes = fleet_node_count(st->fleet);
    for (size_t i = st->ticks++ % CORE_JUDGE_TICKS; i < nodes; i += CORE_JUDGE_TICKS) {
        const node_view_t *v = fleet_node_at(st->fleet, i);
        if (core_cluster_owns(st->cluster, v->cluster_id))
            alerts |= alerting_node(st->alerting, v, clock_wall_us());
    }
    if (alerting_tick(st->alerting, clock_wall_us()) || alerts || alerting_view_reused(st->alerting))
        st->dirty = true;
    if (maint_tick(st->maint, clock_wall_us()))
        st->dirty = true;
    return 0;
}


static void core_send_command(void *arg, const char *node, const Pgvigil__Command *cmd)
{
    core_state_t *st = arg;
    size_t len = pgvigil__command__get_packed_size(cmd);
    zframe_t *body = zframe_new(NULL, len);
    if (!body)
        return;
    pgvigil__command__pack(cmd, zframe_data(body));
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, node);
    zmsg_append(m, &body);
    zmsg_send(&m, st->collector_cmds);
}

/* What the core knows of a node, for a maintenance request. */
static int core_maintenance(core_state_t *st, const json_t *cmd, json_t **body)
{
    const char *name = json_string_value(json_object_get(cmd, "node"));
    const node_view_t *n = fleet_node_view(st->fleet, name);
    maint_node_t mn = {0};
    if (n) {
        mn.known = true;
        mn.up = n->up && !n->stale;
        mn.primary = n->role == PGVIGIL__ROLE__ROLE_PRIMARY;
        mn.diag = diag_node_doc(st->diag, name);
        json_t *peak = alerting_peak_regions(st->alerting, clock_wall_us());
        size_t i;
        json_t *r;
        json_array_foreach(peak, i, r) mn.peak = mn.peak || strcmp(json_string_value(r), n->region) == 0;
        json_decref(peak);
    }
    return maint_request(st->maint, cmd, &mn, clock_wall_us(), body);
}

static int core_on_command(zloop_t *loop, zsock_t *rep, void *arg)
{
    (void)loop;
    core_state_t *st = arg;
    char *text = zstr_recv(rep);
    json_t *cmd = text ? json_loads(text, 0, NULL) : NULL, *body = NULL;
    int status = 400;
    const char *what = json_string_value(json_object_get(cmd, "cmd"));
    if (what && strcmp(what, "audit") == 0) /* a refused request, recorded only */
        status = (int)json_integer_value(json_object_get(json_object_get(cmd, "audit"), "result"));
    else if (what && strcmp(what, "maintenance") == 0)
        status = core_maintenance(st, cmd, &body);
    else if (cmd) {
        status = core_cluster_route(st->cluster, cmd, alerting_command(st->alerting, cmd, clock_wall_us(), &body),
                                    &body);
        core_cluster_share_silence(st->cluster, cmd, status, body);
    }
    else
        body = core_error("bad_request", "malformed command");
    json_t *audit = json_object_get(cmd, "audit");
    if (json_is_object(audit)) {
        char at[40];
        uint64_t id = (uint64_t)clock_wall_us();
        st->last_audit_id = id = id > st->last_audit_id ? id : st->last_audit_id + 1;
        json_t *rec = json_deep_copy(audit);
        json_object_set_new(rec, "id", json_integer((json_int_t)id));
        json_object_set_new(rec, "at", json_string(clock_format_rfc3339(clock_wall_us(), at, sizeof at)));
        json_object_set_new(rec, "result", json_integer(status));
        core_emit(st, json_pack("{s:s,s:o}", "op", "audit", "audit", rec));
    }
    if (status < 400)
        core_publish(st);
    json_t *reply = json_pack("{s:i,s:o}", "status", status, "body", body ? body : json_object());
    char *out = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    zstr_send(rep, out ? out : "{\"status\":500,\"body\":{}}");
    free(out);
    json_decref(reply);
    json_decref(cmd);
    zstr_free(&text);
    return 0;
}

json_t *core_error(const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

int core_command(const json_t *cmd, int timeout_ms, json_t **body)
{
    *body = NULL;
    zsock_t *req = zsock_new_req(">" CORE_COMMANDS_ENDPOINT);
    char *text = json_dumps(cmd, JSON_COMPACT);
    int status = 503;
    if (req && text) {
        zsock_set_rcvtimeo(req, timeout_ms);
        zsock_set_sndtimeo(req, timeout_ms);
        zsock_set_linger(req, 0);
        if (zstr_send(req, text) == 0) {
            char *answer = zstr_recv(req);
            json_t *reply = answer ? json_loads(answer, 0, NULL) : NULL;
            if (reply) {
                status = (int)json_integer_value(json_object_get(reply, "status"));
                *body = json_incref(json_object_get(reply, "body"));
            }
            json_decref(reply);
            zstr_free(&answer);
        }
    }
    free(text);
    zsock_destroy(&req);
    return status;
}

static int core_on_publish(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    core_state_t *st = arg;
    /* The timer itself keeps publish_interval (a tick that comes a little
     * early must not wait for the next one: alerting changes would show an
     * interval late); only what a publish costs spaces them further. */
    if ((st->dirty || core_cluster_fleet_changed(st->cluster)) && core_publish_due(st, 0))
        core_publish(st);
    return 0;
}

/* SIGHUP's new configuration, between two messages of this loop: alerting
 * keeps its state by rule name, the fleet keeps its state. The events query
 * and the diagnostics options keep their values until a restart. */
static void core_reload(core_state_t *st, const agg_config_t *cfg)
{
    if (!cfg)
        return;
    if (alerting_reload(st->alerting, cfg, clock_wall_us()) != 0) {
        log_error("reload: out of memory; the alert rules are not changed");
        return;
    }
    fleet_set_config(st->fleet, cfg);
    st->cfg = cfg;
    st->dirty = true;
    for (size_t i = 0; i < fleet_node_count(st->fleet); i++)
        alerting_node(st->alerting, fleet_node_at(st->fleet, i), clock_wall_us()); /* the new thresholds, now */
    core_publish(st);
}

static int core_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    core_state_t *st = arg;
    zmsg_t *msg = zmsg_recv(pipe);
    char *cmd = msg ? zmsg_popstr(msg) : NULL;
    bool term = !cmd || streq(cmd, "$TERM");
    if (cmd && streq(cmd, "QUIESCE")) {
        st->quiesced = true;
        zsock_signal(pipe, 0);
    } else if (cmd && streq(cmd, "RELOAD")) {
        zframe_t *f = zmsg_pop(msg);
        const agg_config_t *cfg = NULL;
        if (f && zframe_size(f) == sizeof cfg)
            memcpy(&cfg, zframe_data(f), sizeof cfg);
        zframe_destroy(&f);
        core_reload(st, cfg);
        zsock_signal(pipe, 0);
    }
    zstr_free(&cmd);
    zmsg_destroy(&msg);
    return term ? -1 : 0;
}

int core_reload_config(core_t *self, const agg_config_t *cfg)
{
    return self ? actor_reload(self->actor, cfg) : -1;
}

void core_quiesce(core_t *self)
{
    if (!self)
        return;
    zstr_send(self->actor, "QUIESCE");
    zsock_wait(self->actor);
}

static void core_actor(zsock_t *pipe, void *arg)
{
    core_state_t *st = arg;
    /* The writer's socket belongs to this thread. */
    store_writer_t *writer = st->store ? store_writer_new(st->store) : NULL;
    if (writer) {
        core_cluster_set_writer(st->cluster, writer);
        fleet_observe(st->fleet, core_cluster_rows, st->cluster); /* store_rows, owned clusters only */
    }
    st->writer = writer;
    zloop_t *loop = zloop_new();
    zloop_set_nonstop(loop, true); /* ends on $TERM only: main stops actors in order */
    zloop_reader(loop, pipe, core_on_pipe, st);
    zloop_reader(loop, st->pull, core_on_sample, st);
    zloop_reader(loop, st->commands, core_on_command, st);
    if (core_cluster_events(st->cluster))
        zloop_reader(loop, core_cluster_events(st->cluster), core_on_cluster, st);
    zloop_timer(loop, 100, 0, core_on_stale, st);
    zloop_timer(loop, st->cfg->publish_interval_ms, 0, core_on_publish, st);
    zsock_signal(pipe, 0);
    zloop_start(loop);
    zloop_destroy(&loop);
    fleet_unobserve(st->fleet, core_cluster_rows, st->cluster);
    st->writer = NULL;
    store_writer_destroy(&writer);
}

core_t *core_new(const agg_config_t *cfg, snapshot_holder_t *snapshots, store_t *store,
                 const json_t *restored_alerts, const json_t *restored_silences, cluster_t *cluster)
{
    core_t *self = calloc(1, sizeof *self);
    core_state_t *st = calloc(1, sizeof *st);
    if (!self || !st)
        goto fail;
    st->cfg = cfg;
    st->snapshots = snapshots;
    st->store = store;
    st->fleet = fleet_new(cfg);
    st->frags = st->fleet ? fleet_frags_new(st->fleet) : NULL;
    st->diag = diag_new(&cfg->diag);
    st->maint = maint_new(core_emit, core_send_command, st);
    st->collector_cmds = zsock_new_push("@" INGEST_COMMANDS_ENDPOINT);
    if (st->collector_cmds)
        zsock_set_sndtimeo(st->collector_cmds, 0); /* no ingest: the take timeout fails it */
    /* Bound here, before ingest connects. */
    st->pull = zsock_new_pull("@" CORE_SAMPLES_ENDPOINT);
    st->commands = zsock_new_rep("@" CORE_COMMANDS_ENDPOINT);
    st->notify = zsock_new_push(">" NOTIFY_ENDPOINT);
    st->alerting = alerting_new(cfg, core_emit, st);
    st->cluster = st->alerting ? core_cluster_new(cluster, st->alerting) : NULL;
    if (!st->fleet || !st->frags || !st->diag || !st->maint || !st->collector_cmds || !st->pull || !st->commands ||
        !st->notify || !st->alerting || !st->cluster)
        goto fail;
    if (cluster)
        alerting_set_owner_filter(st->alerting, core_cluster_owns_fn, st->cluster);
    zsock_set_sndhwm(st->notify, 0);
    st->peak_events = peak_events_new(&cfg->alerting);
    alerting_restore(st->alerting, restored_alerts, restored_silences);
    ingest_budget_t budget;
    ingest_budget(cfg, &budget);
    zsock_set_rcvhwm(st->pull, budget.handoff_hwm);
    self->state = st;
    if (!(self->actor = zactor_new(core_actor, st)))
        goto fail;
    return self;
fail:
    if (st) {
        zsock_destroy(&st->pull);
        zsock_destroy(&st->commands);
        zsock_destroy(&st->notify);
        alerting_destroy(&st->alerting);
        core_cluster_destroy(&st->cluster);
        peak_events_destroy(&st->peak_events);
        fleet_frags_destroy(&st->frags);
        fleet_destroy(&st->fleet);
        diag_destroy(&st->diag);
        maint_destroy(&st->maint);
        zsock_destroy(&st->collector_cmds);
        free(st);
    }
    free(self);
    return NULL;
}

void core_destroy(core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    core_t *self = *self_p;
    zactor_destroy(&self->actor);
    /* Free samples still queued (pointers own their memory); ingest has
     * stopped by now, so nothing arrives after this. */
    ingest_handoff_t h;
    while (zmq_recv(zsock_resolve(self->state->pull), &h, sizeof h, ZMQ_DONTWAIT) == (int)sizeof h) {
        if (h.sample)
            pbarena_free(&h.sample->base);
        if (h.result)
            pgvigil__command_result__free_unpacked(h.result, NULL);
    }
    zsock_destroy(&self->state->pull);
    zsock_destroy(&self->state->commands);
    zsock_destroy(&self->state->notify);
    alerting_destroy(&self->state->alerting);
    core_cluster_destroy(&self->state->cluster);
    peak_events_destroy(&self->state->peak_events);
    fleet_frags_destroy(&self->state->frags);
    fleet_destroy(&self->state->fleet);
    diag_destroy(&self->state->diag);
    maint_destroy(&self->state->maint);
    zsock_destroy(&self->state->collector_cmds);
    free(self->state);
    free(self);
    *self_p = NULL;
}
