/*
 * publish.c — DEALER sockets towards the aggregators, each with its queue of
 * samples not yet acknowledged (see publish.h).
 *
 * Ordering: a queue is sent strictly in sequence order on a connection. The
 * sockets use ZMQ_IMMEDIATE, so nothing is queued inside ZeroMQ for a
 * connection that does not exist; a socket monitor reports each new TCP
 * connection before ZeroMQ can carry messages on it, and the queue is then
 * rewound to its oldest unacknowledged sample. The aggregator therefore
 * never sees a newer sample before an older one it has not stored.
 *
 * Refusal: an aggregator with history that cannot take a sample now says
 * so in an Ack (resend_from, retry_after_ms). The queue is then rewound to
 * that sample and held for retry_after_ms, and at most half as many
 * samples as were in flight are sent unacknowledged after that (at least
 * one), the window growing by every sample acknowledged (doubling each
 * round trip) until it no longer limits: a long outage costs the
 * aggregator about one refused sample per collector and retry, not the
 * whole backlog each time, and a busy moment only halves the pace.
 */
#include "publish.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "envelope.h"
#include "log.h"

/* One packed sample, shared by the queues of every aggregator. */
typedef struct {
    unsigned refs;
    uint64_t sequence;
    size_t len;
    uint8_t data[];
} publish_item_t;

typedef struct {
    publish_item_t *item;
    bool acked;
} publish_slot_t;

typedef struct {
    zsock_t *sock, *mon;
    const char *endpoint;
    publish_slot_t *ring; /* capacity send_queue */
    size_t head, count;   /* oldest at head */
    size_t next;          /* slots [0, next) were sent on the current connection */
    uint64_t dropped;
    int64_t last_drop_log_us;
    int64_t hold_until_ms;  /* refused: nothing is sent before (zclock_mono) */
    size_t window;          /* since a refusal, at most this many in flight; 0 = no limit */
    int64_t progress_ms;    /* when an acknowledgement last freed something (zclock_mono) */
    uint64_t refused;
    int64_t last_refused_log_ms;
} publish_peer_t;

struct publish {
    publish_peer_t *peers;
    size_t n, cap;
    publish_command_fn *on_command;
    void *on_command_arg;
    const col_config_t *cfg;
    int64_t started_at_us; /* this process, as its samples say */
    uint8_t envelope[ENVELOPE_MAX_BYTES];
    size_t envelope_len;
};

/* The node name a reply is sent for: one node per collector process. */
static char publish_node[ENVELOPE_NODE_MAX + 1];

static void publish_item_unref(publish_item_t *it)
{
    if (it && --it->refs == 0)
        free(it);
}

static publish_slot_t *publish_at(publish_peer_t *p, size_t i, size_t cap)
{
    return &p->ring[(p->head + i) % cap];
}

static int publish_curve(zsock_t *sock, const col_config_t *cfg, char *err, size_t errlen)
{
    zcert_t *client = zcert_load(cfg->curve_client_cert);
    if (!client) {
        snprintf(err, errlen, "could not load the client certificate \"%s\"", cfg->curve_client_cert);
        return -1;
    }
    zcert_t *server = zcert_load(cfg->curve_server_public_key);
    if (!server) {
        zcert_destroy(&client);
        snprintf(err, errlen, "could not load the aggregator's public certificate \"%s\"",
                 cfg->curve_server_public_key);
        return -1;
    }
    zcert_apply(client, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(server));
    zcert_destroy(&client);
    zcert_destroy(&server);
    return 0;
}

static void publish_tune(zsock_t *sock)
{
    zsock_set_sndhwm(sock, 1000);
    zsock_set_linger(sock, 1000);
    zsock_set_immediate(sock, 1);
    zsock_set_heartbeat_ivl(sock, PUBLISH_HEARTBEAT_IVL_MS);
    zsock_set_heartbeat_timeout(sock, PUBLISH_HEARTBEAT_TIMEOUT_MS);
    zsock_set_heartbeat_ttl(sock, PUBLISH_HEARTBEAT_TIMEOUT_MS);
    zsock_set_reconnect_ivl(sock, PUBLISH_RECONNECT_IVL_MS);
    zsock_set_reconnect_ivl_max(sock, PUBLISH_RECONNECT_IVL_MAX_MS);
    zsock_set_connect_timeout(sock, PUBLISH_CONNECT_TIMEOUT_MS);
}

static int publish_peer_open(publish_peer_t *p, const col_config_t *cfg, size_t index,
                             const char *endpoint, char *err, size_t errlen)
{
    char mon[96];
    p->endpoint = endpoint;
    if (!(p->ring = calloc(cfg->send_queue, sizeof *p->ring)) || !(p->sock = zsock_new(ZMQ_DEALER))) {
        snprintf(err, errlen, "could not create a ZeroMQ socket");
        return -1;
    }
    publish_tune(p->sock);
    if (cfg->curve_client_cert && publish_curve(p->sock, cfg, err, errlen) != 0)
        return -1;
    snprintf(mon, sizeof mon, "inproc://pgvigil-publish-%p-%zu", (void *)p, index);
    if (zmq_socket_monitor(zsock_resolve(p->sock), mon, ZMQ_EVENT_CONNECTED) != 0 ||
        !(p->mon = zsock_new_pair(mon))) {
        snprintf(err, errlen, "could not monitor the connection to \"%s\"", endpoint);
        return -1;
    }
    if (zsock_connect(p->sock, "%s", endpoint) != 0) {
        snprintf(err, errlen, "could not connect to \"%s\": %s", endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static void publish_peer_close(publish_peer_t *p, size_t cap)
{
    if (p->sock)
        zmq_socket_monitor(zsock_resolve(p->sock), NULL, 0);
    zsock_destroy(&p->mon);
    zsock_destroy(&p->sock);
    for (size_t i = 0; p->ring && i < p->count; i++)
        publish_item_unref(publish_at(p, i, cap)->item);
    free(p->ring);
}

publish_t *publish_new(const col_config_t *cfg, char *err, size_t errlen)
{
    publish_t *self = calloc(1, sizeof *self);
    if (!self || !(self->peers = calloc(cfg->aggregator_count + 1, sizeof *self->peers))) {
        snprintf(err, errlen, "out of memory");
        free(self);
        return NULL;
    }
    self->cfg = cfg;
    self->cap = cfg->send_queue ? cfg->send_queue : 1;
    snprintf(publish_node, sizeof publish_node, "%s", cfg->node);
    envelope_t env = {.version = ENVELOPE_VERSION, .type = ENVELOPE_SAMPLE};
    snprintf(env.node, sizeof env.node, "%s", cfg->node);
    self->envelope_len = envelope_encode(&env, self->envelope, sizeof self->envelope);
    for (size_t i = 0; i < cfg->aggregator_count; i++) {
        self->n = i + 1;
        if (publish_peer_open(&self->peers[i], cfg, i, cfg->aggregators[i], err, errlen) != 0) {
            publish_destroy(&self);
            return NULL;
        }
    }
    if (!cfg->curve_client_cert && cfg->aggregator_count)
        log_warning("CURVE is not configured: samples travel unencrypted and unauthenticated");
    return self;
}

void publish_destroy(publish_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    publish_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        publish_peer_close(&self->peers[i], self->cap);
    free(self->peers);
    free(self);
    *self_p = NULL;
}

/* New connections since the last look: send the queue again from its start. */
static void publish_connections(publish_peer_t *p)
{
    while (zsock_events(p->mon) & ZMQ_POLLIN) {
        zmsg_t *m = zmsg_recv(p->mon);
        zmsg_destroy(&m);
        p->next = 0;
    }
}

/* Send the queue, in order, as far as the connection takes it. */
static int publish_pump(publish_t *self, publish_peer_t *p)
{
    publish_connections(p);
    int64_t now = zclock_mono();
    if (p->hold_until_ms && now < p->hold_until_ms)
        return 0;
    p->hold_until_ms = 0;
    /* A full window and nothing acknowledged for a while: an Ack or a
     * refusal was lost (the aggregator drops what it cannot queue), and
     * nothing more would be sent to earn the next one. Send the window
     * again; the aggregator acknowledges samples it already has. */
    if (p->window && p->next >= p->window && now - p->progress_ms > PUBLISH_STALL_MS) {
        p->next = 0;
        p->progress_ms = now;
    }
    void *z = zsock_resolve(p->sock);
    int sent = 0;
    while (p->next < p->count && (!p->window || p->next < p->window)) {
        publish_slot_t *s = publish_at(p, p->next, self->cap);
        if (!s->acked) {
            /* A multipart message is queued whole or not at all. */
            if (zmq_send(z, self->envelope, self->envelope_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                break; /* not connected, or its queue is full: later */
            zmq_send(z, s->item->data, s->item->len, 0);
            sent++;
        }
        p->next++;
    }
    return sent;
}

static void publish_drop_oldest(publish_t *self, publish_peer_t *p)
{
    publish_slot_t *s = publish_at(p, 0, self->cap);
    if (!s->acked) {
        p->dropped++;
        int64_t now = zclock_mono() * 1000;
        if (now - p->last_drop_log_us > 60 * 1000000LL) {
            log_warning("aggregator %s has not acknowledged %zu samples: dropping the oldest"
                        " (%" PRIu64 " dropped so far; raise send_queue to keep more)",
                        p->endpoint, p->count, p->dropped);
            p->last_drop_log_us = now;
        }
    }
    publish_item_unref(s->item);
    s->item = NULL;
    p->head = (p->head + 1) % self->cap;
    p->count--;
    if (p->next)
        p->next--;
}

int publish_sample(publish_t *self, const Pgvigil__Sample *s)
{
    size_t len = pgvigil__sample__get_packed_size(s);
    publish_item_t *it = malloc(sizeof *it + len);
    if (!it)
        return 0;
    pgvigil__sample__pack(s, it->data);
    it->len = len;
    it->sequence = s->sequence;
    it->refs = 1;
    self->started_at_us = s->collector_started_at_us;
    int took = 0;
    for (size_t i = 0; i < self->n; i++) {
        publish_peer_t *p = &self->peers[i];
        if (p->count == self->cap)
            publish_drop_oldest(self, p);
        it->refs++;
        *publish_at(p, p->count++, self->cap) = (publish_slot_t){it, false};
        size_t before = p->next;
        publish_pump(self, p);
        took += p->next == p->count && before < p->next;
    }
    publish_item_unref(it);
    return took;
}

uint64_t publish_dropped(const publish_t *self)
{
    uint64_t n = 0;
    for (size_t i = 0; i < self->n; i++)
        n += self->peers[i].dropped;
    return n;
}

uint64_t publish_unacked(const publish_t *self)
{
    uint64_t n = 0;
    for (size_t i = 0; i < self->n; i++)
        n += self->peers[i].count;
    return n;
}

/* The aggregator refused sequence `from` and what followed: go back to it,
 * wait, then send with half the window. */
static void publish_refused(publish_t *self, publish_peer_t *p, uint64_t from, uint32_t retry_after_ms)
{
    size_t in_flight = p->next, i = 0;
    while (i < p->count && publish_at(p, i, self->cap)->item->sequence < from)
        i++;
    if (i < p->next)
        p->next = i;
    int64_t now = zclock_mono();
    p->window = in_flight / 2 > 1 ? in_flight / 2 : 1;
    p->progress_ms = now;
    p->hold_until_ms = now + (retry_after_ms < PUBLISH_RETRY_MAX_MS ? retry_after_ms : PUBLISH_RETRY_MAX_MS);
    p->refused++;
    if (!p->last_refused_log_ms || now - p->last_refused_log_ms > 60000) {
        char what[64];
        if (from)
            snprintf(what, sizeof what, "refused sample %" PRIu64, from);
        else
            snprintf(what, sizeof what, "could not read some samples");
        log_warning("aggregator %s is behind and %s: sending again in %.1f s"
                    " (%" PRIu64 " refusals so far; the samples are kept meanwhile)",
                    p->endpoint, what, (double)(p->hold_until_ms - now) / 1000, p->refused);
        p->last_refused_log_ms = now;
    }
}

/* Forget the acknowledged samples. An acknowledgement of q also covers
 * every older sample: the queue is sent in order on each connection, from
 * its oldest unacknowledged sample after each reconnection, and the
 * aggregator makes a node's samples durable in the order it read them, so
 * when q is durable every older one was read (and stored, or refused for
 * good). This recovers acknowledgements lost with a connection. */
static void publish_acked(publish_t *self, publish_peer_t *p, const Pgvigil__Ack *ack)
{
    if (!ack->has_collector_started_at_us || ack->collector_started_at_us != self->started_at_us)
        return;
    uint64_t upto = 0;
    for (size_t i = 0; i < ack->n_sequences; i++)
        if (ack->sequences[i] > upto)
            upto = ack->sequences[i];
    size_t progress = 0;
    while (p->count && publish_at(p, 0, self->cap)->item->sequence <= upto) {
        publish_slot_t *s = publish_at(p, 0, self->cap);
        publish_item_unref(s->item);
        s->item = NULL;
        p->head = (p->head + 1) % self->cap;
        p->count--;
        if (p->next)
            p->next--;
        progress++;
    }
    if (progress)
        p->progress_ms = zclock_mono();
    if (progress && p->window && (p->window += progress) >= self->cap)
        p->window = 0;
    if (ack->has_resend_from)
        publish_refused(self, p, ack->resend_from, ack->has_retry_after_ms ? ack->retry_after_ms : 1000);
}

static publish_peer_t *publish_peer_of(publish_t *self, zsock_t *sock)
{
    for (size_t i = 0; i < self->n; i++)
        if (self->peers[i].sock == sock || self->peers[i].mon == sock)
            return &self->peers[i];
    return NULL;
}

static void publish_on_ack(publish_t *self, publish_peer_t *p, zframe_t *body)
{
    Pgvigil__Ack *ack = pgvigil__ack__unpack(NULL, zframe_size(body), zframe_data(body));
    if (!ack) {
        log_warning("ignoring a malformed acknowledgement from aggregator %s", p->endpoint);
        return;
    }
    publish_acked(self, p, ack);
    pgvigil__ack__free_unpacked(ack, NULL);
    publish_pump(self, p);
}

static int publish_on_message(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    publish_t *self = arg;
    publish_peer_t *p = publish_peer_of(self, reader);
    zmsg_t *msg = zmsg_recv(reader);
    if (!msg || !p) {
        zmsg_destroy(&msg);
        return 0;
    }
    zframe_t *f = zmsg_first(msg), *body = zmsg_next(msg);
    envelope_t env;
    Pgvigil__Command *cmd = NULL;
    bool ours = f && body && envelope_decode(zframe_data(f), zframe_size(f), &env) == 0 &&
                strcmp(env.node, self->cfg->node) == 0;
    if (ours && env.type == ENVELOPE_ACK) {
        publish_on_ack(self, p, body);
        zmsg_destroy(&msg);
        return 0;
    }
    if (ours && env.type == ENVELOPE_COMMAND)
        cmd = pgvigil__command__unpack(NULL, zframe_size(body), zframe_data(body));
    if (cmd && self->on_command)
        self->on_command(self->on_command_arg, reader, cmd);
    else
        log_warning("ignoring a malformed or unexpected message from an aggregator");
    if (cmd)
        pgvigil__command__free_unpacked(cmd, NULL);
    zmsg_destroy(&msg);
    return 0;
}

/* A new connection: rewind and send the unacknowledged samples at once. */
static int publish_on_connected(zloop_t *loop, zsock_t *mon, void *arg)
{
    (void)loop;
    publish_t *self = arg;
    publish_peer_t *p = publish_peer_of(self, mon);
    if (p)
        publish_pump(self, p);
    return 0;
}

/* Retry what a full or absent connection did not take. */
static int publish_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    publish_t *self = arg;
    for (size_t i = 0; i < self->n; i++)
        publish_pump(self, &self->peers[i]);
    return 0;
}

uint64_t publish_drain(publish_t *self, int timeout_ms)
{
    zpoller_t *poller = zpoller_new(NULL);
    for (size_t i = 0; poller && i < self->n; i++)
        zpoller_add(poller, self->peers[i].sock);
    if (poller)
        zpoller_set_nonstop(poller, true); /* SIGTERM brought us here */
    int64_t end = zclock_mono() + timeout_ms;
    while (poller && publish_unacked(self) && zclock_mono() < end) {
        for (size_t i = 0; i < self->n; i++)
            publish_pump(self, &self->peers[i]);
        zsock_t *which = zpoller_wait(poller, 50);
        if (which)
            publish_on_message(NULL, which, self);
    }
    zpoller_destroy(&poller);
    return publish_unacked(self);
}

int publish_attach(publish_t *self, zloop_t *loop, publish_command_fn *on_command, void *arg)
{
    self->on_command = on_command;
    self->on_command_arg = arg;
    for (size_t i = 0; i < self->n; i++)
        if (zloop_reader(loop, self->peers[i].sock, publish_on_message, self) != 0 ||
            zloop_reader(loop, self->peers[i].mon, publish_on_connected, self) != 0)
            return -1;
    return zloop_timer(loop, 100, 0, publish_on_timer, self) < 0 ? -1 : 0;
}

void publish_reply(zsock_t *sock, const Pgvigil__CommandResult *r)
{
    envelope_t env = {.version = ENVELOPE_VERSION, .type = ENVELOPE_COMMAND_RESULT};
    snprintf(env.node, sizeof env.node, "%s", publish_node);
    uint8_t eb[ENVELOPE_MAX_BYTES];
    size_t elen = envelope_encode(&env, eb, sizeof eb);
    size_t len = pgvigil__command_result__get_packed_size(r);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf || !elen) {
        free(buf);
        return;
    }
    pgvigil__command_result__pack(r, buf);
    void *z = zsock_resolve(sock);
    if (zmq_send(z, eb, elen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 || zmq_send(z, buf, len, ZMQ_DONTWAIT) < 0)
        log_warning("could not send a maintenance result to the aggregator: %s", zmq_strerror(zmq_errno()));
    free(buf);
}
