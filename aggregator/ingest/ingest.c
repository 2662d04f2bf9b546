/*
 * ingest.c — the ingest actor (see ingest.h).
 *
 * Runs in its own thread (a czmq zactor): a ROUTER bound on every configured
 * endpoint, a PUSH towards the core, and a libzmq socket monitor that counts
 * refused CURVE handshakes. Decoding and validation are pure functions so the
 * fuzz target and the unit tests exercise exactly what the socket sees.
 */
#include "ingest.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "clock.h"
#include "ingest_queue.h"
#include "log.h"

#define INGEST_MONITOR_ENDPOINT "inproc://pgvigil-ingest-monitor"
#define INGEST_STR_MAX 4096
#define INGEST_LIST_MAX 100000
#define INGEST_SAMPLE_COST_EST 4096     /* a typical decoded sample, for the budget split */
#define INGEST_MESSAGE_COST_EST 1024    /* a typical message on the wire */
#define INGEST_QUEUE_POLL_MS 5          /* retry the hand-off this often while samples wait */
#define INGEST_BACKLOG_LOG_US 10000000  /* coalesced/dropped logged at most this often */

struct ingest {
    zactor_t *actor;
};

typedef struct {
    const agg_config_t *cfg;
    const char *core_endpoint;
    ingest_counters_t *counters;
    char *err;
    size_t errlen;
} ingest_args_t;

const char *ingest_reject_name(ingest_reject_t why)
{
    static const char *const names[] = {"ok", "bad_frames", "bad_envelope", "oversized",
                                        "bad_body", "invalid", "name_mismatch"};
    return (unsigned)why < INGEST_REASON_COUNT ? names[why] : "unknown";
}

static bool ingest_str_ok(const char *s) { return !s || strnlen(s, INGEST_STR_MAX + 1) <= INGEST_STR_MAX; }

static int ingest_fail(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return -1;
}

void ingest_budget(const agg_config_t *cfg, ingest_budget_t *out)
{
    size_t budget = (size_t)cfg->inbound_budget_mb << 20;
    size_t handoff = budget / 4 / INGEST_SAMPLE_COST_EST / 2, router = budget / 4 / INGEST_MESSAGE_COST_EST;
    out->handoff_hwm = handoff < 100 ? 100 : handoff > 100000 ? 100000 : (int)handoff;
    out->router_rcvhwm = router < 10 ? 10 : router > 100 ? 100 : (int)router;
    out->queue_bytes = budget / 2;
}

/* Sections that carry lists: bounded so one sample cannot exhaust memory. */
static int ingest_validate_sections(const Pgvigil__Sample *s, char *why, size_t len)
{
    if (s->primary_replication && s->primary_replication->n_standbys > 1000)
        return ingest_fail(why, len, "too many standbys");
    if (s->replication_slots && s->replication_slots->n_slots > 10000)
        return ingest_fail(why, len, "too many replication slots");
    if ((s->databases && s->databases->n_databases > INGEST_LIST_MAX) ||
        (s->tables && s->tables->n_tables > INGEST_LIST_MAX) ||
        (s->indexes && s->indexes->n_indexes > INGEST_LIST_MAX) ||
        (s->statements && s->statements->n_statements > INGEST_LIST_MAX))
        return ingest_fail(why, len, "a section list is too long");
    if (s->replica_replication && !ingest_str_ok(s->replica_replication->wal_receiver_status))
        return ingest_fail(why, len, "wal_receiver_status is too long");
    if (s->primary_replication)
        for (size_t i = 0; i < s->primary_replication->n_standbys; i++)
            if (!ingest_str_ok(s->primary_replication->standbys[i]->application_name))
                return ingest_fail(why, len, "standby application_name is too long");
    return 0;
}

int ingest_validate(const Pgvigil__Sample *s, char *why, size_t len)
{
    static const int64_t year2000 = 946684800LL * 1000000, year2100 = 4102444800LL * 1000000;
    if (!s->has_format_version || s->format_version != 1)
        return ingest_fail(why, len, "format_version is not 1");
    if (!envelope_node_name_valid(s->node))
        return ingest_fail(why, len, "node name is missing or invalid");
    if (!s->region || !s->region[0] || strlen(s->region) > 63)
        return ingest_fail(why, len, "region is missing or longer than 63 characters");
    if (!s->has_collected_at_us || s->collected_at_us < year2000 || s->collected_at_us > year2100)
        return ingest_fail(why, len, "collected_at_us is missing or out of range");
    if (!s->has_sequence || s->sequence == 0)
        return ingest_fail(why, len, "sequence is missing or zero");
    if (!s->has_up)
        return ingest_fail(why, len, "up is missing");
    if (s->has_role && s->role != PGVIGIL__ROLE__ROLE_UNKNOWN && s->role != PGVIGIL__ROLE__ROLE_PRIMARY &&
        s->role != PGVIGIL__ROLE__ROLE_REPLICA)
        return ingest_fail(why, len, "role is unknown");
    if (s->up && (!s->has_system_identifier || s->system_identifier == 0 || !s->has_role ||
                  s->role == PGVIGIL__ROLE__ROLE_UNKNOWN))
        return ingest_fail(why, len, "an up sample needs a system identifier and a role");
    if (!s->has_interval_ms || s->interval_ms < 10 || s->interval_ms > 3600000)
        return ingest_fail(why, len, "interval_ms is missing or out of range");
    if (!ingest_str_ok(s->error) || !ingest_str_ok(s->hostname) || !ingest_str_ok(s->collector_version))
        return ingest_fail(why, len, "a text field is too long");
    return ingest_validate_sections(s, why, len);
}

Pgvigil__Sample *ingest_decode(const uint8_t *env_buf, size_t env_len, const uint8_t *body,
                               size_t body_len, envelope_t *env, ingest_reject_t *reject)
{
    char why[128];
    if (envelope_decode(env_buf, env_len, env) != 0) {
        *reject = INGEST_BAD_ENVELOPE;
        return NULL;
    }
    if (env->type != ENVELOPE_SAMPLE) {
        *reject = INGEST_BAD_FRAMES;
        return NULL;
    }
    if (body_len > ENVELOPE_BODY_MAX_BYTES) {
        *reject = INGEST_OVERSIZED;
        return NULL;
    }
    Pgvigil__Sample *s = pgvigil__sample__unpack(NULL, body_len, body);
    if (!s) {
        *reject = INGEST_BAD_BODY;
        return NULL;
    }
    if (ingest_validate(s, why, sizeof why) != 0) {
        *reject = INGEST_INVALID;
        pgvigil__sample__free_unpacked(s, NULL);
        return NULL;
    }
    if (strcmp(s->node, env->node) != 0) {
        *reject = INGEST_NAME_MISMATCH;
        pgvigil__sample__free_unpacked(s, NULL);
        return NULL;
    }
    *reject = INGEST_OK;
    return s;
}

/* A maintenance result: to the core, like a sample. */
static ingest_reject_t ingest_result(const envelope_t *env, const uint8_t *body, size_t len, void *push)
{
    Pgvigil__CommandResult *r = pgvigil__command_result__unpack(NULL, len, body);
    if (!r)
        return INGEST_BAD_BODY;
    if (!r->has_id || !r->state) {
        pgvigil__command_result__free_unpacked(r, NULL);
        return INGEST_INVALID;
    }
    ingest_handoff_t h = {.result = r, .received_at_us = clock_wall_us()};
    snprintf(h.node, sizeof h.node, "%s", env->node);
    if (zmq_send(push, &h, sizeof h, 0) != (int)sizeof h)
        pgvigil__command_result__free_unpacked(r, NULL);
    return INGEST_OK;
}

/* A command from the core, [node][packed Command], to that node's
 * collector; if it is not connected, a failed result goes back at once. */
static void ingest_command(void *cmds, void *router, void *push)
{
    char node[ENVELOPE_NODE_MAX + 1];
    zmsg_t *m = zmsg_recv(cmds);
    zframe_t *name = m ? zmsg_first(m) : NULL, *body = m ? zmsg_next(m) : NULL;
    if (!name || !body || zframe_size(name) >= sizeof node) {
        zmsg_destroy(&m);
        return;
    }
    memcpy(node, zframe_data(name), zframe_size(name));
    node[zframe_size(name)] = '\0';
    envelope_t env = {ENVELOPE_VERSION, ENVELOPE_COMMAND, ""};
    snprintf(env.node, sizeof env.node, "%s", node);
    uint8_t eb[ENVELOPE_MAX_BYTES];
    size_t elen = envelope_encode(&env, eb, sizeof eb);
    bool sent = elen && zmq_send(router, node, strlen(node), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
    if (sent) {
        zmq_send(router, eb, elen, ZMQ_SNDMORE);
        zmq_send(router, zframe_data(body), zframe_size(body), 0);
    } else {
        Pgvigil__Command *c = pgvigil__command__unpack(NULL, zframe_size(body), zframe_data(body));
        Pgvigil__CommandResult *r = malloc(sizeof *r);
        if (c && r) {
            pgvigil__command_result__init(r);
            r->has_id = 1;
            r->id = c->id;
            r->state = strdup("failed");
            r->error = strdup("the node's collector is not connected to this aggregator");
            ingest_handoff_t h = {.result = r, .received_at_us = clock_wall_us()};
            snprintf(h.node, sizeof h.node, "%s", node);
            if (zmq_send(push, &h, sizeof h, 0) != (int)sizeof h)
                pgvigil__command_result__free_unpacked(r, NULL);
        } else {
            free(r);
        }
        if (c)
            pgvigil__command__free_unpacked(c, NULL);
    }
    zmsg_destroy(&m);
}

/* Hand waiting samples to the core, oldest first, while it takes them. */
static void ingest_flush(ingest_queue_t *q, void *push, ingest_counters_t *c)
{
    ingest_handoff_t h = {0};
    while ((h.sample = ingest_queue_peek(q, &h.received_at_us, &h.coalesced))) {
        if (zmq_send(push, &h, sizeof h, ZMQ_DONTWAIT) != (int)sizeof h)
            break; /* still full */
        ingest_queue_pop(q);
    }
    atomic_store(&c->queued, ingest_queue_count(q));
    atomic_store(&c->queued_bytes, ingest_queue_bytes(q));
}

/* An accepted sample to the core; when its queue is full (or samples are
 * already waiting, which must not be overtaken), to the coalescing queue. */
static void ingest_hand_over(ingest_queue_t *q, void *push, Pgvigil__Sample *s, size_t body_len,
                             ingest_counters_t *c)
{
    ingest_handoff_t h = {.sample = s, .received_at_us = clock_wall_us()};
    if (ingest_queue_count(q) == 0 && zmq_send(push, &h, sizeof h, ZMQ_DONTWAIT) == (int)sizeof h)
        return;
    ingest_queue_counts_t n = {0};
    ingest_queue_put(q, s, ingest_queue_cost(body_len), h.received_at_us, &n);
    atomic_fetch_add(&c->coalesced, n.coalesced);
    atomic_fetch_add(&c->dropped, n.dropped);
    ingest_flush(q, push, c);
}

/* Once per interval at most: what the budget cost since the last report. */
static void ingest_log_backlog(const ingest_counters_t *c, uint64_t *logged, int64_t *logged_at_us)
{
    uint64_t now = atomic_load(&c->coalesced) + atomic_load(&c->dropped);
    if (now == *logged || clock_mono_us() - *logged_at_us < INGEST_BACKLOG_LOG_US)
        return;
    log_warning("the core is behind: %" PRIu64 " samples coalesced and %" PRIu64
                " dropped in total (%" PRIu64 " since the last report), %" PRIu64 " waiting",
                (uint64_t)atomic_load(&c->coalesced), (uint64_t)atomic_load(&c->dropped), now - *logged,
                (uint64_t)atomic_load(&c->queued));
    *logged = now;
    *logged_at_us = clock_mono_us();
}

/* One message: [routing id][envelope][body], read without allocating.
 * False when there was none. */
static bool ingest_receive(void *router, void *push, ingest_queue_t *q, ingest_counters_t *c)
{
    zmq_msg_t part[3];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 3)
            part[n] = m; /* moved */
        else
            zmq_msg_close(&m);
        n++;
    }
    if (n == 0)
        return false;
    atomic_fetch_add(&c->received, 1);
    ingest_reject_t why = INGEST_BAD_FRAMES;
    Pgvigil__Sample *s = NULL;
    size_t body_len = 0;
    if (n == 3) {
        envelope_t env;
        body_len = zmq_msg_size(&part[2]);
        atomic_fetch_add(&c->bytes, body_len);
        if (envelope_decode(zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), &env) == 0 &&
            env.type == ENVELOPE_COMMAND_RESULT)
            why = ingest_result(&env, zmq_msg_data(&part[2]), zmq_msg_size(&part[2]), push);
        else
            s = ingest_decode(zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), zmq_msg_data(&part[2]),
                              zmq_msg_size(&part[2]), &env, &why);
    }
    for (int i = 0; i < n && i < 3; i++)
        zmq_msg_close(&part[i]);
    if (!s && why == INGEST_OK) /* a command result, handed over already */
        return true;
    if (!s) {
        atomic_fetch_add(&c->rejected[why], 1);
        return true;
    }
    atomic_fetch_add(&c->accepted, 1);
    ingest_hand_over(q, push, s, body_len, c);
    return true;
}

static void ingest_monitor_event(zsock_t *mon, ingest_counters_t *c)
{
    zmsg_t *msg = zmsg_recv(mon);
    zframe_t *f = msg ? zmsg_first(msg) : NULL;
    if (f && zframe_size(f) >= 2) {
        uint16_t event;
        memcpy(&event, zframe_data(f), sizeof event);
        if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
            atomic_fetch_add(&c->unauthenticated, 1);
    }
    zmsg_destroy(&msg);
}

static zsock_t *ingest_router(const agg_config_t *cfg, zactor_t **auth, char *err, size_t errlen)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    if (!router)
        return NULL;
    zsock_set_maxmsgsize(router, ENVELOPE_BODY_MAX_BYTES + 4096);
    /* Per collector connection: beyond this, samples wait on the collector's
     * side (its send_queue), not in this process. */
    ingest_budget_t budget;
    ingest_budget(cfg, &budget);
    zsock_set_rcvhwm(router, budget.router_rcvhwm);
    if (cfg->curve_server_cert) {
        zcert_t *cert = zcert_load(cfg->curve_server_cert);
        if (!cert) {
            snprintf(err, errlen, "could not load the server certificate \"%s\"", cfg->curve_server_cert);
            zsock_destroy(&router);
            return NULL;
        }
        *auth = zactor_new(zauth, NULL);
        zstr_sendx(*auth, "CURVE", cfg->curve_allow_dir, NULL);
        zsock_wait(*auth);
        zcert_apply(cert, router);
        zsock_set_curve_server(router, 1);
        zcert_destroy(&cert);
    }
    for (size_t i = 0; i < cfg->ingest_count; i++) {
        if (zsock_bind(router, "%s", cfg->ingest_endpoints[i]) < 0) {
            snprintf(err, errlen, "could not bind \"%s\": %s", cfg->ingest_endpoints[i],
                     zmq_strerror(zmq_errno()));
            zsock_destroy(&router);
            return NULL;
        }
    }
    return router;
}

static void ingest_actor(zsock_t *pipe, void *arg)
{
    ingest_args_t *a = arg;
    zactor_t *auth = NULL;
    zsock_signal(pipe, 0); /* zactor_new waits for this one */
    zsock_t *router = ingest_router(a->cfg, &auth, a->err, a->errlen);
    zsock_t *push = router ? zsock_new(ZMQ_PUSH) : NULL;
    ingest_budget_t budget;
    ingest_budget(a->cfg, &budget);
    ingest_queue_t *queue = push ? ingest_queue_new(budget.queue_bytes) : NULL;
    if (push && !queue)
        zsock_destroy(&push);
    if (push) {
        zsock_set_sndhwm(push, budget.handoff_hwm);
        /* Samples still queued at shutdown are pointers the core must free:
         * deliver them (the core outlives ingest and drains its queue). */
        zsock_set_linger(push, -1);
        if (zsock_connect(push, "%s", a->core_endpoint) != 0)
            zsock_destroy(&push);
    }
    zsock_t *cmds = push ? zsock_new_pull(">" INGEST_COMMANDS_ENDPOINT) : NULL;
    if (router) /* a command for a collector that is not connected fails at once */
        zsock_set_router_mandatory(router, 1);
    zsock_t *mon = NULL;
    if (push) {
        zmq_socket_monitor(zsock_resolve(router), INGEST_MONITOR_ENDPOINT,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
        mon = zsock_new_pair(INGEST_MONITOR_ENDPOINT);
    }
    ingest_counters_t *c = a->counters;
    zsock_signal(pipe, push ? 0 : 1);
    zpoller_t *poller = push ? zpoller_new(pipe, router, cmds, mon, NULL) : NULL;
    uint64_t logged = 0;
    int64_t logged_at_us = clock_mono_us();
    while (poller) {
        void *which = zpoller_wait(poller, ingest_queue_count(queue) ? INGEST_QUEUE_POLL_MS : -1);
        ingest_flush(queue, zsock_resolve(push), c);
        ingest_log_backlog(c, &logged, &logged_at_us);
        if (!which && zpoller_expired(poller)) {
            continue; /* time to retry the hand-off */
        } else if (which == router) {
            void *r = zsock_resolve(router), *p = zsock_resolve(push);
            for (int i = 0; i < 1000 && ingest_receive(r, p, queue, c); i++)
                ;
        } else if (which == mon) {
            ingest_monitor_event(mon, c);
        } else if (which == cmds) {
            ingest_command(zsock_resolve(cmds), zsock_resolve(router), zsock_resolve(push));
        } else {
            break; /* $TERM from the pipe, or interrupted */
        }
    }
    zpoller_destroy(&poller);
    if (queue) { /* shutting down: what still waits is dropped, and counted */
        atomic_fetch_add(&c->dropped, ingest_queue_count(queue));
        atomic_store(&c->queued, 0);
        atomic_store(&c->queued_bytes, 0);
    }
    ingest_queue_destroy(&queue);
    if (router)
        zmq_socket_monitor(zsock_resolve(router), NULL, 0);
    zsock_destroy(&mon);
    zsock_destroy(&cmds);
    zsock_destroy(&push);
    zsock_destroy(&router);
    zactor_destroy(&auth);
}

ingest_t *ingest_new(const agg_config_t *cfg, const char *core_endpoint, ingest_counters_t *counters,
                     char *err, size_t errlen)
{
    ingest_t *self = calloc(1, sizeof *self);
    ingest_args_t args = {cfg, core_endpoint, counters, err, errlen};
    if (!self)
        return NULL;
    if (!cfg->curve_server_cert)
        log_warning("CURVE is not configured: collectors are not authenticated and samples travel unencrypted");
    self->actor = zactor_new(ingest_actor, &args);
    /* zactor_new consumed the actor's first signal; the second says
     * whether the sockets are bound (0) or not (1, err written). */
    if (!self->actor || zsock_wait(self->actor) != 0) {
        ingest_destroy(&self);
        return NULL;
    }
    return self;
}

void ingest_destroy(ingest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}
