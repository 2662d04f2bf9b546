/*
 * load_sim.h — the simulated fleet of pgvigil-ingest-load: clusters of one
 * primary and R replicas whose LSNs move with the clock, packed as the
 * samples a real collector would send.
 *
 * Node i belongs to cluster i / (R + 1); member 0 is the primary, the others
 * its replicas. Each cluster has its own system identifier, region, address
 * and WAL rate (a tenth of the clusters are idle: their primary writes no
 * WAL, so lag must read zero). The primary's pg_current_wal_lsn is
 * P(t) = base + rate * (t - t0); a replica's receive and replay positions are
 * P(t - receive delay) and P(t - replay delay), a few milliseconds for most,
 * tens of seconds for a few "lagging" clusters, so the worst nodes stand out.
 * Pure: no sockets, no clock reads (the caller passes the time).
 */
#ifndef PGVIGIL_LOAD_SIM_H
#define PGVIGIL_LOAD_SIM_H

#include <stddef.h>
#include <stdint.h>

#define LOAD_SIM_REPLICAS_MAX 15
#define LOAD_SIM_NAME_MAX 32

typedef struct {
    int nodes;             /* simulated instances */
    int replicas;          /* per cluster (0..LOAD_SIM_REPLICAS_MAX) */
    uint64_t wal_bytes_per_s; /* nominal WAL rate of a busy primary */
    int lagging_every;     /* every Nth cluster's replicas replay far behind (0: none) */
    uint32_t interval_ms;  /* the fast cadence the samples announce */
    int64_t started_at_us; /* wall clock of t0; also the collectors' start */
    int64_t collector_started_at_us; /* the collectors' start, if not t0 (0: t0) */
    const char *name;      /* the node's name when there is one node (NULL: bench-0) */
    const char *region;    /* every node's region, bytes as given (NULL: by cluster) */
} load_sim_config_t;

typedef struct {
    uint64_t sequence; /* last sequence sent, 0 before the first */
} load_sim_node_t;

/* Name of node i ("bench-<i>", as the aggregator will show it). */
void load_sim_node_name(int index, char *buf, size_t len);

/* The cluster node i belongs to, and whether it is the primary. */
int load_sim_cluster_of(const load_sim_config_t *cfg, int index);
int load_sim_is_primary(const load_sim_config_t *cfg, int index);

/* The primary's LSN of cluster c at wall time t_us. */
uint64_t load_sim_primary_lsn(const load_sim_config_t *cfg, int cluster, int64_t t_us);

/* Replay delay of replica `member` (1..R) of cluster c, µs. */
int64_t load_sim_replay_delay_us(const load_sim_config_t *cfg, int cluster, int member);

/* Pack node i's sample taken at wall time now_us (sequence from node->sequence,
 * which the caller advances) into buf (cap bytes). Returns the length, or 0
 * if it does not fit. */
size_t load_sim_pack(const load_sim_config_t *cfg, const load_sim_node_t *node, int index,
                     int64_t now_us, uint8_t *buf, size_t cap);

#endif
