/*
 * cluster_probe.c — pgvigil-test-cluster-probe: the aggregator's coordination
 * actor (aggregator/cluster/) alone, driven over stdin and reporting on
 * stdout as JSON lines, so integration tests can check membership, leases,
 * epochs, Sentinel failover and fencing against real Redis and PostgreSQL
 * without a whole aggregator.
 *
 *   pgvigil-test-cluster-probe -c aggregator.yaml     (its cluster and storage sections)
 *
 * stdin, one command a line:
 *   observe ID | forget ID | publish ID JSON | route ID JSON
 *   claim ID WHAT        claim a once-only effect and mark it delivered
 *   claim-pending ID WHAT  claim it and never confirm (a crash after the claim)
 * stdout:
 *   {"status": {"state", "owned": {ID: epoch}, "owners": {ID: name},
 *               "members": N, "owned_count": N (every cluster, not only the
 *               first 256 observed), "fleet": {...}, "master": "host:port"},
 *    "t_ms": monotonic}                                              on change
 *   {"event": [frames...]}                                          each event
 *   {"claim": WHAT, "result": "go"|"done"|"fenced", "epoch": N}
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>
#include <jansson.h>

#include "agg_config.h"
#include "clock.h"
#include "cluster.h"
#include "cluster_once.h"
#include "log.h"
#include "store.h"

#define PROBE_MAX_IDS 256
#define PROBE_EVENTS "inproc://probe-events"

typedef struct {
    cluster_t *cluster;
    cluster_client_t *client;
    cluster_once_t *once;
    uint64_t ids[PROBE_MAX_IDS];
    size_t id_count;
    char *last_status;
} probe_t;

static void probe_print(json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(doc);
}

static void probe_status(probe_t *p)
{
    cluster_fence_t *f = cluster_fence(p->cluster);
    json_t *owned = json_object(), *owners = json_object();
    for (size_t i = 0; i < p->id_count; i++) {
        char id[24], owner[128];
        uint64_t epoch;
        snprintf(id, sizeof id, "%" PRIu64, p->ids[i]);
        if (cluster_owns(f, p->ids[i], &epoch))
            json_object_set_new(owned, id, json_integer((json_int_t)epoch));
        cluster_owner_of(f, p->ids[i], owner, sizeof owner);
        json_object_set_new(owners, id, json_string(owner));
    }
    char *metrics = cluster_fence_metrics(f);
    const char *m = metrics ? strstr(metrics, "\npgvigil_cluster_members ") : NULL;
    const char *held = metrics ? strstr(metrics, "\npgvigil_cluster_owned_clusters ") : NULL;
    char master[300];
    cluster_fence_master(f, master, sizeof master);
    json_t *st = json_pack("{s:s, s:o, s:o, s:i, s:i, s:o, s:s}", "state",
                           cluster_state_name(cluster_fence_state(f)), "owned", owned, "owners", owners,
                           "members", m ? (int)strtol(m + 25, NULL, 10) : 0,
                           "owned_count", held ? (int)strtol(held + 32, NULL, 10) : 0,
                           "fleet", cluster_fence_fleet(f), "master", master);
    free(metrics);
    char *text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
    if (text && (!p->last_status || strcmp(text, p->last_status) != 0)) {
        probe_print(json_pack("{s:O, s:I}", "status", st, "t_ms", (json_int_t)(clock_mono_us() / 1000)));
        free(p->last_status);
        p->last_status = text;
    } else {
        free(text);
    }
    json_decref(st);
}

static void probe_claim(probe_t *p, uint64_t id, const char *what, bool confirm)
{
    uint64_t epoch = 0;
    cluster_owns(cluster_fence(p->cluster), id, &epoch);
    cluster_once_result_t r = cluster_once_claim(p->once, id, epoch, what);
    if (r == CLUSTER_ONCE_GO && confirm)
        cluster_once_done(p->once, id, epoch, what);
    const char *name = r == CLUSTER_ONCE_GO ? "go" : r == CLUSTER_ONCE_DONE ? "done" : "fenced";
    probe_print(json_pack("{s:s, s:s, s:I}", "claim", what, "result", name, "epoch", (json_int_t)epoch));
}

static void probe_command(probe_t *p, char *line)
{
    char *sp1 = strchr(line, ' ');
    if (!sp1)
        return;
    *sp1 = '\0';
    char *idtext = sp1 + 1, *rest = strchr(idtext, ' ');
    if (rest)
        *rest++ = '\0';
    uint64_t id = strtoull(idtext, NULL, 10);
    if (streq(line, "observe")) {
        if (p->id_count < PROBE_MAX_IDS)
            p->ids[p->id_count++] = id;
        /* The client drops what the actor cannot queue (the core sends
         * again with its node's next sample); a script of thousands of
         * observes is said once, so wait for room instead. */
        for (int tries = 0; cluster_client_observe(p->client, id) != 0 && tries < 5000; tries++)
            zclock_sleep(1);
    } else if (streq(line, "forget")) {
        cluster_client_forget(p->client, id);
    } else if (streq(line, "publish") && rest) {
        cluster_client_publish(p->client, id, rest);
    } else if (streq(line, "route") && rest) {
        cluster_client_route(p->client, id, rest);
    } else if ((streq(line, "claim") || streq(line, "claim-pending")) && rest) {
        probe_claim(p, id, rest, streq(line, "claim"));
    }
}

static void probe_event(zsock_t *events)
{
    zmsg_t *m = zmsg_recv(events);
    json_t *frames = json_array();
    for (char *s = m ? zmsg_popstr(m) : NULL; s; s = zmsg_popstr(m)) {
        json_array_append_new(frames, json_string(s));
        free(s);
    }
    zmsg_destroy(&m);
    probe_print(json_pack("{s:o}", "event", frames));
}

static int probe_migrate(const char *dsn)
{
    char err[512];
    const char *sql_dir = getenv("PGVIGIL_SQL_DIR") ? getenv("PGVIGIL_SQL_DIR") : PGVIGIL_SQL_DIR;
    PGconn *c = PQconnectdb(dsn);
    int rc = PQstatus(c) == CONNECTION_OK ? store_migrate(c, sql_dir, err, sizeof err) : -1;
    if (rc != 0)
        fprintf(stderr, "probe: migrations failed: %s\n", PQstatus(c) == CONNECTION_OK ? err : PQerrorMessage(c));
    PQfinish(c);
    return rc;
}

int main(int argc, char **argv)
{
    char err[2048], line[8192];
    size_t used = 0;
    if (argc != 3 || strcmp(argv[1], "-c") != 0) {
        fprintf(stderr, "usage: pgvigil-test-cluster-probe -c FILE\n");
        return 2;
    }
    log_init("pgvigil-test-cluster-probe", LOG_LEVEL_INFO);
    setvbuf(stdout, NULL, _IOLBF, 0);
    agg_config_t *cfg = agg_config_load(argv[2], err, sizeof err);
    if (!cfg || !cfg->cluster.enabled) {
        fprintf(stderr, "probe: %s\n", cfg ? "no cluster section" : err);
        return 2;
    }
    if (cfg->storage_dsn && probe_migrate(cfg->storage_dsn) != 0)
        return 1;
    probe_t p = {0};
    zsock_t *events = zsock_new_pull("@" PROBE_EVENTS);
    p.cluster = events ? cluster_new(&cfg->cluster, cfg->storage_dsn, PROBE_EVENTS) : NULL;
    p.client = p.cluster ? cluster_client_new(p.cluster) : NULL;
    p.once = p.cluster ? cluster_once_new(&cfg->cluster, cluster_fence(p.cluster)) : NULL;
    if (!p.once)
        return 1;
    fprintf(stderr, "probe: started\n");
    while (!zsys_interrupted) {
        zmq_pollitem_t items[] = {{.fd = 0, .events = ZMQ_POLLIN},
                                  {.socket = zsock_resolve(events), .events = ZMQ_POLLIN}};
        if (zmq_poll(items, 2, 100) < 0)
            break;
        if (items[0].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) { /* POLLHUP at EOF */
            /* read(2), not stdio: a second buffered line would hide from poll */
            ssize_t n = read(0, line + used, sizeof line - 1 - used);
            if (n <= 0)
                break;
            used += (size_t)n;
            line[used] = '\0';
            char *start = line, *nl;
            while ((nl = strchr(start, '\n'))) {
                *nl = '\0';
                probe_command(&p, start);
                start = nl + 1;
            }
            used = strlen(start);
            memmove(line, start, used + 1);
            if (used == sizeof line - 1)
                used = 0; /* an overlong line: dropped */
        }
        if (items[1].revents & ZMQ_POLLIN)
            probe_event(events);
        probe_status(&p);
    }
    cluster_once_destroy(&p.once);
    cluster_client_destroy(&p.client);
    cluster_destroy(&p.cluster);
    zsock_destroy(&events);
    free(p.last_status);
    agg_config_destroy(&cfg);
    return 0;
}
