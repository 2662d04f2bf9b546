/*
 * ingest_load.c — pgvigil-ingest-load: simulates N collectors sending
 * realistic samples (half primaries with a standby entry, half replicas with
 * receive/replay positions; pairs share a system identifier) to an
 * aggregator as fast as it accepts them, or at a given total rate.
 *
 *   pgvigil-ingest-load --endpoint tcp://127.0.0.1:7400 [--nodes 200]
 *       [--rate SAMPLES_PER_S (0: as fast as possible)] [--seconds 20]
 *
 * Prints "sent N samples in S s (R/s)". Sends block when the aggregator's
 * queue is full, so the achieved rate is what it sustains.
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
 * collector's publish.c: kept until acknowledged, sent again after a
 * reconnection) at --rate samples/s in total, waits up to 60 s at the end
 * for the last acknowledgements and prints one line per node:
 *   "node NAME sent N unacked U dropped D"
 * so a fault test can check that sequences 1..N of every node are stored.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "clock.h"
#include "col_config.h"
#include "publish.h"
#include "envelope.h"
#include "pgvigil.pb-c.h"

static const char *sim_region; /* --region; NULL: eu-west / us-east */

typedef struct {
    zsock_t *sock;
    char name[32];
    uint8_t env[ENVELOPE_MAX_BYTES];
    size_t env_len;
    uint64_t seq;
    int64_t started;
} sim_node_t;

static size_t sim_pack(const sim_node_t *n, int index, uint8_t *buf, int64_t now)
{
    Pgvigil__Sample s = PGVIGIL__SAMPLE__INIT;
    Pgvigil__Probe probe = PGVIGIL__PROBE__INIT;
    Pgvigil__Connections conn = PGVIGIL__CONNECTIONS__INIT;
    Pgvigil__PrimaryReplication pr = PGVIGIL__PRIMARY_REPLICATION__INIT;
    Pgvigil__Standby sb = PGVIGIL__STANDBY__INIT, *sbs[1] = {&sb};
    Pgvigil__ReplicaReplication rr = PGVIGIL__REPLICA_REPLICATION__INIT;
    char standby[32];
    bool primary = index % 2 == 0;
    uint64_t lsn = (uint64_t)(now / 1000) * 16; /* 16 kB/s of WAL */
    s.has_format_version = s.has_system_identifier = s.has_timeline = s.has_role = 1;
    s.has_sequence = s.has_collected_at_us = s.has_up = s.has_interval_ms = 1;
    s.has_collector_started_at_us = s.has_server_version = 1;
    s.format_version = 1;
    s.node = (char *)n->name;
    s.region = sim_region ? (char *)sim_region : index % 4 < 2 ? "eu-west" : "us-east";
    s.system_identifier = 7300000000000000000ull + (uint64_t)(index / 2);
    s.timeline = 1;
    s.server_version = 150018;
    s.role = primary ? PGVIGIL__ROLE__ROLE_PRIMARY : PGVIGIL__ROLE__ROLE_REPLICA;
    s.collector_version = "bench";
    s.sequence = n->seq;
    s.collected_at_us = now;
    s.collector_started_at_us = n->started;
    s.up = 1;
    s.interval_ms = 1000;
    probe.has_ok = probe.has_rtt_us = 1;
    probe.ok = 1;
    probe.rtt_us = 300;
    s.probe = &probe;
    conn.has_total = conn.has_active = conn.has_max_connections = 1;
    conn.total = 40;
    conn.active = 3;
    conn.max_connections = 200;
    s.connections = &conn;
    if (primary) {
        pr.has_current_wal_lsn = 1;
        pr.current_wal_lsn = lsn;
        snprintf(standby, sizeof standby, "bench-%d", index + 1);
        sb.application_name = standby;
        sb.state = "streaming";
        sb.has_replay_lsn = 1;
        sb.replay_lsn = lsn - 4096;
        pr.standbys = sbs;
        pr.n_standbys = 1;
        s.primary_replication = &pr;
    } else {
        rr.has_receive_lsn = rr.has_replay_lsn = rr.has_replay_paused = 1;
        rr.receive_lsn = lsn - 1024;
        rr.replay_lsn = lsn - 4096;
        rr.wal_receiver_status = "streaming";
        s.replica_replication = &rr;
    }
    return pgvigil__sample__pack(&s, buf);
}

typedef struct {
    const char *endpoint, *name, *client_cert, *server_key;
    int nodes, seconds, acked;
    double rate;
    uint64_t sequence_start, count;
    int64_t started_at;
} sim_args_t;

static int sim_parse(int argc, char **argv, sim_args_t *a)
{
    static const struct option opts[] = {{"endpoint", required_argument, NULL, 'e'},
                                         {"nodes", required_argument, NULL, 'n'},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"seconds", required_argument, NULL, 's'},
                                         {"name", required_argument, NULL, 'N'},
                                         {"region", required_argument, NULL, 'R'},
                                         {"sequence-start", required_argument, NULL, 'q'},
                                         {"started-at", required_argument, NULL, 't'},
                                         {"count", required_argument, NULL, 'C'},
                                         {"curve-client-cert", required_argument, NULL, 'c'},
                                         {"curve-server-key", required_argument, NULL, 'k'},
                                         {"acked", no_argument, NULL, 'A'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'e': a->endpoint = optarg; break;
        case 'n': a->nodes = (int)strtol(optarg, NULL, 10); break;
        case 'r': a->rate = strtod(optarg, NULL); break;
        case 's': a->seconds = (int)strtol(optarg, NULL, 10); break;
        case 'N': a->name = optarg; break;
        case 'R': sim_region = optarg; break;
        case 'q': a->sequence_start = strtoull(optarg, NULL, 10); break;
        case 't': a->started_at = strtoll(optarg, NULL, 10); break;
        case 'C': a->count = strtoull(optarg, NULL, 10); break;
        case 'c': a->client_cert = optarg; break;
        case 'k': a->server_key = optarg; break;
        case 'A': a->acked = 1; break;
        default: return -1;
        }
    }
    return a->endpoint && a->nodes >= 1 && a->seconds >= 1 ? 0 : -1;
}

static int sim_curve(zsock_t *sock, const sim_args_t *a)
{
    zcert_t *client = zcert_load(a->client_cert), *server = zcert_load(a->server_key);
    int rc = client && server ? 0 : -1;
    if (rc == 0) {
        zcert_apply(client, sock);
        zsock_set_curve_serverkey(sock, zcert_public_txt(server));
    }
    zcert_destroy(&client);
    zcert_destroy(&server);
    return rc;
}

/* ---- --acked: simulated collectors with the collector's own publisher ---- */

typedef struct {
    sim_node_t *sim;
    publish_t **pubs;
    col_config_t **cfgs;
    int nodes, next;
    uint64_t sent;
    int64_t start, end;
    double rate;
} sim_acked_t;

static int sim_acked_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    sim_acked_t *x = arg;
    int64_t now = clock_mono_us();
    if (now >= x->end)
        return -1;
    uint64_t due = (uint64_t)((double)(now - x->start) / 1e6 * x->rate);
    uint8_t buf[1024];
    for (; x->sent < due; x->sent++, x->next = (x->next + 1) % x->nodes) {
        sim_node_t *n = &x->sim[x->next];
        n->seq++;
        size_t len = sim_pack(n, x->next, buf, clock_wall_us());
        Pgvigil__Sample *s = pgvigil__sample__unpack(NULL, len, buf);
        if (s)
            publish_sample(x->pubs[x->next], s);
        pgvigil__sample__free_unpacked(s, NULL);
    }
    return 0;
}

static int sim_acked(const sim_args_t *a, sim_node_t *sim)
{
    sim_acked_t x = {.sim = sim, .nodes = a->nodes, .rate = a->rate > 0 ? a->rate : 1000};
    x.pubs = calloc((size_t)a->nodes, sizeof *x.pubs);
    x.cfgs = calloc((size_t)a->nodes, sizeof *x.cfgs);
    zloop_t *loop = zloop_new();
    char err[512], text[512];
    for (int i = 0; i < a->nodes && loop && x.pubs && x.cfgs; i++) {
        snprintf(text, sizeof text, "node: %s\nregion: eu-west\ndsn: unused\naggregators: [\"%s\"]\n"
                 "send_queue: 1000000\n", sim[i].name, a->endpoint);
        if (!(x.cfgs[i] = col_config_load_string("load", text, true, err, sizeof err)) ||
            !(x.pubs[i] = publish_new(x.cfgs[i], err, sizeof err)) ||
            publish_attach(x.pubs[i], loop, NULL, NULL) != 0) {
            fprintf(stderr, "could not start simulated collector %d: %s\n", i, err);
            return 1;
        }
    }
    x.start = clock_mono_us();
    x.end = x.start + (int64_t)a->seconds * 1000000;
    zloop_timer(loop, 5, 0, sim_acked_tick, &x);
    zloop_start(loop);
    for (int i = 0; i < a->nodes; i++) {
        uint64_t unacked = publish_drain(x.pubs[i], i == 0 ? 60000 : 5000);
        printf("node %s sent %" PRIu64 " unacked %" PRIu64 " dropped %" PRIu64 "\n", sim[i].name, sim[i].seq,
               unacked, publish_dropped(x.pubs[i]));
        publish_destroy(&x.pubs[i]);
        col_config_destroy(&x.cfgs[i]);
    }
    printf("sent %" PRIu64 " samples from %d simulated collectors\n", x.sent, a->nodes);
    zloop_destroy(&loop);
    free(x.pubs);
    free(x.cfgs);
    return 0;
}

int main(int argc, char **argv)
{
    sim_args_t a = {.nodes = 200, .seconds = 20, .sequence_start = 1};
    if (sim_parse(argc, argv, &a) != 0)
        return 2;
    int nodes = a.nodes;
    sim_node_t *sim = calloc((size_t)nodes, sizeof *sim);
    if (a.acked) {
        for (int i = 0; i < nodes; i++) {
            snprintf(sim[i].name, sizeof sim[i].name, "bench-%d", i);
            sim[i].started = clock_wall_us();
        }
        int rc = sim_acked(&a, sim);
        free(sim);
        return rc;
    }
    for (int i = 0; i < nodes; i++) {
        if (a.name && nodes == 1)
            snprintf(sim[i].name, sizeof sim[i].name, "%s", a.name);
        else
            snprintf(sim[i].name, sizeof sim[i].name, "bench-%d", i);
        envelope_t e = {.version = ENVELOPE_VERSION, .type = ENVELOPE_SAMPLE};
        snprintf(e.node, sizeof e.node, "%s", sim[i].name);
        sim[i].env_len = envelope_encode(&e, sim[i].env, sizeof sim[i].env);
        sim[i].sock = zsock_new(ZMQ_DEALER);
        zsock_set_sndhwm(sim[i].sock, 1000);
        if (a.client_cert && sim_curve(sim[i].sock, &a) != 0) {
            fprintf(stderr, "could not load the CURVE certificates\n");
            return 1;
        }
        zsock_connect(sim[i].sock, "%s", a.endpoint);
        sim[i].started = a.started_at ? a.started_at : clock_wall_us();
        sim[i].seq = a.sequence_start - 1;
    }
    zclock_sleep(500); /* let the connections come up */
    uint8_t buf[1024];
    uint64_t sent = 0;
    int64_t start = clock_mono_us(), end = start + (int64_t)a.seconds * 1000000;
    for (int i = 0; clock_mono_us() < end && !zsys_interrupted && (!a.count || sent < a.count);
         i = (i + 1) % nodes) {
        if (a.rate > 0) {
            int64_t due = start + (int64_t)((double)sent * 1e6 / a.rate);
            if (clock_mono_us() < due)
                zclock_sleep(1); /* ahead of schedule: yield the CPU */
        }
        sim[i].seq++;
        size_t len = sim_pack(&sim[i], i, buf, clock_wall_us());
        void *z = zsock_resolve(sim[i].sock);
        zmq_send(z, sim[i].env, sim[i].env_len, ZMQ_SNDMORE);
        zmq_send(z, buf, len, 0);
        sent++;
    }
    double elapsed = (double)(clock_mono_us() - start) / 1e6;
    printf("sent %" PRIu64 " samples in %.1f s (%.0f/s) from %d simulated collectors\n", sent, elapsed,
           (double)sent / elapsed, nodes);
    for (int i = 0; i < nodes; i++) {
        zsock_set_linger(sim[i].sock, 2000);
        zsock_destroy(&sim[i].sock);
    }
    free(sim);
    return 0;
}
