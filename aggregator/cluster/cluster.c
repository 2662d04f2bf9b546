/*
 * cluster.c — the coordination actor (cluster.h).
 *
 * The actor owns everything it works with: the Redis connection, the epoch
 * floors read from PostgreSQL, the table of known clusters (held epoch,
 * floor, latest view) and the member list. It publishes its decisions into
 * the fence, which is the only state other threads read.
 *
 * Ownership is decided at each heartbeat and right after a new cluster is
 * observed: the owner is the member with the highest rendezvous score.
 * Acquiring INCRs the cluster's epoch (raised above the durable floor, so it
 * never goes backwards even when Redis lost its data) and records it in the
 * history database. Releasing happens when another member wins the cluster,
 * when Redis becomes unreachable (this aggregator then owns everything it
 * hears, under epoch 0), and when the lease ran out while the process was
 * not running (paused): then every cluster is given up before the lease is
 * renewed, and acquired again, if at all, under a new epoch.
 */
#include "cluster.h"
#include "cluster_actor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "actor.h"
#include "clock.h"
#include "cluster_epoch.h"
#include "cluster_hrw.h"
#include "cluster_ops.h"
#include "cluster_redis.h"
#include "log.h"

#define CLUSTER_PLACE_MS 50
#define CLUSTER_FLOORS_RETRY_US (5 * 1000000LL) /* floors unread (database away): read again after */

struct cluster {
    zactor_t *actor;
    cluster_fence_t *fence;
    char endpoint[128];
};

/* the actor's state: cluster_actor.h */

static void cluster_entry_free(void **item)
{
    cluster_entry_t *e = *item;
    if (e) {
        json_decref(e->view);
        free(e);
    }
    *item = NULL;
}

cluster_entry_t *cluster_entry(cluster_actor_t *a, uint64_t id, bool create)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, id);
    cluster_entry_t *e = zhashx_lookup(a->known, key);
    if (!e && create && (e = calloc(1, sizeof *e))) {
        e->id = id;
        zhashx_insert(a->known, key, e);
    }
    return e;
}

void cluster_event(cluster_actor_t *a, const char *kind, const char *f1, const char *f2,
                          const char *f3)
{
    if (!a->events)
        return;
    zmsg_t *m = zmsg_new();
    if (!m)
        return;
    zmsg_addstr(m, kind);
    for (const char *f = f1, **next = (const char *[]){f2, f3, NULL}; f; f = *next++)
        zmsg_addstr(m, f);
    if (zmsg_send(&m, a->events) != 0) {
        zmsg_destroy(&m);
        a->events_dropped++;
    }
}

static void cluster_owner_event(cluster_actor_t *a, uint64_t id, uint64_t epoch, const char *what)
{
    char cid[24], ep[24];
    snprintf(cid, sizeof cid, "%" PRIu64, id);
    snprintf(ep, sizeof ep, "%" PRIu64, epoch);
    cluster_event(a, "owner", cid, ep, what);
}

/* "owner" <id> <epoch> "acquired" <open alerts stored by the previous owner,
 * JSON array text: "[]" when none or the database is away>. */
static void cluster_acquired_event(cluster_actor_t *a, uint64_t id, uint64_t epoch)
{
    if (!a->events)
        return;
    if (!a->open_alerts_read) {
        a->open_alerts = cluster_epoch_open_alerts(a->floors);
        a->open_alerts_read = true;
    }
    char cid[24], ep[24];
    snprintf(cid, sizeof cid, "%" PRIu64, id);
    json_t *alerts = json_array();
    size_t i;
    json_t *doc;
    json_array_foreach(a->open_alerts, i, doc) {
        const char *of = json_string_value(json_object_get(doc, "cluster_id"));
        if (of && strcmp(of, cid) == 0)
            json_array_append(alerts, doc);
    }
    char *text = alerts ? json_dumps(alerts, JSON_COMPACT) : NULL;
    json_decref(alerts);
    snprintf(ep, sizeof ep, "%" PRIu64, epoch);
    zmsg_t *m = zmsg_new();
    if (m && zmsg_addstr(m, "owner") == 0 && zmsg_addstr(m, cid) == 0 && zmsg_addstr(m, ep) == 0 &&
        zmsg_addstr(m, "acquired") == 0 && zmsg_addstr(m, text ? text : "[]") == 0 && zmsg_send(&m, a->events) == 0) {
        free(text);
        return;
    }
    zmsg_destroy(&m);
    free(text);
    a->events_dropped++;
}

static void cluster_set_state(cluster_actor_t *a, cluster_state_t state)
{
    if (a->state == state)
        return;
    a->state = state;
    cluster_fence_set_state(a->fence, state);
    cluster_event(a, "state", cluster_state_name(state), NULL, NULL);
}

/* Give up every held cluster (fence first: effects stop before anything else). */
static size_t cluster_release_all(cluster_actor_t *a)
{
    size_t n = cluster_fence_release_all(a->fence);
    for (cluster_entry_t *e = zhashx_first(a->known); e; e = zhashx_next(a->known)) {
        if (e->held)
            cluster_owner_event(a, e->id, e->held, "released");
        e->held = 0;
        e->placed = false;
    }
    return n;
}

/* Redis failed: fail open, once, with a line in the log. */
void cluster_lost_redis(cluster_actor_t *a, const char *why)
{
    cluster_redis_close(a->redis);
    if (a->state == CLUSTER_STATE_DEGRADED)
        return;
    cluster_set_state(a, CLUSTER_STATE_DEGRADED); /* first: readers keep their state */
    size_t n = cluster_release_all(a);
    a->lease_expiry_us = 0;
    cluster_fence_set_lease(a->fence, 0);
    log_report(LOG_LEVEL_WARNING, why,
               "Monitoring and notifications go on; duplicates are possible until Redis is back.",
               "cluster: Redis is unreachable: this aggregator now owns every cluster it hears "
               "(fail open; %zu held under an epoch were released)", n);
}

static void cluster_floor_seen(uint64_t id, uint64_t epoch, void *arg)
{
    cluster_actor_t *a = arg;
    cluster_entry_t *e = cluster_entry(a, id, true);
    if (e && epoch > e->floor)
        e->floor = epoch;
}

/* Floors from PostgreSQL, then the Redis counters raised to them: after
 * Redis lost its data (lost), and on every new master connection, since an
 * asynchronous replica promoted by Sentinel may miss the last INCRs. The
 * counters of what we hold are raised to our epochs too. */
static int cluster_recover_epochs(cluster_actor_t *a, bool lost)
{
    int n = cluster_epoch_load(a->floors, cluster_floor_seen, a);
    if (n >= 0)
        a->floors_loaded = true;
    else
        a->floors_retry_us = clock_mono_us() + CLUSTER_FLOORS_RETRY_US;
    if (lost)
        log_warning("cluster: Redis at %s lost its data; epoch floors of %d clusters restored "
                    "from the history database", cluster_redis_master(a->redis), n < 0 ? 0 : n);
    for (cluster_entry_t *e = zhashx_first(a->known); e; e = zhashx_next(a->known)) {
        uint64_t top = e->held > e->floor ? e->held : e->floor;
        if (top && cluster_ops_raise(a->redis, e->id, top) != 0)
            return -1;
    }
    return 0;
}

bool cluster_is_self(const cluster_actor_t *a, int owner)
{
    return owner >= 0 && strcmp(a->members[owner], a->cfg->name) == 0;
}

/* Acquire or release e according to the members. 0, or -1 if Redis failed. */
static int cluster_place(cluster_actor_t *a, cluster_entry_t *e)
{
    int owner = cluster_hrw_owner((const char *const *)a->members, a->member_count, e->id);
    e->placed = true;
    if (cluster_is_self(a, owner) && !e->held) {
        uint64_t epoch;
        if (cluster_ops_acquire(a->redis, e->id, e->floor, &epoch) != 0)
            return -1;
        e->held = epoch;
        e->floor = epoch;
        if (cluster_epoch_record(a->floors, e->id, epoch, a->cfg->name) != 0)
            log_debug("cluster: epoch %" PRIu64 " of cluster %" PRIu64 " not recorded", epoch, e->id);
        cluster_fence_acquire(a->fence, e->id, epoch);
        cluster_acquired_event(a, e->id, epoch);
        log_info("cluster: this aggregator now owns cluster %" PRIu64 " (epoch %" PRIu64 ")", e->id, epoch);
    } else if (!cluster_is_self(a, owner) && e->held) {
        cluster_fence_release(a->fence, e->id);
        cluster_owner_event(a, e->id, e->held, "released");
        log_info("cluster: cluster %" PRIu64 " moves to %s", e->id, owner >= 0 ? a->members[owner] : "nobody");
        e->held = 0;
    }
    return 0;
}

/* Keep the lease through a long placement pass (thousands of clusters
 * acquired at start): renewed once half of it is gone. */
static int cluster_keep_lease(cluster_actor_t *a)
{
    int64_t now = clock_mono_us();
    if (!a->lease_expiry_us || now < a->lease_expiry_us - (int64_t)a->cfg->lease_ttl_ms * 450)
        return 0;
    if (cluster_ops_renew(a->redis, a->cfg->name, a->incarnation, a->cfg->lease_ttl_ms) != 0)
        return -1;
    a->lease_expiry_us = now + (int64_t)a->cfg->lease_ttl_ms * 900;
    cluster_fence_set_lease(a->fence, a->lease_expiry_us);
    return 0;
}

static int cluster_place_all(cluster_actor_t *a, bool only_new)
{
    unsigned n = 0;
    int rc = 0;
    for (cluster_entry_t *e = zhashx_first(a->known); e && rc == 0; e = zhashx_next(a->known))
        if (e->observed && (!only_new || !e->placed))
            rc = cluster_place(a, e) != 0 || (++n % 64 == 0 && cluster_keep_lease(a) != 0) ? -1 : 0;
    json_decref(a->open_alerts); /* read again by the next pass that acquires */
    a->open_alerts = NULL;
    a->open_alerts_read = false;
    return rc;
}

/* Connected and the data set checked: 0, or -1 (then degraded). */
static int cluster_ensure_redis(cluster_actor_t *a)
{
    char err[512];
    if (cluster_redis_connect(a->redis, err, sizeof err) != 0) {
        cluster_lost_redis(a, err);
        return -1;
    }
    bool fresh = cluster_redis_generation(a->redis) != a->generation;
    if (fresh) {
        a->generation = cluster_redis_generation(a->redis);
        cluster_fence_set_master(a->fence, cluster_redis_master(a->redis));
        log_info("cluster: connected to the Redis master at %s", cluster_redis_master(a->redis));
    }
    /* Recovery raises one Redis counter per known cluster: only when
     * something changed, or when floors still to be read may be readable
     * now — not on every call while the database is away (every 50 ms at
     * thousands of clusters kept this thread from placing anything). */
    int lost = cluster_ops_run_token(a->redis, a->run_token);
    bool reload = !a->floors_loaded && clock_mono_us() >= a->floors_retry_us;
    if (lost < 0 || ((lost || fresh || reload) && cluster_recover_epochs(a, lost == 1) != 0)) {
        cluster_lost_redis(a, "the Redis master stopped answering");
        return -1;
    }
    return 0;
}

static void cluster_watch_sentinels(cluster_actor_t *a);

/* The lease ran out while this process was not running (paused): give
 * everything up before anything else, and stay out of the members for two
 * lease TTLs so the stand-ins keep what they took over instead of handing it
 * straight back (unless nobody else is alive). */
static void cluster_lapsed(cluster_actor_t *a, int64_t now)
{
    size_t n = cluster_release_all(a);
    bool alone = a->member_count == 0 || (a->member_count == 1 && cluster_is_self(a, 0));
    log_warning("cluster: the membership lease ran out %.1f s ago (was this process paused?): "
                "%zu clusters given up%s",
                (double)(now - a->lease_expiry_us) / 1e6, n,
                alone ? "" : "; rejoining in two lease TTLs");
    a->lease_expiry_us = 0;
    cluster_fence_set_lease(a->fence, 0);
    if (!alone)
        a->probation_until_us = now + (int64_t)a->cfg->lease_ttl_ms * 2000;
}

/* Renew the lease and read the members. 0, or -1 if Redis failed. */
static int cluster_renew(cluster_actor_t *a, bool renew)
{
    int64_t sent = clock_mono_us();
    char **names = NULL;
    size_t count = 0;
    if ((renew && cluster_ops_renew(a->redis, a->cfg->name, a->incarnation, a->cfg->lease_ttl_ms) != 0) ||
        cluster_ops_members(a->redis, &names, &count) != 0)
        return -1;
    if (renew) {
        /* The key's TTL started after we sent; a tenth of margin covers that
         * and the clocks' drift. */
        a->lease_expiry_us = sent + (int64_t)a->cfg->lease_ttl_ms * 900;
        cluster_fence_set_lease(a->fence, a->lease_expiry_us);
    }
    cluster_ops_free_names(a->members, a->member_count);
    a->members = names;
    a->member_count = count;
    cluster_fence_set_members(a->fence, (const char *const *)names, count);
    return 0;
}

/* Another aggregator acquired a cluster we hold (its member list was behind
 * ours for a moment): its epoch fences ours. While the members say the
 * cluster is ours, acquire it again, above that epoch. */
static int cluster_check_one(cluster_actor_t *a, cluster_entry_t *e, uint64_t current)
{
    uint64_t epoch;
    if (current <= e->held)
        return 0;
    int owner = cluster_hrw_owner((const char *const *)a->members, a->member_count, e->id);
    if (!cluster_is_self(a, owner))
        return 0; /* the next placement releases it */
    if (cluster_ops_acquire(a->redis, e->id, current, &epoch) != 0)
        return -1;
    log_info("cluster: epoch %" PRIu64 " of cluster %" PRIu64 " was superseded by %" PRIu64
             " elsewhere; owned again under %" PRIu64, e->held, e->id, current, epoch);
    e->held = e->floor = epoch;
    cluster_epoch_record(a->floors, e->id, epoch, a->cfg->name);
    cluster_fence_acquire(a->fence, e->id, epoch);
    cluster_owner_event(a, e->id, epoch, "renewed");
    return 0;
}

/* The held clusters' counters, CLUSTER_OPS_EPOCHS_MAX to a round trip (at
 * thousands of clusters, one GET each every heartbeat kept this thread
 * busy most of the time). */
static int cluster_check_epochs(cluster_actor_t *a)
{
    cluster_entry_t *batch[CLUSTER_OPS_EPOCHS_MAX];
    uint64_t ids[CLUSTER_OPS_EPOCHS_MAX], current[CLUSTER_OPS_EPOCHS_MAX];
    size_t n = 0;
    cluster_entry_t *e = zhashx_first(a->known);
    while (e || n) {
        if (e && e->held) {
            batch[n] = e;
            ids[n++] = e->id;
        }
        e = e ? zhashx_next(a->known) : NULL;
        if (n == CLUSTER_OPS_EPOCHS_MAX || (!e && n)) {
            if (cluster_ops_epochs(a->redis, ids, n, current) != 0)
                return -1;
            for (size_t i = 0; i < n; i++)
                if (cluster_check_one(a, batch[i], current[i]) != 0)
                    return -1;
            n = 0;
        }
    }
    return 0;
}

/* The heartbeat: lease, members, placement. */
static int cluster_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    cluster_actor_t *a = arg;
    int64_t now = clock_mono_us();
    if (a->state == CLUSTER_STATE_OK && a->lease_expiry_us && now >= a->lease_expiry_us)
        cluster_lapsed(a, now);
    if (cluster_ensure_redis(a) != 0)
        return 0;
    bool member = now >= a->probation_until_us;
    if (cluster_renew(a, member) != 0) {
        cluster_lost_redis(a, "the Redis master stopped answering");
        return 0;
    }
    if (a->state != CLUSTER_STATE_OK) {
        log_info("cluster: coordinating through Redis at %s with %zu live aggregators",
                 cluster_redis_master(a->redis), a->member_count);
        cluster_set_state(a, CLUSTER_STATE_OK);
    }
    if (member && (cluster_place_all(a, false) != 0 || cluster_check_epochs(a) != 0))
        cluster_lost_redis(a, "the Redis master stopped answering");
    cluster_watch_sentinels(a);
    return 0;
}

/* Place newly observed clusters without waiting for the heartbeat. */
static int cluster_place_pending(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    cluster_actor_t *a = arg;
    if (!a->pending || a->state != CLUSTER_STATE_OK || clock_mono_us() >= a->lease_expiry_us)
        return 0; /* the heartbeat deals with a lapsed lease first */
    a->pending = false;
    /* members read now, not at the last heartbeat: one that joined since
     * would otherwise be missed, and the cluster taken from it */
    if (cluster_ensure_redis(a) == 0 && (cluster_renew(a, false) != 0 || cluster_place_all(a, true) != 0))
        cluster_lost_redis(a, "the Redis master stopped answering");
    return 0;
}

static int cluster_parse_id(const char *text, uint64_t *id)
{
    char *end = NULL;
    if (!text || !*text || *text == '-')
        return -1;
    *id = strtoull(text, &end, 10);
    return *end == '\0' ? 0 : -1;
}

/* A request from a cluster_client_t: [command, cluster id, payload?]. */
static int cluster_on_request(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    cluster_actor_t *a = arg;
    char *cmd = NULL, *idtext = NULL, *payload = NULL;
    uint64_t id;
    if (zsock_recv(sock, "sss", &cmd, &idtext, &payload) != 0 || !cmd || cluster_parse_id(idtext, &id) != 0)
        goto out;
    if (streq(cmd, "observe")) {
        cluster_entry_t *e = cluster_entry(a, id, true);
        if (e && !e->observed) {
            e->observed = true;
            a->pending = true;
        }
    } else if (streq(cmd, "forget")) {
        cluster_entry_t *e = cluster_entry(a, id, false);
        if (e && e->held) {
            cluster_fence_release(a->fence, id);
            cluster_owner_event(a, id, e->held, "released");
        }
        if (e)
            zhashx_delete(a->known, idtext);
    } else if (streq(cmd, "publish") && payload) {
        cluster_entry_t *e = cluster_entry(a, id, true);
        json_t *v = json_loads(payload, 0, NULL);
        if (e && v) {
            json_decref(e->view);
            e->view = v;
        } else {
            json_decref(v);
        }
    } else if (streq(cmd, "route") && payload) {
        cluster_route(a, id, payload);
    } else if (streq(cmd, "broadcast") && payload) {
        cluster_broadcast(a, payload);
    }
out:
    zstr_free(&cmd);
    zstr_free(&idtext);
    zstr_free(&payload);
    return 0;
}

static int cluster_on_sentinel(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    cluster_actor_t *a = arg;
    int switched = cluster_redis_watch_read(a->redis);
    if (switched < 0) {
        zloop_poller_end(loop, item); /* re-subscribed at the next heartbeat */
        a->watch_fd = -1;
    } else if (switched) {
        cluster_heartbeat(loop, 0, a); /* follow the new master now */
    }
    return 0;
}

/* Keep one sentinel subscription polled (no-op with a single Redis). */
static void cluster_watch_sentinels(cluster_actor_t *a)
{
    if (a->cfg->sentinel_count == 0 || cluster_redis_watch(a->redis) != 0)
        return;
    int fd = cluster_redis_watch_fd(a->redis);
    if (fd == a->watch_fd)
        return;
    if (a->watch_fd >= 0) {
        zmq_pollitem_t old = {.fd = a->watch_fd, .events = ZMQ_POLLIN};
        zloop_poller_end(a->loop, &old);
    }
    zmq_pollitem_t item = {.fd = fd, .events = ZMQ_POLLIN};
    if (zloop_poller(a->loop, &item, cluster_on_sentinel, a) == 0)
        a->watch_fd = fd;
}

/* A clean stop: withdraw the lease and views so the others take over now. */
static void cluster_leave(cluster_actor_t *a)
{
    cluster_release_all(a);
    cluster_fence_set_lease(a->fence, 0);
    if (a->state != CLUSTER_STATE_OK || !cluster_redis_connected(a->redis))
        return;
    json_t *none = json_object();
    if (none && cluster_ops_publish(a->redis, a->cfg->name, none, 1000) == 0 &&
        cluster_ops_leave(a->redis, a->cfg->name, a->incarnation) == 0)
        log_info("cluster: left; the other aggregators take over this one's clusters");
    json_decref(none);
}

typedef struct {
    const cluster_config_t *cfg;
    cluster_fence_t *fence;
    const char *dsn, *endpoint, *events_endpoint;
    bool started; /* set by the actor before it signals */
} cluster_args_t;

static int cluster_actor_init(cluster_actor_t *a, const cluster_args_t *args, zsock_t *pipe)
{
    a->cfg = args->cfg;
    a->fence = args->fence;
    a->pipe = pipe;
    a->watch_fd = -1;
    zuuid_t *u = zuuid_new();
    if (u)
        snprintf(a->incarnation, sizeof a->incarnation, "%s", zuuid_str(u));
    zuuid_destroy(&u);
    a->known = zhashx_new();
    if (a->known)
        zhashx_set_destructor(a->known, cluster_entry_free);
    a->redis = cluster_redis_new(a->cfg);
    a->floors = cluster_epoch_new(args->dsn);
    a->requests = zsock_new_pull(args->endpoint);
    a->loop = zloop_new();
    if (args->events_endpoint && (a->events = zsock_new(ZMQ_PUSH))) {
        zsock_set_sndtimeo(a->events, 0);
        zsock_set_sndhwm(a->events, 100000);
        if (zsock_connect(a->events, "%s", args->events_endpoint) != 0)
            zsock_destroy(&a->events);
    }
    if (!a->incarnation[0] || !a->known || !a->redis || !a->floors || !a->requests || !a->loop ||
        (args->events_endpoint && !a->events))
        return -1;
    /* at most 500 ms: a dead member's clusters are taken over within
     * lease_ttl + 0.5 s, whatever the TTL */
    uint64_t beat = a->cfg->lease_ttl_ms / 3 < 500 ? a->cfg->lease_ttl_ms / 3 : 500;
    if (zloop_reader(a->loop, pipe, actor_on_pipe, NULL) != 0 ||
        zloop_reader(a->loop, a->requests, cluster_on_request, a) != 0 ||
        zloop_timer(a->loop, 1, 1, cluster_heartbeat, a) < 0 ||
        zloop_timer(a->loop, beat, 0, cluster_heartbeat, a) < 0 ||
        zloop_timer(a->loop, CLUSTER_PLACE_MS, 0, cluster_place_pending, a) < 0 ||
        zloop_timer(a->loop, a->cfg->publish_interval_ms, 0, cluster_publish, a) < 0)
        return -1;
    return 0;
}

static void cluster_actor_fini(cluster_actor_t *a)
{
    zloop_destroy(&a->loop);
    zsock_destroy(&a->requests);
    zsock_destroy(&a->events);
    cluster_redis_destroy(&a->redis);
    cluster_epoch_destroy(&a->floors);
    zhashx_destroy(&a->known);
    json_decref(a->open_alerts);
    cluster_ops_free_names(a->members, a->member_count);
}

static void cluster_actor(zsock_t *pipe, void *arg)
{
    cluster_actor_t a = {0};
    if (cluster_actor_init(&a, arg, pipe) != 0) {
        log_error("cluster: could not start the coordination actor: out of memory or sockets");
        cluster_actor_fini(&a);
        zsock_signal(pipe, 1);
        return;
    }
    ((cluster_args_t *)arg)->started = true;
    zsock_signal(pipe, 0);
    zloop_start(a.loop);
    cluster_leave(&a);
    cluster_actor_fini(&a);
}

cluster_t *cluster_new(const cluster_config_t *cfg, const char *dsn, const char *events_endpoint)
{
    cluster_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->endpoint, sizeof self->endpoint, "inproc://pgvigil-cluster-%p", (void *)self);
    if (!(self->fence = cluster_fence_new(cfg->name)))
        goto fail;
    cluster_args_t args = {.cfg = cfg, .fence = self->fence, .dsn = dsn, .endpoint = self->endpoint,
                           .events_endpoint = events_endpoint};
    /* zactor_new returns once the actor signalled */
    if (!(self->actor = zactor_new(cluster_actor, &args)) || !args.started)
        goto fail;
    return self;
fail:
    cluster_destroy(&self);
    return NULL;
}

void cluster_destroy(cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cluster_t *self = *self_p;
    zactor_destroy(&self->actor);
    cluster_fence_destroy(&self->fence);
    free(self);
    *self_p = NULL;
}

cluster_fence_t *cluster_fence(cluster_t *self)
{
    return self ? self->fence : NULL;
}

const char *cluster_requests_endpoint(const cluster_t *self)
{
    return self->endpoint;
}
