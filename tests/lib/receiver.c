/*
 * receiver.c — pgvigil-test-receiver: a stand-in aggregator for tests. Binds
 * a ZeroMQ ROUTER where collectors deliver samples and prints each decoded
 * sample as one JSON line on stdout (pbjson form, plus "_bytes", the body
 * size, "_received_at_us" and "_envelope_node"). Malformed messages are
 * counted on stderr and never stop it.
 *
 *   pgvigil-test-receiver --bind tcp://127.0.0.1:PORT
 *       [--curve-server-cert SECRET_CERT --allow-dir DIR] [--count N] [--timeout SECONDS]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "clock.h"
#include "envelope.h"
#include "pbjson.h"
#include "pgvigil.pb-c.h"

typedef struct {
    long count, received, malformed;
} receiver_t;

static void receiver_print(const envelope_t *env, const Pgvigil__Sample *s, size_t bytes)
{
    json_t *j = pbjson_from_message(&s->base);
    if (!j)
        return;
    json_object_set_new(j, "_bytes", json_integer((json_int_t)bytes));
    json_object_set_new(j, "_received_at_us", json_integer(clock_wall_us()));
    json_object_set_new(j, "_envelope_node", json_string(env->node));
    char *text = json_dumps(j, JSON_COMPACT);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(text);
    json_decref(j);
}

static int receiver_on_message(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    receiver_t *self = arg;
    zmsg_t *msg = zmsg_recv(sock);
    if (!msg)
        return -1; /* interrupted */
    envelope_t env;
    zframe_t *id = zmsg_first(msg), *ef = zmsg_next(msg), *body = zmsg_next(msg);
    Pgvigil__Sample *s = NULL;
    if (id && ef && body && zmsg_size(msg) == 3 &&
        envelope_decode(zframe_data(ef), zframe_size(ef), &env) == 0 &&
        env.type == ENVELOPE_SAMPLE)
        s = pgvigil__sample__unpack(NULL, zframe_size(body), zframe_data(body));
    if (s) {
        receiver_print(&env, s, zframe_size(body));
        pgvigil__sample__free_unpacked(s, NULL);
        self->received++;
    } else {
        self->malformed++;
        fprintf(stderr, "pgvigil-test-receiver: dropped a malformed message (%ld so far)\n",
                self->malformed);
    }
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

int main(int argc, char **argv)
{
    const char *bind = NULL, *server_cert = NULL, *allow_dir = NULL;
    long timeout_s = 0;
    receiver_t self = {0};
    static const struct option opts[] = {{"bind", required_argument, NULL, 'b'},
                                         {"curve-server-cert", required_argument, NULL, 's'},
                                         {"allow-dir", required_argument, NULL, 'a'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': bind = optarg; break;
        case 's': server_cert = optarg; break;
        case 'a': allow_dir = optarg; break;
        case 'n': self.count = strtol(optarg, NULL, 10); break;
        case 't': timeout_s = strtol(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    if (!bind || (server_cert && !allow_dir)) {
        fprintf(stderr, "usage: pgvigil-test-receiver --bind ENDPOINT [--curve-server-cert PATH "
                        "--allow-dir DIR] [--count N] [--timeout S]\n");
        return 2;
    }
    zactor_t *auth = NULL;
    zsock_t *sock = zsock_new(ZMQ_ROUTER);
    if (!sock)
        return 1;
    zsock_set_maxmsgsize(sock, ENVELOPE_BODY_MAX_BYTES + 1024);
    if (server_cert) {
        zcert_t *cert = zcert_load(server_cert);
        if (!cert) {
            fprintf(stderr, "pgvigil-test-receiver: cannot load %s\n", server_cert);
            return 1;
        }
        auth = zactor_new(zauth, NULL);
        zstr_sendx(auth, "CURVE", allow_dir, NULL);
        zsock_wait(auth);
        zcert_apply(cert, sock);
        zsock_set_curve_server(sock, 1);
        zcert_destroy(&cert);
    }
    if (zsock_bind(sock, "%s", bind) < 0) {
        fprintf(stderr, "pgvigil-test-receiver: cannot bind %s\n", bind);
        return 1;
    }
    fprintf(stderr, "pgvigil-test-receiver: listening on %s\n", bind);
    zloop_t *loop = zloop_new();
    zloop_reader(loop, sock, receiver_on_message, &self);
    if (timeout_s > 0)
        zloop_timer(loop, (size_t)timeout_s * 1000, 1, receiver_on_timeout, NULL);
    zloop_start(loop);
    zloop_destroy(&loop);
    zsock_destroy(&sock);
    zactor_destroy(&auth);
    fprintf(stderr, "pgvigil-test-receiver: %ld samples, %ld malformed\n", self.received,
            self.malformed);
    return 0;
}
