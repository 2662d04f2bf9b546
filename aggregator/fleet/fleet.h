/*
 * fleet.h — the fleet as the core actor knows it: clusters (keyed by system
 * identifier) of nodes (keyed by name), each node with its latest sample,
 * clock offset, replication lag and sequence accounting, plus the events
 * detected on the way (failover, split brain, replica disconnected, replay
 * paused, inactive slot retaining WAL, node down/up/stale, collector restart).
 *
 * Owned and used by the core thread only.
 */
#ifndef PGVIGIL_FLEET_H
#define PGVIGIL_FLEET_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agg_config.h"
#include "lag.h"
#include "pgvigil.pb-c.h"
#include "store.h"

#define FLEET_NAME_MAX 64
#define FLEET_EVENTS_MAX 1000
/* An inactive slot holding back more than this is reported. */
#define FLEET_SLOT_RETAINED_MAX (64ull << 20)

typedef struct fleet fleet_t;
struct fleet_node;

fleet_t *fleet_new(const agg_config_t *cfg);
void fleet_destroy(fleet_t **self_p);

/* Rows for the history go through w (NULL: no history). */
void fleet_set_writer(fleet_t *self, store_writer_t *w);

/* Take ownership of a validated sample received at received_at_us
 * (aggregator clock). Returns true if the fleet changed. */
bool fleet_apply(fleet_t *self, Pgvigil__Sample *s, int64_t received_at_us);

/* Replication lag of a replica whose replay is paused, at now_us rather
 * than at its last sample: its replay position cannot move until replay is
 * resumed (which its next sample would show), so once the primary has
 * written past it the lag grows with the clock. NAN when not applicable. */
double fleet_paused_lag_now(const fleet_t *self, const struct fleet_node *n, int64_t now_us);

/* Mark nodes silent for stale_intervals of their interval as stale.
 * Returns true if anything changed. */
bool fleet_check_stale(fleet_t *self, int64_t now_us);

/* Build the JSON views (shapes in snapshot.h): clusters array, nodes object,
 * events array (newest first), Prometheus text, and the health counts. */
typedef struct {
    json_t *clusters, *nodes, *events;
    char *metrics_text;
    const char *status;
    uint32_t cluster_count, node_count, nodes_up, nodes_down, nodes_stale;
} fleet_view_t;
int fleet_view(fleet_t *self, int64_t now_us, fleet_view_t *out);

#endif
