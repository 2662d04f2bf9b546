/*
 * publish.c — DEALER sockets towards the aggregators (see publish.h).
 */
#include "publish.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "envelope.h"
#include "log.h"

struct publish {
    zsock_t **socks;
    publish_command_fn *on_command;
    void *on_command_arg;
    const col_config_t *cfg;
    size_t n;
    uint8_t envelope[ENVELOPE_MAX_BYTES];
    size_t envelope_len;
    uint8_t *buf;
    size_t cap;
    uint64_t dropped;
    int64_t last_drop_log_us;
};

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

static zsock_t *publish_socket(const col_config_t *cfg, const char *endpoint, char *err,
                               size_t errlen)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock) {
        snprintf(err, errlen, "could not create a ZeroMQ socket");
        return NULL;
    }
    zsock_set_sndhwm(sock, (int)cfg->send_queue);
    zsock_set_linger(sock, 1000);
    zsock_set_identity(sock, cfg->node);
    if (cfg->curve_client_cert && publish_curve(sock, cfg, err, errlen) != 0) {
        zsock_destroy(&sock);
        return NULL;
    }
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        snprintf(err, errlen, "could not connect to \"%s\": %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
        return NULL;
    }
    return sock;
}

publish_t *publish_new(const col_config_t *cfg, char *err, size_t errlen)
{
    publish_t *self = calloc(1, sizeof *self);
    if (!self || !(self->socks = calloc(cfg->aggregator_count + 1, sizeof *self->socks))) {
        snprintf(err, errlen, "out of memory");
        free(self);
        return NULL;
    }
    self->cfg = cfg;
    envelope_t env = {.version = ENVELOPE_VERSION, .type = ENVELOPE_SAMPLE};
    snprintf(env.node, sizeof env.node, "%s", cfg->node);
    self->envelope_len = envelope_encode(&env, self->envelope, sizeof self->envelope);
    for (size_t i = 0; i < cfg->aggregator_count; i++) {
        if (!(self->socks[i] = publish_socket(cfg, cfg->aggregators[i], err, errlen))) {
            publish_destroy(&self);
            return NULL;
        }
        self->n = i + 1;
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
        zsock_destroy(&self->socks[i]);
    free(self->socks);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

int publish_sample(publish_t *self, const Pgvigil__Sample *s)
{
    size_t len = pgvigil__sample__get_packed_size(s);
    if (len > self->cap) {
        uint8_t *b = realloc(self->buf, len);
        if (!b)
            return 0;
        self->buf = b;
        self->cap = len;
    }
    pgvigil__sample__pack(s, self->buf);
    int accepted = 0;
    for (size_t i = 0; i < self->n; i++) {
        void *z = zsock_resolve(self->socks[i]);
        /* A multipart message is queued whole or not at all. */
        if (zmq_send(z, self->envelope, self->envelope_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(z, self->buf, len, ZMQ_DONTWAIT) < 0) {
            self->dropped++;
            int64_t now = zclock_mono() * 1000;
            if (now - self->last_drop_log_us > 10 * 1000000LL) {
                log_warning("aggregator %s is not accepting samples: %" PRIu64 " dropped so far",
                            self->cfg->aggregators[i], self->dropped);
                self->last_drop_log_us = now;
            }
            continue;
        }
        accepted++;
    }
    return accepted;
}

uint64_t publish_dropped(const publish_t *self) { return self->dropped; }

static int publish_on_command(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    publish_t *self = arg;
    zmsg_t *msg = zmsg_recv(reader);
    if (!msg)
        return 0;
    zframe_t *f = zmsg_first(msg), *body = zmsg_next(msg);
    envelope_t env;
    Pgvigil__Command *cmd = NULL;
    if (f && body && envelope_decode(zframe_data(f), zframe_size(f), &env) == 0 && env.type == ENVELOPE_COMMAND &&
        strcmp(env.node, self->cfg->node) == 0)
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

int publish_attach(publish_t *self, zloop_t *loop, publish_command_fn *on_command, void *arg)
{
    self->on_command = on_command;
    self->on_command_arg = arg;
    for (size_t i = 0; i < self->n; i++)
        if (zloop_reader(loop, self->socks[i], publish_on_command, self) != 0)
            return -1;
    return 0;
}

void publish_reply(zsock_t *sock, const Pgvigil__CommandResult *r)
{
    envelope_t env = {.version = ENVELOPE_VERSION, .type = ENVELOPE_COMMAND_RESULT};
    char *node = zsock_identity(sock);
    snprintf(env.node, sizeof env.node, "%s", node ? node : "");
    zstr_free(&node);
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
