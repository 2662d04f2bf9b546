/*
 * ingest.c — the ingest actor (see ingest.h).
 *
 * Runs in its own thread (a czmq zactor): a ROUTER bound on every configured
 * endpoint, a PUSH towards the core, and a libzmq socket monitor that counts
 * refused CURVE handshakes. Decoding and validation are pure functions in
 * ingest_decode.c; who may speak for a node is ingest_ident.c; this file is
 * the sockets: receive, admit, hand over, acknowledge, route commands.
 * Accepted samples the core cannot take yet wait in the coalescing queue
 * (ingest_queue.c), retried every INGEST_QUEUE_POLL_MS.
 *
 * No connection's input may ever be stopped inside libzmq: 4.3.4 (Debian
 * 12) aborts the process when a connection whose input it stopped (its
 * queue at the high-water mark) is reset by its peer and input resumes
 * with a heartbeat PING still buffered (stream_engine_base.cpp,
 * !_io_error) — one burst of messages and PINGs followed by a reset did
 * it. So the ROUTER has no receive high-water mark (ingest_router.c)
 * and is read all the time, whatever the backpressure, and memory is
 * bounded here instead: after INGEST_SHED_AFTER full reads in a row (the
 * socket never ran dry) ingest sheds: it reads messages without decoding
 * them, as many as one read took at first and twice as many each time the
 * socket is still not empty after, so the queues inside libzmq cannot grow
 * faster than ingest can empty them, and no more is shed than it takes to
 * keep up. With history nothing may be lost that way: a shed sample's node
 * is marked, and its collector is told to send everything unacknowledged
 * again (ingest_refused). A sample that cannot be taken now is refused the
 * same way: the collector keeps it and sends it again a moment later.
 *
 * A fleet of collectors each sending once a second arrives one message at a
 * time: woken for each, this thread and the core would each pay a wake-up
 * (a poll, a futex, a context switch) per sample, more than the sample's
 * own work. So after a read that found only a few messages, the thread
 * waits INGEST_GATHER_MS before polling again and the next read takes what
 * gathered meanwhile, handed to the core in one burst: a sample waits at
 * most that long more; under heavy load reads are full and nobody waits.
 */
#include "ingest.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "clock.h"
#include "ingest_acks.h"
#include "ingest_ident.h"
#include "ingest_queue.h"
#include "ingest_router.h"
#include "log.h"
#include "pbarena.h"
#include "pbtext.h"
#include "store.h"

#define INGEST_MONITOR_ENDPOINT "inproc://pgvigil-ingest-monitor"
#define INGEST_READ_BATCH 1000          /* messages read before looking at the other sockets */
#define INGEST_SHED_AFTER 10            /* full reads in a row that start shedding */
#define INGEST_SHED_MAX 1000000         /* the most messages shed before reading normally again */
#define INGEST_SAMPLE_COST_EST 4096     /* a typical decoded sample, for the budget split */
#define INGEST_QUEUE_POLL_MS 5          /* retry the hand-off this often while samples wait */
#define INGEST_GATHER_BELOW 16          /* a read of fewer messages than this... */
#define INGEST_GATHER_MS 2              /* ...waits this long before the next poll */
#define INGEST_BACKLOG_LOG_US 10000000  /* coalesced/dropped logged at most this often */
#define INGEST_RETRY_BEHIND_MS 100     /* a collector refused while the core is behind sends again after this */
#define INGEST_RETRY_PAUSED_MS 1000    /* ... while the store asks for backpressure */

struct ingest {
    zactor_t *actor;
};

/* The actor's state: everything here belongs to the ingest thread. */
typedef struct {
    void *router, *push;
    ingest_counters_t *c;
    ingest_ident_t *ident;
    ingest_queue_t *queue; /* accepted samples waiting for the core */
    ingest_acks_t *acks;   /* to acknowledge at the end of this burst */
    uint64_t logged;       /* coalesced + dropped when last logged */
    int64_t logged_at_us;
    bool curve;     /* keys are bound to node names */
    bool ack_now;   /* no history database: acknowledge on acceptance */
    bool paused;    /* the store asked for backpressure */
    int full_reads; /* reads in a row that found INGEST_READ_BATCH messages */
    int shed_quota; /* messages to shed next time */
} ingest_ctx_t;

typedef struct {
    const agg_config_t *cfg;
    const char *core_endpoint;
    ingest_counters_t *counters;
    char *err;
    size_t errlen;
} ingest_args_t;

void ingest_budget(const agg_config_t *cfg, ingest_budget_t *out)
{
    size_t budget = (size_t)cfg->inbound_budget_mb << 20;
    size_t handoff = budget / 4 / INGEST_SAMPLE_COST_EST / 2;
    out->handoff_hwm = handoff < 100 ? 100 : handoff > 100000 ? 100000 : (int)handoff;
    out->queue_bytes = budget / 2;
}

/* A maintenance result: to the core, like a sample. */
static ingest_reject_t ingest_result(const envelope_t *env, const uint8_t *body, size_t len, void *push)
{
    Pgvigil__CommandResult *r = pgvigil__command_result__unpack(NULL, len, body);
    if (!r)
        return INGEST_BAD_BODY;
    char where[64];
    if (!r->has_id || !r->state ||
        pbtext_check_message(&r->base, INGEST_TEXT_MAX, where, sizeof where) != PBTEXT_OK) {
        pgvigil__command_result__free_unpacked(r, NULL);
        return INGEST_INVALID;
    }
    ingest_handoff_t h = {.result = r, .received_at_us = clock_wall_us()};
    snprintf(h.node, sizeof h.node, "%s", env->node);
    if (zmq_send(push, &h, sizeof h, 0) != (int)sizeof h)
        pgvigil__command_result__free_unpacked(r, NULL);
    return INGEST_OK;
}

/* Send [route][envelope type node][body] to node's collector; -1 when it
 * has no route or the message cannot be queued. */
static int ingest_to_collector(ingest_ctx_t *x, const char *node, envelope_type_t type,
                               const void *body, size_t len)
{
    size_t rlen = 0;
    const uint8_t *route = ingest_ident_route(x->ident, node, &rlen);
    envelope_t env = {ENVELOPE_VERSION, (uint8_t)type, ""};
    snprintf(env.node, sizeof env.node, "%s", node);
    uint8_t eb[ENVELOPE_MAX_BYTES];
    size_t elen = envelope_encode(&env, eb, sizeof eb);
    if (!route || !elen || zmq_send(x->router, route, rlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    zmq_send(x->router, eb, elen, ZMQ_SNDMORE);
    return zmq_send(x->router, body, len, 0) < 0 ? -1 : 0;
}

/* Acknowledge n sequences of one collector process of node
 * (ingest_acks_send_fn). */
static void ingest_ack(void *arg, const char *node, int64_t started_at_us, uint64_t *sequences, size_t n)
{
    ingest_ctx_t *x = arg;
    Pgvigil__Ack ack = PGVIGIL__ACK__INIT;
    ack.has_collector_started_at_us = 1;
    ack.collector_started_at_us = started_at_us;
    ack.sequences = sequences;
    ack.n_sequences = n;
    size_t len = pgvigil__ack__get_packed_size(&ack);
    uint8_t stackbuf[1024], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return;
    pgvigil__ack__pack(&ack, buf);
    if (ingest_to_collector(x, node, ENVELOPE_ACK, buf, len) == 0)
        atomic_fetch_add(&x->c->acked, n);
    if (buf != stackbuf)
        free(buf);
}

/* Tell a collector process of node that sequence `from` and everything
 * after it were refused: send them again a little later (a history outage
 * lasts longer than the core's catching up). */
static void ingest_tell_refused(ingest_ctx_t *x, const char *node, int64_t started_at_us, uint64_t from)
{
    Pgvigil__Ack ack = PGVIGIL__ACK__INIT;
    ack.has_collector_started_at_us = ack.has_resend_from = ack.has_retry_after_ms = 1;
    ack.collector_started_at_us = started_at_us;
    ack.resend_from = from;
    ack.retry_after_ms = x->paused ? INGEST_RETRY_PAUSED_MS : INGEST_RETRY_BEHIND_MS;
    uint8_t buf[64];
    size_t len = pgvigil__ack__pack(&ack, buf);
    ingest_to_collector(x, node, ENVELOPE_ACK, buf, len);
}

/* With history, whether an admitted sample is refused: every sample must
 * reach the store (none may be coalesced away), so while the store asks
 * for backpressure or a sample already waits for the core, a new one is
 * refused, and so is the rest of its source until the collector sends it
 * again (ingest_ident.h). Without history the coalescing queue takes them. */
static bool ingest_refused(ingest_ctx_t *x, const Pgvigil__Sample *s)
{
    int64_t now = clock_mono_us();
    bool remind = false;
    uint64_t from = 0;
    if (ingest_ident_refusing(x->ident, s->node, s->collector_started_at_us, s->sequence, now, &remind, &from)) {
        if (remind)
            ingest_tell_refused(x, s->node, s->collector_started_at_us, from);
        return true;
    }
    if (ingest_ident_take_shed(x->ident, s->node))
        from = 0; /* some of its samples went unread: everything unacknowledged again */
    else if (x->ack_now || (!x->paused && ingest_queue_count(x->queue) == 0))
        return false;
    else
        from = s->sequence;
    ingest_ident_refuse(x->ident, s->node, s->collector_started_at_us, s->sequence, from, now);
    ingest_tell_refused(x, s->node, s->collector_started_at_us, from);
    return true;
}

/* Marks made durable by the store: one Ack per collector process. */
static void ingest_durable(ingest_ctx_t *x, void *durable)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, durable, ZMQ_DONTWAIT) < 0 || zmq_msg_size(&m) < 1) {
        zmq_msg_close(&m);
        return;
    }
    const char *data = zmq_msg_data(&m);
    size_t count = (zmq_msg_size(&m) - 1) / sizeof(store_mark_t);
    if (data[0] == STORE_DURABLE_PAUSE || data[0] == STORE_DURABLE_RESUME) {
        bool pause = data[0] == STORE_DURABLE_PAUSE;
        if (pause != x->paused) {
            x->paused = pause;
            atomic_store(&x->c->paused, pause);
        }
    }
    for (size_t i = 0; data[0] == STORE_DURABLE_MARKS && i < count; i++) {
        store_mark_t mark;
        memcpy(&mark, data + 1 + i * sizeof mark, sizeof mark);
        ingest_acks_add(x->acks, &mark);
    }
    ingest_acks_flush(x->acks, ingest_ack, x);
    zmq_msg_close(&m);
}

/* A command from the core, [node][packed Command], to that node's
 * collector; if it is not connected, a failed result goes back at once
 * (a command without an id, fast rounds, expects none). */
static void ingest_command(ingest_ctx_t *x, void *cmds)
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
    if (ingest_to_collector(x, node, ENVELOPE_COMMAND, zframe_data(body), zframe_size(body)) != 0) {
        Pgvigil__Command *c = pgvigil__command__unpack(NULL, zframe_size(body), zframe_data(body));
        Pgvigil__CommandResult *r = c && c->has_id ? malloc(sizeof *r) : NULL;
        if (r) {
            pgvigil__command_result__init(r);
            r->has_id = 1;
            r->id = c->id;
            r->state = strdup("failed");
            r->error = strdup("the node's collector is not connected to this aggregator");
            ingest_handoff_t h = {.result = r, .received_at_us = clock_wall_us()};
            snprintf(h.node, sizeof h.node, "%s", node);
            if (zmq_send(x->push, &h, sizeof h, 0) != (int)sizeof h)
                pgvigil__command_result__free_unpacked(r, NULL);
        } else {
            free(r);
        }
        if (c)
            pgvigil__command__free_unpacked(c, NULL);
    }
    zmsg_destroy(&m);
}

/* Who may speak for node on this connection (CURVE: the key's "nodes"
 * metadata), and the source key. INGEST_OK or INGEST_KEY_NOT_ALLOWED. */
static ingest_reject_t ingest_bound(ingest_ctx_t *x, zmq_msg_t *part, const char *node, char *key,
                                    size_t keylen)
{
    key[0] = '\0';
    if (!x->curve)
        return INGEST_OK;
    const char *nodes = zmq_msg_gets(part, "nodes");
    const char *user = zmq_msg_gets(part, "User-Id");
    snprintf(key, keylen, "%s", user && user[0] ? user : nodes ? nodes : "");
    return ingest_ident_key_allows(nodes, node) ? INGEST_OK : INGEST_KEY_NOT_ALLOWED;
}

/* A decoded sample from route: bound to its key, believable, remembered. */
static ingest_reject_t ingest_admit(ingest_ctx_t *x, zmq_msg_t *part, const Pgvigil__Sample *s)
{
    char key[128];
    ingest_reject_t why = ingest_bound(x, &part[1], s->node, key, sizeof key);
    if (why == INGEST_OK)
        why = ingest_ident_check(x->ident, s->node, key, s->collector_started_at_us, s->sequence,
                                 s->interval_ms, clock_wall_us());
    if (why == INGEST_OK)
        ingest_ident_set_route(x->ident, s->node, zmq_msg_data(&part[0]), zmq_msg_size(&part[0]));
    return why;
}

/* A command result: bound like a sample, then to the core. */
static ingest_reject_t ingest_receive_result(ingest_ctx_t *x, zmq_msg_t *part, const envelope_t *env)
{
    char key[128];
    ingest_reject_t why = ingest_bound(x, &part[1], env->node, key, sizeof key);
    if (why == INGEST_OK)
        why = ingest_result(env, zmq_msg_data(&part[2]), zmq_msg_size(&part[2]), x->push);
    return why;
}

/* Hand waiting samples to the core, oldest first, while it takes them. */
static void ingest_flush(ingest_ctx_t *x)
{
    ingest_handoff_t h = {0};
    while ((h.sample = ingest_queue_peek(x->queue, &h.received_at_us, &h.coalesced))) {
        if (zmq_send(x->push, &h, sizeof h, ZMQ_DONTWAIT) != (int)sizeof h)
            break; /* still full */
        ingest_queue_pop(x->queue);
    }
    atomic_store(&x->c->queued, ingest_queue_count(x->queue));
    atomic_store(&x->c->queued_bytes, ingest_queue_bytes(x->queue));
}

/* An accepted sample to the core; when its queue is full (or samples are
 * already waiting, which must not be overtaken), to the coalescing queue.
 * With history the queue holds one sample at most (ingest_refused refuses
 * the next ones meanwhile), so nothing is coalesced away unstored: an
 * acknowledgement says the sample is durable. */
static void ingest_hand_over(ingest_ctx_t *x, Pgvigil__Sample *s, size_t body_len)
{
    ingest_handoff_t h = {.sample = s, .received_at_us = clock_wall_us()};
    if (ingest_queue_count(x->queue) == 0 && zmq_send(x->push, &h, sizeof h, ZMQ_DONTWAIT) == (int)sizeof h)
        return;
    ingest_queue_counts_t n = {0};
    ingest_queue_put(x->queue, s, ingest_queue_cost(body_len), h.received_at_us, &n);
    atomic_fetch_add(&x->c->coalesced, n.coalesced);
    atomic_fetch_add(&x->c->dropped, n.dropped);
    ingest_flush(x);
}

/* Once per interval at most: what the budget cost since the last report. */
static void ingest_log_backlog(ingest_ctx_t *x)
{
    const ingest_counters_t *c = x->c;
    uint64_t now = atomic_load(&c->coalesced) + atomic_load(&c->dropped) + atomic_load(&c->shed);
    if (now == x->logged || clock_mono_us() - x->logged_at_us < INGEST_BACKLOG_LOG_US)
        return;
    log_warning("ingest is behind: %" PRIu64 " samples coalesced, %" PRIu64 " dropped and %" PRIu64
                " messages shed unread in total (%" PRIu64 " since the last report), %" PRIu64 " waiting",
                (uint64_t)atomic_load(&c->coalesced), (uint64_t)atomic_load(&c->dropped),
                (uint64_t)atomic_load(&c->shed), now - x->logged, (uint64_t)atomic_load(&c->queued));
    x->logged = now;
    x->logged_at_us = clock_mono_us();
}

/* One whole message from the ROUTER without allocating: its first three
 * frames moved into part (the caller closes them), the rest closed. The
 * number of frames, 0 when there was none. */
static int ingest_recv_parts(ingest_ctx_t *x, zmq_msg_t part[3])
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, x->router, ZMQ_DONTWAIT) < 0) {
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
    return n;
}

/* One message: [routing id][envelope][body]. False when there was none. */
static bool ingest_receive(ingest_ctx_t *x)
{
    zmq_msg_t part[3];
    int n = ingest_recv_parts(x, part);
    if (n == 0)
        return false;
    atomic_fetch_add(&x->c->received, 1);
    ingest_reject_t why = INGEST_BAD_FRAMES;
    Pgvigil__Sample *s = NULL;
    bool result = false;
    size_t body_len = 0;
    if (n == 3) {
        envelope_t env;
        body_len = zmq_msg_size(&part[2]);
        atomic_fetch_add(&x->c->bytes, body_len);
        if (envelope_decode(zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), &env) == 0 &&
            env.type == ENVELOPE_COMMAND_RESULT) {
            why = ingest_receive_result(x, part, &env);
            result = true;
        } else if ((s = ingest_decode(zmq_msg_data(&part[1]), zmq_msg_size(&part[1]),
                                      zmq_msg_data(&part[2]), zmq_msg_size(&part[2]), &env, &why)) &&
                   (why = ingest_admit(x, part, s)) != INGEST_OK) {
            pbarena_free(&s->base);
            s = NULL;
        } else if (s && ingest_refused(x, s)) {
            atomic_fetch_add(&x->c->refused, 1);
            pbarena_free(&s->base);
            s = NULL;
            why = INGEST_OK;
        }
    }
    for (int i = 0; i < n && i < 3; i++)
        zmq_msg_close(&part[i]);
    if (result && why == INGEST_OK) /* a command result, handed over already */
        return true;
    if (!s) {
        if (why != INGEST_OK)
            atomic_fetch_add(&x->c->rejected[why], 1);
        return true;
    }
    atomic_fetch_add(&x->c->accepted, 1);
    store_mark_t mark = {.started_at_us = s->collector_started_at_us, .sequence = s->sequence};
    snprintf(mark.node, sizeof mark.node, "%s", s->node);
    ingest_hand_over(x, s, body_len); /* s belongs to the core or the queue now */
    if (x->ack_now && ingest_acks_add(x->acks, &mark) != 0)
        ingest_ack(x, mark.node, mark.started_at_us, &mark.sequence, 1);
    return true;
}

/* Read one message and discard it undecoded; with history, mark its node
 * so its collector sends again what it has not had acknowledged. False
 * when there was none. */
static bool ingest_shed_one(ingest_ctx_t *x)
{
    zmq_msg_t part[3];
    envelope_t env;
    int n = ingest_recv_parts(x, part);
    if (n == 0)
        return false;
    bool named = n >= 2 && !x->ack_now &&
                 envelope_decode(zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), &env) == 0 &&
                 env.type == ENVELOPE_SAMPLE;
    for (int i = 0; i < n && i < 3; i++)
        zmq_msg_close(&part[i]);
    atomic_fetch_add(&x->c->received, 1);
    atomic_fetch_add(&x->c->shed, 1);
    if (named)
        ingest_ident_shed(x->ident, env.node);
    return true;
}

/* A read of the ROUTER; shedding once reads keep finding it full. */
static void ingest_read(ingest_ctx_t *x)
{
    int i = 0;
    while (i < INGEST_READ_BATCH && ingest_receive(x))
        i++;
    ingest_acks_flush(x->acks, ingest_ack, x); /* no history: one Ack per collector */
    x->full_reads = i == INGEST_READ_BATCH ? x->full_reads + 1 : 0;
    if (i < INGEST_READ_BATCH)
        x->shed_quota = INGEST_READ_BATCH;
    if (x->full_reads >= INGEST_SHED_AFTER) {
        int shed = 0;
        while (shed < x->shed_quota && ingest_shed_one(x))
            shed++;
        if (shed == x->shed_quota && x->shed_quota < INGEST_SHED_MAX)
            x->shed_quota *= 2; /* still not empty: shed more next time */
        x->full_reads = 0;
    }
    if (i < INGEST_GATHER_BELOW)
        zclock_sleep(INGEST_GATHER_MS);
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

/* The sockets of the actor; NULL members when setting up failed. */
typedef struct {
    zactor_t *auth;
    zsock_t *router, *push, *cmds, *mon, *durable;
} ingest_socks_t;

static int ingest_open(ingest_socks_t *k, const ingest_args_t *a)
{
    if (!(k->router = ingest_router_new(a->cfg, &k->auth, a->err, a->errlen)))
        return -1;
    if (!(k->push = zsock_new(ZMQ_PUSH)))
        return -1;
    ingest_budget_t budget;
    ingest_budget(a->cfg, &budget);
    zsock_set_sndhwm(k->push, budget.handoff_hwm);
    /* Samples still queued at shutdown are pointers the core must free:
     * deliver them (the core outlives ingest and drains its queue). */
    zsock_set_linger(k->push, -1);
    if (zsock_connect(k->push, "%s", a->core_endpoint) != 0)
        return -1;
    if (!(k->cmds = zsock_new_pull(">" INGEST_COMMANDS_ENDPOINT)))
        return -1;
    if (a->cfg->storage_dsn && !(k->durable = zsock_new_pull("@" STORE_DURABLE_ENDPOINT)))
        return -1;
    /* A command for a collector that is not connected fails at once. */
    zsock_set_router_mandatory(k->router, 1);
    zmq_socket_monitor(zsock_resolve(k->router), INGEST_MONITOR_ENDPOINT,
                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    k->mon = zsock_new_pair(INGEST_MONITOR_ENDPOINT);
    return k->mon ? 0 : -1;
}

static void ingest_close(ingest_socks_t *k)
{
    if (k->router)
        zmq_socket_monitor(zsock_resolve(k->router), NULL, 0);
    zsock_destroy(&k->mon);
    zsock_destroy(&k->durable);
    zsock_destroy(&k->cmds);
    zsock_destroy(&k->push);
    zsock_destroy(&k->router);
    zactor_destroy(&k->auth);
}

static void ingest_loop(zsock_t *pipe, ingest_socks_t *k, ingest_ctx_t *x)
{
    zpoller_t *poller = zpoller_new(pipe, k->router, k->cmds, k->mon, NULL);
    if (poller && k->durable)
        zpoller_add(poller, k->durable);
    while (poller) {
        void *which = zpoller_wait(poller, ingest_queue_count(x->queue) ? INGEST_QUEUE_POLL_MS : -1);
        ingest_flush(x);
        ingest_log_backlog(x);
        if (!which && zpoller_expired(poller)) {
            continue; /* time to retry the hand-off */
        } else if (which == k->router) {
            ingest_read(x);
        } else if (which == k->mon) {
            ingest_monitor_event(k->mon, x->c);
        } else if (which == k->cmds) {
            ingest_command(x, zsock_resolve(k->cmds));
        } else if (which && which == k->durable) {
            ingest_durable(x, zsock_resolve(k->durable));
        } else {
            break; /* $TERM from the pipe, or interrupted */
        }
    }
    zpoller_destroy(&poller);
}

static void ingest_actor(zsock_t *pipe, void *arg)
{
    ingest_args_t *a = arg;
    ingest_socks_t k = {0};
    zsock_signal(pipe, 0); /* zactor_new waits for this one */
    ingest_budget_t budget;
    ingest_budget(a->cfg, &budget);
    ingest_ctx_t x = {.c = a->counters, .curve = a->cfg->curve_server_cert != NULL,
                      .ack_now = a->cfg->storage_dsn == NULL, .ident = ingest_ident_new(),
                      .queue = ingest_queue_new(budget.queue_bytes), .acks = ingest_acks_new(),
                      .logged_at_us = clock_mono_us(), .shed_quota = INGEST_READ_BATCH};
    int rc = x.ident && x.queue && x.acks ? ingest_open(&k, a) : -1;
    if (rc != 0 && !a->err[0])
        snprintf(a->err, a->errlen, "could not set up the ingest sockets: %s", zmq_strerror(zmq_errno()));
    zsock_signal(pipe, rc == 0 ? 0 : 1);
    if (rc == 0) {
        x.router = zsock_resolve(k.router);
        x.push = zsock_resolve(k.push);
        ingest_loop(pipe, &k, &x);
    }
    if (x.queue) { /* shutting down: what still waits is dropped, and counted */
        atomic_fetch_add(&x.c->dropped, ingest_queue_count(x.queue));
        atomic_store(&x.c->queued, 0);
        atomic_store(&x.c->queued_bytes, 0);
    }
    ingest_queue_destroy(&x.queue);
    ingest_acks_destroy(&x.acks);
    ingest_close(&k);
    ingest_ident_destroy(&x.ident);
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
