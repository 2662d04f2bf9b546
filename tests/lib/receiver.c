/*
 * receiver.c — pgvigil-test-receiver: a stand-in aggregator for tests. Binds
 * a ZeroMQ ROUTER where collectors deliver samples and prints each decoded
 * sample as one JSON line on stdout (pbjson form, plus "_bytes", the body
 * size, "_received_at_us" and "_envelope_node"), flushed line by line so a
 * test can read it while it runs. Malformed messages are counted on stderr
 * and never stop it. It ends on SIGTERM/SIGINT, after --count samples or
 * after --timeout seconds, always with exit status 0 and a last stderr line
 * "N samples, M malformed"; bad arguments exit 2, set-up failures 1.
 *
 *   pgvigil-test-receiver --bind tcp://127.0.0.1:PORT
 *       [--curve-server-cert SECRET_CERT --allow-dir DIR] [--count N] [--timeout SECONDS]
 *
 * With CURVE, the socket is a CURVE server with the key pair of SECRET_CERT
 * (a czmq zcert secret file, e.g. written by "pgvigil-collector keygen") and
 * zauth admits only clients whose public certificate is in DIR.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "clock.h"
#include "envelope.h"
#include "pbjson.h"
#include "pgvigil.pb-c.h"

#define RECEIVER_NAME "pgvigil-test-receiver"

typedef struct {
    const char *bind;
    const char *server_cert; /* secret cert file, or NULL: no CURVE */
    const char *allow_dir;   /* public certs admitted with CURVE */
    long count;              /* stop after this many samples; 0: never */
    long timeout_s;          /* stop after this many seconds; 0: never */
} receiver_options_t;

typedef struct {
    long count, received, malformed;
} receiver_t;

/* Print one sample as a JSON line. Returns 0, or -1 if it could not be rendered. */
static int receiver_print(const envelope_t *env, const Pgvigil__Sample *s, size_t bytes)
{
    int rc = -1;
    char *text = NULL;
    json_t *j = pbjson_from_message(&s->base);
    if (!j)
        goto fail;
    if (json_object_set_new(j, "_bytes", json_integer((json_int_t)bytes)) != 0 ||
        json_object_set_new(j, "_received_at_us", json_integer(clock_wall_us())) != 0 ||
        json_object_set_new(j, "_envelope_node", json_string(env->node)) != 0)
        goto fail;
    text = json_dumps(j, JSON_COMPACT);
    if (!text)
        goto fail;
    if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        goto fail;
    rc = 0;
fail:
    free(text);
    json_decref(j);
    return rc;
}

/* Decode [routing id][envelope][body] into a sample; NULL if malformed. */
static Pgvigil__Sample *receiver_decode(zmsg_t *msg, envelope_t *env, size_t *bytes)
{
    if (zmsg_size(msg) != 3)
        return NULL;
    zframe_t *routing_id = zmsg_first(msg);
    zframe_t *ef = zmsg_next(msg);
    zframe_t *body = zmsg_next(msg);
    if (!routing_id || !ef || !body)
        return NULL;
    if (envelope_decode(zframe_data(ef), zframe_size(ef), env) != 0 || env->type != ENVELOPE_SAMPLE)
        return NULL;
    *bytes = zframe_size(body);
    return pgvigil__sample__unpack(NULL, zframe_size(body), zframe_data(body));
}

/* Acknowledge a printed sample, as an aggregator does once it is durable,
 * so collectors do not keep (and resend) what this receiver has shown. */
static void receiver_ack(zsock_t *sock, zmsg_t *msg, const envelope_t *env, const Pgvigil__Sample *s)
{
    uint64_t seq = s->sequence;
    Pgvigil__Ack ack = PGVIGIL__ACK__INIT;
    ack.has_collector_started_at_us = 1;
    ack.collector_started_at_us = s->collector_started_at_us;
    ack.sequences = &seq;
    ack.n_sequences = 1;
    uint8_t body[64], eb[ENVELOPE_MAX_BYTES];
    envelope_t e = {ENVELOPE_VERSION, ENVELOPE_ACK, ""};
    snprintf(e.node, sizeof e.node, "%s", env->node);
    size_t elen = envelope_encode(&e, eb, sizeof eb);
    zframe_t *route = zmsg_first(msg);
    if (!elen || pgvigil__ack__get_packed_size(&ack) > sizeof body)
        return;
    size_t blen = pgvigil__ack__pack(&ack, body);
    void *z = zsock_resolve(sock);
    if (zmq_send(z, zframe_data(route), zframe_size(route), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0) {
        zmq_send(z, eb, elen, ZMQ_SNDMORE);
        zmq_send(z, body, blen, 0);
    }
}

static int receiver_on_message(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    receiver_t *self = arg;
    zmsg_t *msg = zmsg_recv(sock);
    if (!msg)
        return -1; /* interrupted */
    envelope_t env;
    size_t bytes = 0;
    Pgvigil__Sample *s = receiver_decode(msg, &env, &bytes);
    if (s && receiver_print(&env, s, bytes) == 0) {
        self->received++;
        receiver_ack(sock, msg, &env, s);
    } else {
        self->malformed++;
        fprintf(stderr, RECEIVER_NAME ": dropped a malformed message of %zu frames (%ld so far)\n",
                zmsg_size(msg), self->malformed);
    }
    if (s)
        pgvigil__sample__free_unpacked(s, NULL);
    zmsg_destroy(&msg);
    return (self->count > 0 && self->received >= self->count) ? -1 : 0;
}

static int receiver_on_timeout(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    return -1;
}

/* A whole non-negative decimal number, or -1. */
static long receiver_parse_count(const char *text)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0 || v > INT_MAX / 1000)
        return -1;
    return v;
}

static int receiver_parse_args(int argc, char **argv, receiver_options_t *opt)
{
    static const struct option longopts[] = {{"bind", required_argument, NULL, 'b'},
                                             {"curve-server-cert", required_argument, NULL, 's'},
                                             {"allow-dir", required_argument, NULL, 'a'},
                                             {"count", required_argument, NULL, 'n'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {NULL, 0, NULL, 0}};
    int c;
    memset(opt, 0, sizeof *opt);
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': opt->bind = optarg; break;
        case 's': opt->server_cert = optarg; break;
        case 'a': opt->allow_dir = optarg; break;
        case 'n': opt->count = receiver_parse_count(optarg); break;
        case 't': opt->timeout_s = receiver_parse_count(optarg); break;
        default: return -1;
        }
    }
    if (optind != argc || !opt->bind || (opt->server_cert && !opt->allow_dir) ||
        (opt->allow_dir && !opt->server_cert) || opt->count < 0 || opt->timeout_s < 0) {
        fprintf(stderr, "usage: " RECEIVER_NAME " --bind ENDPOINT [--curve-server-cert PATH "
                        "--allow-dir DIR] [--count N] [--timeout SECONDS]\n");
        return -1;
    }
    return 0;
}

/* Start zauth admitting the certificates of allow_dir and make sock a CURVE
 * server with the key pair in server_cert. Returns the zauth actor or NULL. */
static zactor_t *receiver_curve_setup(zsock_t *sock, const char *server_cert, const char *allow_dir)
{
    zactor_t *auth = NULL;
    zcert_t *cert = zcert_load(server_cert);
    if (!cert) {
        fprintf(stderr, RECEIVER_NAME ": could not load CURVE certificate \"%s\"\n", server_cert);
        goto fail;
    }
    auth = zactor_new(zauth, NULL);
    if (!auth) {
        fprintf(stderr, RECEIVER_NAME ": could not start zauth\n");
        goto fail;
    }
    if (zstr_sendx(auth, "CURVE", allow_dir, NULL) != 0 || zsock_wait(auth) != 0) {
        fprintf(stderr, RECEIVER_NAME ": zauth refused allow-list directory \"%s\"\n", allow_dir);
        goto fail;
    }
    zcert_apply(cert, sock);
    zsock_set_curve_server(sock, 1);
    zcert_destroy(&cert);
    return auth;
fail:
    zcert_destroy(&cert);
    zactor_destroy(&auth);
    return NULL;
}

/* Run the loop until a signal, --count or --timeout. Returns 0 or -1. */
static int receiver_run(zsock_t *sock, const receiver_options_t *opt, receiver_t *self)
{
    int rc = -1;
    zloop_t *loop = zloop_new();
    if (!loop)
        goto fail;
    if (zloop_reader(loop, sock, receiver_on_message, self) != 0)
        goto fail;
    if (opt->timeout_s > 0 &&
        zloop_timer(loop, (size_t)opt->timeout_s * 1000, 1, receiver_on_timeout, NULL) < 0)
        goto fail;
    zloop_start(loop);
    rc = 0;
fail:
    if (rc != 0)
        fprintf(stderr, RECEIVER_NAME ": could not set up the event loop\n");
    zloop_destroy(&loop);
    return rc;
}

int main(int argc, char **argv)
{
    receiver_options_t opt;
    receiver_t self = {0};
    zactor_t *auth = NULL;
    zsock_t *sock = NULL;
    int status = 1;

    if (receiver_parse_args(argc, argv, &opt) != 0)
        return 2;
    self.count = opt.count;
    sock = zsock_new(ZMQ_ROUTER);
    if (!sock) {
        fprintf(stderr, RECEIVER_NAME ": could not create a ROUTER socket: %s\n", zmq_strerror(errno));
        goto fail;
    }
    zsock_set_maxmsgsize(sock, ENVELOPE_BODY_MAX_BYTES + 1024);
    if (opt.server_cert && !(auth = receiver_curve_setup(sock, opt.server_cert, opt.allow_dir)))
        goto fail;
    if (zsock_bind(sock, "%s", opt.bind) < 0) {
        fprintf(stderr, RECEIVER_NAME ": could not bind \"%s\": %s\n", opt.bind, zmq_strerror(errno));
        goto fail;
    }
    fprintf(stderr, RECEIVER_NAME ": listening on %s%s\n", opt.bind, auth ? " (CURVE)" : "");
    if (receiver_run(sock, &opt, &self) != 0)
        goto fail;
    fprintf(stderr, RECEIVER_NAME ": %ld samples, %ld malformed\n", self.received, self.malformed);
    status = 0;
fail:
    zsock_destroy(&sock);
    zactor_destroy(&auth);
    return status;
}
