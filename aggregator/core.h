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

#include "agg_config.h"
#include "snapshot.h"
#include "store.h"

#define CORE_SAMPLES_ENDPOINT "inproc://pgvigil-core-samples"

typedef struct core core_t;

/* store may be NULL (no history). The core binds CORE_SAMPLES_ENDPOINT before core_new returns, so ingest
 * may connect right after. */
core_t *core_new(const agg_config_t *cfg, snapshot_holder_t *snapshots, store_t *store);
void core_destroy(core_t **self_p);

#endif
