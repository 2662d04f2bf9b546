/*
 * fleet_frags.h — the fleet's views for a snapshot, at the cost of what
 * changed.
 *
 * Each node keeps its last fragment (frag.h) and the node-view version it
 * was rendered from; each cluster keeps its fragment and its members. A
 * publish renders again only the nodes whose view version moved and the
 * clusters with such a member (or whose primary, timeline or split-brain
 * flag changed), then hands out sets that share every other fragment with
 * the previous snapshot: the rest costs one pointer and one reference per
 * node. Orders (nodes by name, clusters by id) are sorted again only when a
 * node or cluster appears.
 *
 * Owned and used by the core thread only; the sets it returns are immutable
 * and may go to any thread.
 */
#ifndef PGVIGIL_FLEET_FRAGS_H
#define PGVIGIL_FLEET_FRAGS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"
#include "frag.h"

typedef struct fleet_frags fleet_frags_t;

typedef struct {
    frag_set_t *nodes;    /* by name; the caller owns one reference */
    frag_set_t *clusters; /* by id; the caller owns one reference */
    json_t *events;       /* newest first (snapshot.h); the caller owns it */
    const char *status;   /* "ok" | "degraded" | "critical" | "empty" */
    uint32_t cluster_count, node_count, nodes_up, nodes_down, nodes_stale;
    size_t nodes_rendered, clusters_rendered; /* what this publish rendered again */
} fleet_frags_view_t;

fleet_frags_t *fleet_frags_new(fleet_t *fleet);
/* Before the fleet is destroyed: frees what it hung on nodes and clusters. */
void fleet_frags_destroy(fleet_frags_t **self_p);

int fleet_frags_publish(fleet_frags_t *self, fleet_frags_view_t *out);

#endif
