/*
 * cluster_config.h — the `cluster` section of the aggregator's configuration:
 * how this aggregator finds Redis and the others.
 *
 *   cluster:                        # absent: a single aggregator, no Redis
 *     name: agg-eu-1                # this aggregator, unique among its peers
 *     redis:
 *       address: 127.0.0.1:6379     # a single Redis, or:
 *       sentinels: [10.0.0.1:26379, 10.0.0.2:26379, 10.0.0.3:26379]
 *       master_name: pgvigil        # with sentinels
 *       password: secret            # optional (AUTH)
 *       database: 0                 # optional (SELECT)
 *       timeout: 500ms              # connect and command timeout
 *     lease_ttl: 5s                 # membership lease; heartbeat every third
 *     publish_interval: 1s          # this aggregator's view in Redis
 *
 * Parsed by cluster_config_parse() from agg_config.c; errors name the file,
 * the line and the key. The result is read-only after start.
 */
#ifndef PGVIGIL_CLUSTER_CONFIG_H
#define PGVIGIL_CLUSTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CLUSTER_NAME_MAX 64
#define CLUSTER_HOST_MAX 256

typedef struct {
    char host[CLUSTER_HOST_MAX];
    int port;
} cluster_addr_t;

typedef struct {
    bool enabled;                  /* the section is present */
    char name[CLUSTER_NAME_MAX + 1];
    cluster_addr_t redis;          /* single Redis (sentinel_count == 0) */
    cluster_addr_t *sentinels;
    size_t sentinel_count;
    char *master_name;             /* with sentinels */
    char *password;                /* NULL: no AUTH */
    uint32_t database;
    uint64_t timeout_ms;           /* default 500 */
    uint64_t lease_ttl_ms;         /* default 5000 */
    uint64_t publish_interval_ms;  /* default 1000 */
} cluster_config_t;

/* Defaults of a disabled section (what cluster_config_parse starts from). */
void cluster_config_default(cluster_config_t *c);

/* Read root's "cluster" mapping into c (left disabled when absent).
 * Returns 0, or -1 with the error recorded in cfg. */
int cluster_config_parse(config_t *cfg, const config_node_t *root, cluster_config_t *c);

void cluster_config_free(cluster_config_t *c);

/* "host:port" (host a name, IPv4, or [IPv6]) -> out. 0, or -1 if malformed. */
int cluster_addr_parse(const char *text, cluster_addr_t *out);

/* A valid member name: 1..64 of [A-Za-z0-9._-]. */
bool cluster_name_valid(const char *name);

#endif
