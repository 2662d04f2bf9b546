/*
 * agg_config.h — the aggregator's configuration (YAML, through common/config.h).
 *
 * Loaded at start by main.c and then read-only: every actor receives a
 * const pointer. SIGHUP loads a new one and hands it to the actors that can
 * apply it (main_reload); every configuration loaded stays alive until
 * exit, since modules keep pointers into it. Later capabilities (alert rules, regions, receivers, auth)
 * add their own members here and their own parse functions in agg_config.c.
 *
 *   listen:
 *     ingest: [tcp://0.0.0.0:7400]        # one or more ZeroMQ endpoints to bind
 *     http: 127.0.0.1:8080                # civetweb listening_ports syntax
 *   storage:                              # absent: no history is kept
 *     dsn: "host=... dbname=pgvigil"
 *     retention_days: 60                  # status transitions and events
 *     retention_raw_days: 2               # raw samples and replication lag
 *     retention_1m_days: 60               # 1-minute rollups
 *     retention_1h_days: 730              # 1-hour rollups
 *     rollup_interval: 1m                 # rollup passes over the new minutes
 *     partitions_ahead_days: 3
 *     spool_dir: /var/lib/pgvigil         # spool file while the database is away
 *     memory_rows: 200000                 # rows held in memory before spooling
 *     maintenance_interval: 1h            # partition creation and expiry
 *   curve:                                # absent: plain TCP, with a warning at start
 *     server_cert: /etc/pgvigil/aggregator.cert_secret
 *     allow_dir: /etc/pgvigil/collectors  # public certs of admitted collectors
 *   clusters:                             # optional display names
 *     - {system_identifier: "7301...", name: weddings-eu}
 *   stale_intervals: 3                    # silent for N of its intervals -> stale
 *   publish_interval: 100ms               # snapshot coalescing
 *   inbound_budget_mb: 64                 # memory for queued inbound samples
 *   log_level: info
 *   rules, regions, peak, escalation, receivers, delivery, flapping:
 *                                         # alerting, see alert_config.h
 *   auth, http:                           # API tokens, rate limits, TLS, see auth.h
 *   events:                               # fleet event detectors (fleet_events.c)
 *     slot_retained_bytes: 67108864       # an inactive slot retaining more is reported
 *     lag_degraded_seconds: 30            # a replica this far behind degrades its cluster
 *   cluster:                              # several aggregators through Redis, see cluster_config.h
 */
#ifndef PGVIGIL_AGG_CONFIG_H
#define PGVIGIL_AGG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert_config.h"
#include "auth.h"
#include "cluster_config.h"
#include "diag.h"

typedef struct {
    uint64_t system_identifier;
    char *name;
} agg_cluster_name_t;

typedef struct {
    uint64_t slot_retained_bytes;     /* default 64 MiB */
    double lag_degraded_seconds;      /* default 30 */
} agg_events_t;

typedef struct {
    char *path;                       /* the file it was loaded from */

    char **ingest_endpoints;          /* listen.ingest, >= 1 */
    size_t ingest_count;
    char *http_listen;                /* listen.http, e.g. "127.0.0.1:8080" */

    char *storage_dsn;                /* NULL: history disabled */
    uint32_t retention_days;          /* default 60 */
    uint32_t retention_raw_days;      /* default 2 */
    uint32_t retention_1m_days;       /* default 60 */
    uint32_t retention_1h_days;       /* default 730 */
    uint64_t rollup_interval_ms;      /* default 1 min */
    uint32_t partitions_ahead_days;   /* default 3 */
    char *spool_dir;                  /* default /var/lib/pgvigil */
    uint64_t memory_rows;             /* default 200000 */
    uint64_t maintenance_interval_ms; /* default 1 h */

    char *curve_server_cert;          /* secret cert file; NULL: plain TCP */
    char *curve_allow_dir;

    agg_cluster_name_t *cluster_names;
    size_t cluster_name_count;

    uint32_t stale_intervals;         /* default 3 */
    uint64_t publish_interval_ms;     /* default 100 */
    uint64_t inbound_budget_mb;       /* inbound queues (ingest.h); default 64 */
    int log_level;                    /* LOG_LEVEL_* from common/log.h */

    alert_config_t alerting;
    auth_config_t auth;               /* auth and http sections, see auth.h */
    diag_options_t diag;              /* diagnostics section, see diag.h */
    agg_events_t events;              /* events section */
    cluster_config_t cluster;         /* cluster section, see cluster_config.h */
} agg_config_t;

/* Load and validate path. On error returns NULL and writes a message naming
 * the file, the key and what was expected into err. */
agg_config_t *agg_config_load(const char *path, char *err, size_t errlen);
/* The same from YAML text (unit tests); name stands in for the file name. */
agg_config_t *agg_config_load_string(const char *name, const char *text, char *err, size_t errlen);
void agg_config_destroy(agg_config_t **self_p);

/* SIGHUP: the keys that differ between the running configuration a and the
 * new file b but cannot change without a restart (agg_reload.c), written to
 * out as a comma-separated list; returns how many. */
size_t agg_config_restart_only(const agg_config_t *a, const agg_config_t *b, char *out, size_t len);

/* The display name configured for a system identifier, or NULL. */
const char *agg_config_cluster_name(const agg_config_t *cfg, uint64_t system_identifier);

#endif
