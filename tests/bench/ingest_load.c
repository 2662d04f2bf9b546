/*
 * ingest_load.c — pgvigil-ingest-load: simulates N collectors sending
 * realistic samples to an aggregator, as fast as it accepts them or at an
 * exact total rate. The fleet (load_sim.h) is clusters of one primary and R
 * replicas with moving LSNs, so the aggregator computes lag at scale.
 *
 *   pgvigil-ingest-load --endpoint tcp://127.0.0.1:7400 [--endpoint ...] [--nodes 200]
 *       [--rate SAMPLES_PER_S (0: as fast as possible)] [--seconds 20]
 *       [--nodes-per-socket N] [--replicas R (1)] [--wal-rate BYTES_PER_S]
 *       [--lagging-every N (0: none)] [--sndhwm MESSAGES (1000)]
 *
 * For hostile-input and identity tests:
 *   [--name NAME]            node name (with --nodes 1), else bench-<i>
 *   [--region TEXT]          region, bytes as given (e.g. $'eu-\xff')
 *   [--sequence-start N]     first sequence number (default 1)
 *   [--started-at US]        collector_started_at_us (default: now)
 *   [--count N]              stop after N samples
 *   [--curve-client-cert SECRET --curve-server-key PUBLIC]
 *
 * With --acked each simulated collector delivers like a real one (the
 * collector's publish.c, its own socket: kept until acknowledged, sent again
 * after a reconnection) at --rate samples/s in total, waits up to 60 s at the
 * end for the last acknowledgements and prints one line per node:
 *   "node NAME sent N unacked U dropped D"
 * so a fault test can check that sequences 1..N of every node are stored.
 *
 * Simulated nodes share DEALER sockets (N per socket; by default at most 256
 * sockets), so 50,000 nodes fit under a 20,000 open-file limit: the envelope
 * carries each sample's node name. With --rate, sample k is due at
 * start + k / rate on the monotonic clock and the generator sleeps to that
 * absolute deadline (clock_nanosleep TIMER_ABSTIME), sending whatever is due
 * when it wakes, so the achieved rate is the asked rate whatever the
 * per-send cost; a paced send never blocks: a sample the socket cannot take
 * (its queue is full because the aggregator stopped reading) is counted as
 * unsent. Without --rate, sends block, so the achieved rate is what the
 * aggregator sustains. Anything the aggregator sends back (acknowledgements,
 * commands) is read and counted, so it never backs up; at the end the
 * generator reads replies until every sample is acknowledged or none come for
 * 2 s (at most a minute), since closing a connection with unread replies
 * makes the kernel reset it and the aggregator lose what it had not read.
 *
 * --endpoint may be given up to LOAD_ENDPOINTS_MAX times: like a real
 * collector with several aggregators in its list, every sample is packed
 * once and sent to every endpoint, each through a socket set of its own (a
 * DEALER connected to several endpoints would deal the samples out round
 * robin instead). With --acked, each simulated collector lists them all.
 *
 * Prints "sent N samples in S s (R/s) from M simulated collectors", then a
 * line "stats key=value ..." for scripts (sent, unsent, replies, late_max_ms,
 * sockets, clusters, rate_asked, rate_achieved). With several endpoints,
 * sent counts samples that at least one endpoint took, unsent counts
 * (sample, endpoint) pairs refused, sockets is per endpoint, and the line
 * ends with endpoints=E messages=M (M: (sample, endpoint) pairs sent).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <czmq.h>

#include "clock.h"
#include "col_config.h"
#include "envelope.h"
#include "load_sim.h"
#include "publish.h"

#define LOAD_SOCKETS_DEFAULT_MAX 256
#define LOAD_DRAIN_EVERY_NS 10000000LL
#define LOAD_QUIET_NS 2000000000LL   /* no reply for this long: the aggregator has read all */
#define LOAD_FINISH_NS 60000000000LL /* waiting for replies at the end, at most */
#define LOAD_ENDPOINTS_MAX 16

typedef struct {
    const char *endpoint[LOAD_ENDPOINTS_MAX];
    int endpoints;
    const char *client_cert, *server_key; /* CURVE, both or neither */
    int nodes, seconds, nodes_per_socket, sndhwm, acked;
    double rate;
    uint64_t sequence_start, count; /* count 0: no limit */
    load_sim_config_t sim;
} load_opts_t;

typedef struct {
    load_opts_t opt;
    load_sim_node_t *node;
    zsock_t **sock; /* endpoint e's socket i at [e * sockets + i] */
    int sockets;    /* per endpoint */
    uint64_t slots, attempted, sent, unsent, messages, replies;
    int64_t late_max_ns;
    int64_t last_drain_ns;
} load_t;

static int64_t load_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t load_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void load_sleep_until(int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000LL, .tv_nsec = deadline_ns % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !zsys_interrupted)
        ;
}

static int load_parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The options of hostile-input, identity and delivery tests. */
static int load_parse_more(load_opts_t *o, int c, const char *arg)
{
    long v = 0;
    char *end;
    switch (c) {
    case 'N': o->sim.name = arg; return 0;
    case 'G': o->sim.region = arg; return 0;
    case 'c': o->client_cert = arg; return 0;
    case 'k': o->server_key = arg; return 0;
    case 'A': o->acked = 1; return 0;
    case 'q':
    case 'C': {
        errno = 0;
        unsigned long long u = strtoull(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-')
            return -1;
        if (c == 'q')
            o->sequence_start = u;
        else
            o->count = u;
        return 0;
    }
    case 't':
        if (load_parse_long(arg, 1, LONG_MAX, &v))
            return -1;
        o->sim.collector_started_at_us = v;
        return 0;
    default: return -1;
    }
}

static int load_parse_opt(load_opts_t *o, int c, const char *arg)
{
    long v = 0;
    char *end;
    switch (c) {
    case 'e':
        if (o->endpoints >= LOAD_ENDPOINTS_MAX)
            return -1;
        o->endpoint[o->endpoints++] = arg;
        return 0;
    case 'r':
        errno = 0;
        o->rate = strtod(arg, &end);
        return errno || end == arg || *end || o->rate < 0 ? -1 : 0;
    case 'n': if (load_parse_long(arg, 1, 1000000, &v)) return -1; o->nodes = (int)v; return 0;
    case 's': if (load_parse_long(arg, 1, 86400, &v)) return -1; o->seconds = (int)v; return 0;
    case 'p': if (load_parse_long(arg, 1, 1000000, &v)) return -1; o->nodes_per_socket = (int)v; return 0;
    case 'R': if (load_parse_long(arg, 0, LOAD_SIM_REPLICAS_MAX, &v)) return -1; o->sim.replicas = (int)v; return 0;
    case 'w': if (load_parse_long(arg, 0, 1L << 40, &v)) return -1; o->sim.wal_bytes_per_s = (uint64_t)v; return 0;
    case 'l': if (load_parse_long(arg, 0, 1000000, &v)) return -1; o->sim.lagging_every = (int)v; return 0;
    case 'h': if (load_parse_long(arg, 1, 10000000, &v)) return -1; o->sndhwm = (int)v; return 0;
    default: return load_parse_more(o, c, arg);
    }
}

static int load_parse(int argc, char **argv, load_opts_t *o)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'e'},     {"nodes", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},         {"seconds", required_argument, NULL, 's'},
        {"nodes-per-socket", required_argument, NULL, 'p'}, {"replicas", required_argument, NULL, 'R'},
        {"wal-rate", required_argument, NULL, 'w'},     {"lagging-every", required_argument, NULL, 'l'},
        {"sndhwm", required_argument, NULL, 'h'},       {"name", required_argument, NULL, 'N'},
        {"region", required_argument, NULL, 'G'},       {"sequence-start", required_argument, NULL, 'q'},
        {"started-at", required_argument, NULL, 't'},   {"count", required_argument, NULL, 'C'},
        {"curve-client-cert", required_argument, NULL, 'c'}, {"curve-server-key", required_argument, NULL, 'k'},
        {"acked", no_argument, NULL, 'A'},              {NULL, 0, NULL, 0}};
    *o = (load_opts_t){.nodes = 200, .seconds = 20, .sndhwm = 1000, .sequence_start = 1,
                       .sim = {.replicas = 1, .wal_bytes_per_s = 16384, .lagging_every = 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
        if (load_parse_opt(o, c, optarg) != 0) {
            fprintf(stderr, "pgvigil-ingest-load: bad value for an option (see the header of ingest_load.c)\n");
            return -1;
        }
    if (!o->endpoints || !o->sequence_start || !o->client_cert != !o->server_key) {
        fprintf(stderr, "pgvigil-ingest-load: --endpoint is required (at most %d times), --sequence-start is"
                        " at least 1, and the CURVE options go together\n", LOAD_ENDPOINTS_MAX);
        return -1;
    }
    if (!o->nodes_per_socket)
        o->nodes_per_socket = (o->nodes + LOAD_SOCKETS_DEFAULT_MAX - 1) / LOAD_SOCKETS_DEFAULT_MAX;
    o->sim.nodes = o->nodes;
    /* Each node sends once per nodes / rate seconds: that is its cadence. */
    double interval_ms = o->rate > 0 ? 1000.0 * o->nodes / o->rate : 1000;
    o->sim.interval_ms = interval_ms < 10 ? 10 : interval_ms > 3600000 ? 3600000 : (uint32_t)(interval_ms + 0.5);
    return 0;
}

static int load_curve(zsock_t *sock, const load_opts_t *o)
{
    zcert_t *client = zcert_load(o->client_cert), *server = zcert_load(o->server_key);
    int rc = client && server ? 0 : -1;
    if (rc == 0) {
        zcert_apply(client, sock);
        zsock_set_curve_serverkey(sock, zcert_public_txt(server));
    }
    zcert_destroy(&client);
    zcert_destroy(&server);
    return rc;
}

static int load_connect(load_t *self)
{
    const load_opts_t *o = &self->opt;
    self->sockets = (o->nodes + o->nodes_per_socket - 1) / o->nodes_per_socket;
    const int total = self->sockets * o->endpoints;
    self->sock = calloc((size_t)total, sizeof *self->sock);
    self->node = calloc((size_t)o->nodes, sizeof *self->node);
    if (!self->sock || !self->node)
        return -1;
    for (int i = 0; i < o->nodes; i++)
        self->node[i].sequence = o->sequence_start - 1;
    zsys_set_max_sockets((size_t)total + 64);
    for (int i = 0; i < total; i++) {
        const char *endpoint = o->endpoint[i / self->sockets];
        self->sock[i] = zsock_new(ZMQ_DEALER);
        if (!self->sock[i])
            return -1;
        zsock_set_sndhwm(self->sock[i], o->sndhwm);
        if (o->client_cert && load_curve(self->sock[i], o) != 0) {
            fprintf(stderr, "pgvigil-ingest-load: could not load the CURVE certificates\n");
            return -1;
        }
        if (zsock_connect(self->sock[i], "%s", endpoint) != 0) {
            fprintf(stderr, "pgvigil-ingest-load: could not connect to %s\n", endpoint);
            return -1;
        }
    }
    return 0;
}

/* Read and count whatever the aggregator sent back, so it never queues. */
static void load_drain(load_t *self)
{
    for (int i = 0; i < self->sockets * self->opt.endpoints; i++) {
        void *z = zsock_resolve(self->sock[i]);
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, z, ZMQ_DONTWAIT) >= 0)
            if (!zmq_msg_more(&m))
                self->replies++;
        zmq_msg_close(&m);
    }
}

/* One packed sample to one socket. Blocking (flags without ZMQ_DONTWAIT):
 * wait for room, reading replies meanwhile (acknowledgements left unread
 * stall the connection both ways). Returns 0 if the socket took it. */
static int load_send_to(load_t *self, void *z, const uint8_t *env, size_t env_len, const uint8_t *body,
                        size_t len, int flags)
{
    int rc = zmq_send(z, env, env_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    while (rc < 0 && !(flags & ZMQ_DONTWAIT) && zmq_errno() == EAGAIN && !zsys_interrupted) {
        load_drain(self);
        zmq_pollitem_t item = {.socket = z, .events = ZMQ_POLLOUT};
        zmq_poll(&item, 1, 10);
        rc = zmq_send(z, env, env_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    }
    if (rc < 0)
        return -1;
    zmq_send(z, body, len, 0); /* a message's later parts always go with the first */
    return 0;
}

/* One sample of the node whose turn slot is, packed once and sent to every
 * endpoint through that endpoint's socket for the node. */
static void load_send(load_t *self, uint64_t slot, int flags)
{
    int index = (int)(slot % (uint64_t)self->opt.nodes);
    load_sim_node_t *n = &self->node[index];
    uint8_t env[ENVELOPE_MAX_BYTES], body[4096];
    envelope_t e = {.version = ENVELOPE_VERSION, .type = ENVELOPE_SAMPLE};
    if (self->opt.sim.name && self->opt.nodes == 1)
        snprintf(e.node, sizeof e.node, "%s", self->opt.sim.name);
    else
        load_sim_node_name(index, e.node, sizeof e.node);
    size_t env_len = envelope_encode(&e, env, sizeof env);
    n->sequence++;
    size_t len = load_sim_pack(&self->opt.sim, n, index, load_wall_us(), body, sizeof body);
    int taken = 0;
    self->attempted++;
    for (int ep = 0; ep < self->opt.endpoints; ep++) {
        void *z = zsock_resolve(self->sock[ep * self->sockets + index / self->opt.nodes_per_socket]);
        if (env_len && len && load_send_to(self, z, env, env_len, body, len, flags) == 0) {
            taken++;
            self->messages++;
        } else {
            self->unsent++;
        }
    }
    if (taken)
        self->sent++;
    else
        n->sequence--; /* sent nowhere: the node's next sample keeps its number */
}

static void load_run(load_t *self)
{
    const double rate = self->opt.rate;
    const int64_t start = load_now_ns(), end = start + (int64_t)self->opt.seconds * 1000000000LL;
    self->last_drain_ns = start;
    const uint64_t count = self->opt.count;
    for (int64_t now = start; now < end && !zsys_interrupted && (!count || self->sent < count);
         now = load_now_ns()) {
        uint64_t due = rate > 0 ? (uint64_t)((double)(now - start) * rate / 1e9) + 1 : self->slots + 256;
        if (count && due > self->slots + (count - self->sent))
            due = self->slots + (count - self->sent);
        if (rate > 0 && due > self->slots) {
            int64_t late = now - start - (int64_t)((double)self->slots * 1e9 / rate);
            self->late_max_ns = late > self->late_max_ns ? late : self->late_max_ns;
        }
        for (; self->slots < due; self->slots++)
            load_send(self, self->slots, rate > 0 ? ZMQ_DONTWAIT : 0);
        if (now - self->last_drain_ns >= LOAD_DRAIN_EVERY_NS) {
            load_drain(self);
            self->last_drain_ns = now;
        }
        if (rate > 0) {
            int64_t next = start + (int64_t)((double)self->slots * 1e9 / rate);
            load_sleep_until(next < end ? next : end);
        }
    }
}

/* Before closing: read replies until every sample is acknowledged (one
 * reply each without history) or none came for LOAD_QUIET_NS, within
 * LOAD_FINISH_NS. Closing a connection with unread replies makes the kernel
 * reset it, and the aggregator would lose what it had not read yet. */
static void load_finish(load_t *self)
{
    int64_t now = load_now_ns(), end = now + LOAD_FINISH_NS, quiet_since = now;
    uint64_t seen = self->replies;
    while (now < end && !zsys_interrupted && self->replies < self->messages && now - quiet_since < LOAD_QUIET_NS) {
        load_sleep_until(now + LOAD_DRAIN_EVERY_NS);
        load_drain(self);
        now = load_now_ns();
        if (self->replies != seen) {
            seen = self->replies;
            quiet_since = now;
        }
    }
}

static void load_report(const load_t *self, double elapsed_s)
{
    const load_opts_t *o = &self->opt;
    printf("sent %" PRIu64 " samples in %.1f s (%.0f/s) from %d simulated collectors\n", self->sent, elapsed_s,
           (double)self->sent / elapsed_s, o->nodes);
    printf("stats sent=%" PRIu64 " unsent=%" PRIu64 " replies=%" PRIu64 " late_max_ms=%.3f sockets=%d"
           " clusters=%d replicas=%d rate_asked=%.0f rate_achieved=%.1f",
           self->sent, self->unsent, self->replies, (double)self->late_max_ns / 1e6, self->sockets,
           load_sim_cluster_of(&o->sim, o->nodes - 1) + 1, o->sim.replicas, o->rate,
           (double)self->attempted / elapsed_s);
    if (o->endpoints > 1)
        printf(" endpoints=%d messages=%" PRIu64, o->endpoints, self->messages);
    printf("\n");
    fflush(stdout);
}

/* ---- --acked: simulated collectors with the collector's own publisher ---- */

#define LOAD_ACKED_TICK_MAX 1000 /* samples made per 5 ms tick at most */
#define LOAD_ACKED_DRAIN_S 60     /* after the run, the longest wait for acknowledgements */

typedef struct {
    const load_opts_t *opt;
    load_sim_node_t *node;
    publish_t **pubs;
    col_config_t **cfgs;
    int next;
    uint64_t sent;
    int64_t start, end;
    double rate;
} load_acked_t;

static int load_acked_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    load_acked_t *x = arg;
    int64_t now = clock_mono_us();
    if (now >= x->end || (x->opt->count && x->sent >= x->opt->count))
        return -1;
    uint64_t due = (uint64_t)((double)(now - x->start) / 1e6 * x->rate);
    if (x->opt->count && due > x->opt->count)
        due = x->opt->count;
    /* A bounded batch per tick, so acknowledgements (and refusals) are read
     * in between: behind its rate, the generator falls behind rather than
     * stop listening, as a collector's loop would. */
    if (due > x->sent + LOAD_ACKED_TICK_MAX)
        due = x->sent + LOAD_ACKED_TICK_MAX;
    uint8_t buf[4096];
    for (; x->sent < due; x->sent++, x->next = (x->next + 1) % x->opt->nodes) {
        load_sim_node_t *n = &x->node[x->next];
        n->sequence++;
        size_t len = load_sim_pack(&x->opt->sim, n, x->next, clock_wall_us(), buf, sizeof buf);
        Pgvigil__Sample *s = len ? pgvigil__sample__unpack(NULL, len, buf) : NULL;
        if (s)
            publish_sample(x->pubs[x->next], s);
        pgvigil__sample__free_unpacked(s, NULL);
    }
    return 0;
}

static int load_acked_start(load_acked_t *x, zloop_t *loop, int i)
{
    const load_opts_t *o = x->opt;
    char err[512], text[8192], name[LOAD_SIM_NAME_MAX];
    load_sim_node_name(i, name, sizeof name);
    int n = snprintf(text, sizeof text, "node: %s\nregion: eu-west\ndsn: unused\nsend_queue: 1000000\naggregators:\n",
                     o->sim.name && o->nodes == 1 ? o->sim.name : name);
    for (int e = 0; n >= 0 && (size_t)n < sizeof text && e < o->endpoints; e++)
        n += snprintf(text + n, sizeof text - (size_t)n, "  - \"%s\"\n", o->endpoint[e]);
    if (n < 0 || (size_t)n >= sizeof text) {
        fprintf(stderr, "pgvigil-ingest-load: the endpoints are too long\n");
        return -1;
    }
    if (!(x->cfgs[i] = col_config_load_string("load", text, true, err, sizeof err)) ||
        !(x->pubs[i] = publish_new(x->cfgs[i], err, sizeof err)) ||
        publish_attach(x->pubs[i], loop, NULL, NULL) != 0) {
        fprintf(stderr, "pgvigil-ingest-load: could not start simulated collector %d: %s\n", i, err);
        return -1;
    }
    return 0;
}

/* After the run: until every publisher's queue is acknowledged (all drain
 * at once, each as its window allows) or the deadline. */
static int load_acked_drained(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    load_acked_t *x = arg;
    uint64_t unacked = 0;
    for (int i = 0; i < x->opt->nodes; i++)
        unacked += x->pubs[i] ? publish_unacked(x->pubs[i]) : 0;
    return unacked == 0 || clock_mono_us() >= x->end ? -1 : 0;
}

/* Every node through its own publisher, paced by a 5 ms timer; then all
 * wait for their last acknowledgements (at most a minute) and each says
 * what stayed unacknowledged. */
static int load_acked(const load_opts_t *o)
{
    load_acked_t x = {.opt = o, .rate = o->rate > 0 ? o->rate : 1000};
    x.node = calloc((size_t)o->nodes, sizeof *x.node);
    x.pubs = calloc((size_t)o->nodes, sizeof *x.pubs);
    x.cfgs = calloc((size_t)o->nodes, sizeof *x.cfgs);
    zloop_t *loop = zloop_new();
    int rc = loop && x.node && x.pubs && x.cfgs ? 0 : 1;
    for (int i = 0; rc == 0 && i < o->nodes; i++) {
        x.node[i].sequence = o->sequence_start - 1;
        rc = load_acked_start(&x, loop, i) == 0 ? 0 : 1;
    }
    if (rc == 0) {
        x.start = clock_mono_us();
        x.end = x.start + (int64_t)o->seconds * 1000000;
        int tick = zloop_timer(loop, 5, 0, load_acked_tick, &x);
        zloop_start(loop);
        zloop_timer_end(loop, tick);
        x.end = clock_mono_us() + LOAD_ACKED_DRAIN_S * 1000000;
        zloop_timer(loop, 50, 0, load_acked_drained, &x);
        zloop_start(loop);
    }
    for (int i = 0; x.pubs && i < o->nodes; i++) {
        if (rc == 0 && x.pubs[i]) {
            char name[LOAD_SIM_NAME_MAX];
            load_sim_node_name(i, name, sizeof name);
            uint64_t unacked = publish_drain(x.pubs[i], 100);
            printf("node %s sent %" PRIu64 " unacked %" PRIu64 " dropped %" PRIu64 "\n",
                   o->sim.name && o->nodes == 1 ? o->sim.name : name, x.node[i].sequence,
                   unacked, publish_dropped(x.pubs[i]));
        }
        publish_destroy(&x.pubs[i]);
        if (x.cfgs)
            col_config_destroy(&x.cfgs[i]);
    }
    if (rc == 0)
        printf("sent %" PRIu64 " samples from %d simulated collectors\n", x.sent, o->nodes);
    zloop_destroy(&loop);
    free(x.node);
    free(x.pubs);
    free(x.cfgs);
    return rc;
}

int main(int argc, char **argv)
{
    load_t self = {0};
    int rc = 1;
    if (load_parse(argc, argv, &self.opt) != 0)
        return 2;
    self.opt.sim.started_at_us = load_wall_us();
    if (self.opt.acked)
        return load_acked(&self.opt);
    if (load_connect(&self) != 0)
        goto out;
    zclock_sleep(500); /* let the connections come up */
    int64_t t0 = load_now_ns();
    load_run(&self);
    load_report(&self, (double)(load_now_ns() - t0) / 1e9);
    load_finish(&self);
    rc = 0;
out:
    for (int i = 0; self.sock && i < self.sockets * self.opt.endpoints; i++) {
        if (!self.sock[i])
            continue;
        zsock_set_linger(self.sock[i], 60000); /* deliver what is queued, within a minute */
        zsock_destroy(&self.sock[i]);
    }
    free(self.sock);
    free(self.node);
    return rc;
}
