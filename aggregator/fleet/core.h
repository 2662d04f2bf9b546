/*
 * core.h — the core actor: owner of the fleet.
 *
 * Binds an inproc PULL for samples from ingest (see ingest.h for the message),
 * keeps clusters -> nodes with their latest sample and short rings, computes
 * replication lag (lag.h), detects events (failover, split brain, replica
 * disconnected, replay paused, slot inactive and retaining WAL, stale
 * collectors), counts per-collector sequence gaps, duplicates and restarts,
 * hands history rows to the store (when there is one) and publishes snapshots.
 */
#ifndef PGVIGIL_CORE_H
#define PGVIGIL_CORE_H

#include <jansson.h>

#include "agg_config.h"
#include "cluster.h"
#include "snapshot.h"
#include "store.h"

#define CORE_SAMPLES_ENDPOINT "inproc://pgvigil-core-samples"
/* REP socket for operator commands (alerting_command): the request is the
 * command as JSON text; the reply is {"status":N,"body":{...}}. The core
 * publishes a new snapshot before it replies, so a following GET sees the
 * change. */
#define CORE_COMMANDS_ENDPOINT "inproc://pgvigil-core-commands"

typedef struct core core_t;

/* store may be NULL (no history). The core binds CORE_SAMPLES_ENDPOINT and
 * CORE_COMMANDS_ENDPOINT before core_new returns, so ingest and HTTP may
 * connect right after, and hands alerting's durable messages to
 * NOTIFY_ENDPOINT (notify.h, bound before). restored_alerts and
 * restored_silences (may be NULL) come from notify_load_state().
 * cluster (NULL: a lone aggregator) is the coordination actor: the core
 * tells it which clusters it hears, and evaluates alerts, writes history and
 * emits notifications only for the clusters it owns (core_cluster.c). */
core_t *core_new(const agg_config_t *cfg, snapshot_holder_t *snapshots, store_t *store,
                 const json_t *restored_alerts, const json_t *restored_silences, cluster_t *cluster);
/* Shutdown begins: stop judging staleness and alerts (collectors fall
 * silent because ingest stops, not because they failed). Blocks until the
 * core has taken it. */
void core_quiesce(core_t *self);
/* SIGHUP: hand the core a new configuration (alert rules, escalation, peak
 * calendar, display names); alert and fleet state are kept. cfg must stay
 * alive until exit. Blocks until the core has swapped it in. */
int core_reload_config(core_t *self, const agg_config_t *cfg);

/* Send one command and wait up to timeout_ms for the reply (any thread).
 * Returns the HTTP status (503 if the core did not answer) and *body. */
int core_command(const json_t *cmd, int timeout_ms, json_t **body);
/* The body of a refused command, in the API's one error shape:
 * {"error":{"code","message"}}. */
__attribute__((format(printf, 2, 3))) json_t *core_error(const char *code, const char *fmt, ...);
void core_destroy(core_t **self_p);

#endif
