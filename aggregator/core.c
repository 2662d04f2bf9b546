/*
 * core.c — the core actor (see core.h): receives accepted samples from
 * ingest, applies them to the fleet, checks staleness, and publishes a new
 * snapshot at most once per publish_interval when something changed.
 */
#include "core.h"

#include <czmq.h>

#include "clock.h"
#include "fleet.h"
#include "ingest.h"
#include "log.h"

typedef struct {
    const agg_config_t *cfg;
    snapshot_holder_t *snapshots;
    fleet_t *fleet;
    store_t *store;
    zsock_t *pull;
    bool dirty;
    int64_t published_at_us;
    uint64_t version;
    atomic_uint_fast64_t applied;
} core_state_t;

struct core {
    zactor_t *actor;
    core_state_t *state;
};

static void core_publish(core_state_t *st)
{
    fleet_view_t v;
    snapshot_t *snap = snapshot_new();
    if (!snap || fleet_view(st->fleet, clock_wall_us(), &v) != 0) {
        free(snap);
        return;
    }
    snap->version = ++st->version;
    snap->built_at_us = clock_wall_us();
    snap->clusters = v.clusters;
    snap->nodes = v.nodes;
    snap->events = v.events;
    snap->metrics_text = v.metrics_text;
    snap->status = v.status;
    snap->cluster_count = v.cluster_count;
    snap->node_count = v.node_count;
    snap->nodes_up = v.nodes_up;
    snap->nodes_down = v.nodes_down;
    snap->nodes_stale = v.nodes_stale;
    snap->samples_applied = atomic_load(&st->applied);
    json_t *wrap = json_pack("{s:O}", "clusters", v.clusters);
    snap->clusters_json = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
    json_decref(wrap);
    snapshot_publish(st->snapshots, snap);
    st->dirty = false;
    st->published_at_us = clock_mono_us();
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
        if (fleet_apply(st->fleet, h.sample, h.received_at_us))
            st->dirty = true;
        atomic_fetch_add(&st->applied, 1);
    }
    /* Leading edge: publish at once when the last snapshot is old enough;
     * the timer publishes what arrives in between. */
    if (st->dirty && clock_mono_us() - st->published_at_us >= (int64_t)st->cfg->publish_interval_ms * 1000)
        core_publish(st);
    return 0;
}

static int core_on_stale(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    core_state_t *st = arg;
    if (fleet_check_stale(st->fleet, clock_wall_us()))
        st->dirty = true;
    return 0;
}

static int core_on_publish(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    core_state_t *st = arg;
    if (st->dirty)
        core_publish(st);
    return 0;
}

static int core_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    (void)arg;
    char *cmd = zstr_recv(pipe);
    bool term = !cmd || streq(cmd, "$TERM");
    zstr_free(&cmd);
    return term ? -1 : 0;
}

static void core_actor(zsock_t *pipe, void *arg)
{
    core_state_t *st = arg;
    /* The writer's socket belongs to this thread. */
    store_writer_t *writer = st->store ? store_writer_new(st->store) : NULL;
    fleet_set_writer(st->fleet, writer);
    zloop_t *loop = zloop_new();
    zloop_set_nonstop(loop, true); /* ends on $TERM only: main stops actors in order */
    zloop_reader(loop, pipe, core_on_pipe, st);
    zloop_reader(loop, st->pull, core_on_sample, st);
    zloop_timer(loop, 250, 0, core_on_stale, st);
    zloop_timer(loop, st->cfg->publish_interval_ms, 0, core_on_publish, st);
    zsock_signal(pipe, 0);
    zloop_start(loop);
    zloop_destroy(&loop);
    fleet_set_writer(st->fleet, NULL);
    store_writer_destroy(&writer);
}

core_t *core_new(const agg_config_t *cfg, snapshot_holder_t *snapshots, store_t *store)
{
    core_t *self = calloc(1, sizeof *self);
    core_state_t *st = calloc(1, sizeof *st);
    if (!self || !st)
        goto fail;
    st->cfg = cfg;
    st->snapshots = snapshots;
    st->store = store;
    st->fleet = fleet_new(cfg);
    /* Bound here, before ingest connects. */
    st->pull = zsock_new_pull("@" CORE_SAMPLES_ENDPOINT);
    if (!st->fleet || !st->pull)
        goto fail;
    zsock_set_rcvhwm(st->pull, INGEST_HANDOFF_HWM);
    self->state = st;
    if (!(self->actor = zactor_new(core_actor, st)))
        goto fail;
    return self;
fail:
    if (st) {
        zsock_destroy(&st->pull);
        fleet_destroy(&st->fleet);
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
    while (zmq_recv(zsock_resolve(self->state->pull), &h, sizeof h, ZMQ_DONTWAIT) == (int)sizeof h)
        pgvigil__sample__free_unpacked(h.sample, NULL);
    zsock_destroy(&self->state->pull);
    fleet_destroy(&self->state->fleet);
    free(self->state);
    free(self);
    *self_p = NULL;
}
