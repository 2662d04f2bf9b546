/*
 * load_sim.c — the simulated fleet of pgvigil-ingest-load (see load_sim.h).
 */
#include "load_sim.h"

#include <stdbool.h>
#include <stdio.h>

#include "pgvigil.pb-c.h"

#define LOAD_SIM_PORT 5432

static const char *const load_sim_regions[] = {"eu-west", "us-east", "eu-central", "ap-south"};

void load_sim_node_name(int index, char *buf, size_t len) { snprintf(buf, len, "bench-%d", index); }

int load_sim_cluster_of(const load_sim_config_t *cfg, int index) { return index / (cfg->replicas + 1); }

int load_sim_is_primary(const load_sim_config_t *cfg, int index) { return index % (cfg->replicas + 1) == 0; }

static uint64_t load_sim_wal_rate(const load_sim_config_t *cfg, int cluster)
{
    if (cluster % 10 == 9)
        return 0; /* idle primary: lag must read zero, not grow */
    return cfg->wal_bytes_per_s * (uint64_t)(1 + cluster % 7) / 4;
}

uint64_t load_sim_primary_lsn(const load_sim_config_t *cfg, int cluster, int64_t t_us)
{
    uint64_t base = (uint64_t)(cluster + 1) << 32;
    int64_t dt_us = t_us - cfg->started_at_us;
    if (dt_us <= 0)
        return base;
    return base + load_sim_wal_rate(cfg, cluster) * (uint64_t)dt_us / 1000000u;
}

static int64_t load_sim_receive_delay_us(int member) { return 5000 + 3000 * (int64_t)member; }

int64_t load_sim_replay_delay_us(const load_sim_config_t *cfg, int cluster, int member)
{
    if (cfg->lagging_every > 0 && cluster % cfg->lagging_every == 1)
        return (20 + (int64_t)(cluster % 40)) * 1000000 + 1000 * (int64_t)member;
    return 20000 + 10000 * (int64_t)member;
}

static void load_sim_address(int cluster, int member, char *buf, size_t len)
{
    snprintf(buf, len, "10.%u.%u.%u", (unsigned)(cluster >> 8) & 255u, (unsigned)cluster & 255u,
             (unsigned)(member + 1) & 255u);
}

/* Strings a sample points to while it is packed. */
typedef struct {
    char name[LOAD_SIM_NAME_MAX];
    char address[24];
    char upstream[24];
    char standby_names[LOAD_SIM_REPLICAS_MAX][LOAD_SIM_NAME_MAX];
    char standby_addrs[LOAD_SIM_REPLICAS_MAX][24];
} load_sim_text_t;

/* The primary's pg_stat_replication rows (one per replica that exists: the
 * last cluster may be short). Returns how many. */
static size_t load_sim_standbys(const load_sim_config_t *cfg, int index, int64_t now_us, Pgvigil__Standby *sb,
                                Pgvigil__Standby **sbs, load_sim_text_t *text)
{
    int cluster = load_sim_cluster_of(cfg, index);
    int members = cfg->replicas < cfg->nodes - 1 - index ? cfg->replicas : cfg->nodes - 1 - index;
    for (int m = 1; m <= members; m++) {
        Pgvigil__Standby *b = &sb[m - 1];
        int64_t replay_delay = load_sim_replay_delay_us(cfg, cluster, m);
        uint64_t received = load_sim_primary_lsn(cfg, cluster, now_us - load_sim_receive_delay_us(m));
        pgvigil__standby__init(b);
        load_sim_node_name(index + m, text->standby_names[m - 1], LOAD_SIM_NAME_MAX);
        load_sim_address(cluster, m, text->standby_addrs[m - 1], sizeof text->standby_addrs[0]);
        b->application_name = text->standby_names[m - 1];
        b->client_addr = text->standby_addrs[m - 1];
        b->state = "streaming";
        b->sync_state = "async";
        b->has_sent_lsn = b->has_write_lsn = b->has_flush_lsn = b->has_replay_lsn = 1;
        b->sent_lsn = b->write_lsn = b->flush_lsn = received;
        b->replay_lsn = load_sim_primary_lsn(cfg, cluster, now_us - replay_delay);
        b->has_replay_lag_us = b->has_reply_time_us = 1;
        b->replay_lag_us = replay_delay;
        b->reply_time_us = now_us - 10000;
        sbs[m - 1] = b;
    }
    return members > 0 ? (size_t)members : 0;
}

static void load_sim_replica(const load_sim_config_t *cfg, int index, int64_t now_us, Pgvigil__ReplicaReplication *rr,
                             load_sim_text_t *text)
{
    int cluster = load_sim_cluster_of(cfg, index), member = index % (cfg->replicas + 1);
    int64_t receive_delay = load_sim_receive_delay_us(member);
    int64_t replay_delay = load_sim_replay_delay_us(cfg, cluster, member);
    rr->has_receive_lsn = rr->has_replay_lsn = rr->has_replay_paused = 1;
    rr->receive_lsn = load_sim_primary_lsn(cfg, cluster, now_us - receive_delay);
    rr->replay_lsn = load_sim_primary_lsn(cfg, cluster, now_us - replay_delay);
    rr->has_flushed_lsn = rr->has_latest_end_lsn = 1;
    rr->flushed_lsn = rr->latest_end_lsn = rr->receive_lsn;
    rr->has_last_msg_receipt_at_us = rr->has_latest_end_at_us = rr->has_last_xact_replay_at_us = 1;
    rr->last_msg_receipt_at_us = rr->latest_end_at_us = now_us - receive_delay;
    rr->last_xact_replay_at_us = now_us - replay_delay;
    rr->wal_receiver_status = "streaming";
    load_sim_address(cluster, 0, text->upstream, sizeof text->upstream);
    rr->upstream_host = text->upstream;
    rr->has_upstream_port = 1;
    rr->upstream_port = LOAD_SIM_PORT;
}

static void load_sim_identity(const load_sim_config_t *cfg, const load_sim_node_t *node, int index, int64_t now_us,
                              Pgvigil__Sample *s, load_sim_text_t *text)
{
    int cluster = load_sim_cluster_of(cfg, index);
    s->has_format_version = s->has_system_identifier = s->has_timeline = s->has_role = 1;
    s->has_sequence = s->has_collected_at_us = s->has_up = s->has_interval_ms = 1;
    s->has_collector_started_at_us = s->has_server_version = s->has_server_port = 1;
    s->format_version = 1;
    load_sim_node_name(index, text->name, sizeof text->name);
    s->node = cfg->name && cfg->nodes == 1 ? (char *)cfg->name : text->name;
    s->region = cfg->region ? (char *)cfg->region : (char *)load_sim_regions[cluster % 4];
    s->system_identifier = 7300000000000000000ull + (uint64_t)cluster;
    s->timeline = 1;
    s->server_version = 150018;
    s->role = load_sim_is_primary(cfg, index) ? PGVIGIL__ROLE__ROLE_PRIMARY : PGVIGIL__ROLE__ROLE_REPLICA;
    s->collector_version = "bench";
    s->sequence = node->sequence;
    s->collected_at_us = now_us;
    s->collector_started_at_us = cfg->collector_started_at_us ? cfg->collector_started_at_us : cfg->started_at_us;
    s->up = 1;
    s->interval_ms = cfg->interval_ms;
    load_sim_address(cluster, index % (cfg->replicas + 1), text->address, sizeof text->address);
    s->server_address = text->address;
    s->server_port = LOAD_SIM_PORT;
}

size_t load_sim_pack(const load_sim_config_t *cfg, const load_sim_node_t *node, int index, int64_t now_us,
                     uint8_t *buf, size_t cap)
{
    Pgvigil__Sample s = PGVIGIL__SAMPLE__INIT;
    Pgvigil__Probe probe = PGVIGIL__PROBE__INIT;
    Pgvigil__Connections conn = PGVIGIL__CONNECTIONS__INIT;
    Pgvigil__PrimaryReplication pr = PGVIGIL__PRIMARY_REPLICATION__INIT;
    Pgvigil__ReplicaReplication rr = PGVIGIL__REPLICA_REPLICATION__INIT;
    Pgvigil__Standby sb[LOAD_SIM_REPLICAS_MAX], *sbs[LOAD_SIM_REPLICAS_MAX];
    load_sim_text_t text;
    load_sim_identity(cfg, node, index, now_us, &s, &text);
    probe.has_ok = probe.has_rtt_us = 1;
    probe.ok = 1;
    probe.rtt_us = 200 + (uint64_t)(index % 300);
    s.probe = &probe;
    conn.has_total = conn.has_active = conn.has_idle = conn.has_max_connections = 1;
    conn.total = 20 + (uint32_t)(index % 50);
    conn.active = 1 + (uint32_t)(index % 5);
    conn.idle = conn.total - conn.active;
    conn.max_connections = 200;
    s.connections = &conn;
    if (load_sim_is_primary(cfg, index)) {
        pr.has_current_wal_lsn = 1;
        pr.current_wal_lsn = load_sim_primary_lsn(cfg, load_sim_cluster_of(cfg, index), now_us);
        pr.n_standbys = load_sim_standbys(cfg, index, now_us, sb, sbs, &text);
        pr.standbys = sbs;
        s.primary_replication = &pr;
    } else {
        load_sim_replica(cfg, index, now_us, &rr, &text);
        s.replica_replication = &rr;
    }
    if (pgvigil__sample__get_packed_size(&s) > cap)
        return 0;
    return pgvigil__sample__pack(&s, buf);
}
