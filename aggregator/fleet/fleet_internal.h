/*
 * fleet_internal.h — the fleet's private state, for the files of the fleet
 * module only (fleet.c updates it, fleet_events.c detects and records events,
 * fleet_view.c renders the views). Nothing outside fleet/ includes this:
 * other modules read node views (nodeview.h) through fleet.h.
 */
#ifndef PGVIGIL_FLEET_INTERNAL_H
#define PGVIGIL_FLEET_INTERNAL_H

#include <czmq.h>
#include <stdarg.h>

#include "fleet.h"
#include "frag.h"
#include "metric.h"

struct fleet_frag_node;    /* fleet_frags.c: the node's cached fragment */
struct fleet_frag_cluster; /* fleet_frags.c: the cluster's cached fragment and members */
struct fleet_cluster;

typedef struct fleet_node {
    node_view_t view;       /* what every reader sees */
    struct fleet_frag_node *frag; /* owned by the fleet_frags_t that set it */
    struct fleet_cluster *cluster; /* view.cluster_id's (clusters live as long as the fleet); NULL before */
    metric_state_t metrics; /* counter totals behind the view's rates */
    lag_offset_t offset;
    uint64_t last_seq;
    int64_t started_at_us;
    Pgvigil__Sample *latest;  /* view.latest points here; owned through shared when set */
    frag_sample_t *shared;    /* latest, shared with the node's fragments (NULL: latest is owned alone) */
    lag_result_t sample_lag;  /* the lag at the last sample's time */
    lag_observation_t lag_obs; /* the replica's positions behind it */
    bool lag_row_pending;     /* sample_lag estimated: its row waits for the revision */
    bool replay_stuck;        /* behind, and replay did not move since the previous sample */
    int64_t fast_since_us;    /* paused, cut off or stuck since (0: not): FLEET_FAST_* */
    bool slot_retaining;      /* an inactive slot retains more than the threshold */
    int64_t backup_verified_us; /* the last verification seen */
} fleet_node_t;

#define FLEET_REVISE_MAX 32
/* A primary's still spell (fleet_still_spell) ends at most this long
 * before its reading; an older start is taken as this long before. */
#define FLEET_STILL_MAX_US (3600LL * 1000000)

typedef struct fleet_cluster {
    uint64_t id;
    char primary[FLEET_NAME_MAX];
    uint32_t timeline;
    bool split_brain;
    bool has_owner;             /* several aggregators: "owner" is shown */
    char owner[FLEET_NAME_MAX]; /* the aggregator owning it ("" unknown) */
    lag_ring_t ring;
    /* Replicas whose lag extrapolated the primary's position: the next
     * primary point revises them. */
    struct fleet_node *revise[FLEET_REVISE_MAX];
    size_t n_revise;
    int64_t fast_asked_us;      /* fast rounds last asked of the primary (FLEET_FAST_*) */
    struct fleet_frag_cluster *frag; /* owned by the fleet_frags_t that set it */
} fleet_cluster_t;

struct fleet {
    const agg_config_t *cfg;
    zhashx_t *nodes;    /* name -> fleet_node_t */
    fleet_node_t **all; /* every node in arrival order (never removed): walks */
    size_t count, cap;
    size_t tick_next;   /* where the next tick's slice of all starts */
    zhashx_t *clusters; /* decimal id -> fleet_cluster_t */
    size_t split_brains; /* clusters with split_brain set: the tick walks clusters only then */
    struct {
        fleet_observer_fn *fn;
        void *arg;
    } observers[FLEET_OBSERVERS_MAX];
    json_t *events[FLEET_EVENTS_MAX];
    size_t event_next, event_count;
};

/* fleet.c */
void fleet_notify(fleet_t *self, const fleet_note_t *note);
void fleet_cluster_label(const fleet_t *self, uint64_t id, char *buf, size_t len);
bool fleet_is_live_primary(const fleet_node_t *n, uint64_t cluster_id);

/* fleet_view.c: one node's or one cluster's fragment (frag.h; members: the
 * cluster's node views and fragments in name order; nothing rendered yet),
 * and the Prometheus family headers. */
typedef struct {
    char *data;
    size_t len, cap;
} fleet_buf_t; /* a growing text buffer */
frag_t *fleet_view_node_frag(const node_view_t *v, frag_sample_t *latest);
frag_t *fleet_view_cluster_frag(const fleet_t *self, const fleet_cluster_t *c, const node_view_t **members,
                                frag_t *const *member_frags, size_t k);
const char *const *fleet_view_families(size_t *count);

/* fleet_events.c: record an event (ring, log, observers). */
__attribute__((format(printf, 6, 7))) void fleet_event(fleet_t *self, uint64_t cluster_id, const fleet_node_t *n,
                                                       const char *kind, const char *severity, const char *fmt, ...);
/* The detectors: each condition once, each reported on its transitions. */
void fleet_detect_restart(fleet_t *self, const fleet_node_t *n);
void fleet_detect_liveness(fleet_t *self, const fleet_node_t *n, const Pgvigil__Sample *s, bool was_up,
                           bool was_stale);
bool fleet_detect_stale(fleet_t *self, fleet_node_t *n, int64_t now_us);
void fleet_detect_replica(fleet_t *self, const fleet_cluster_t *c, const fleet_node_t *n, bool was_paused,
                          bool was_disconnected);
void fleet_detect_slots(fleet_t *self, const fleet_cluster_t *c, fleet_node_t *n, const Pgvigil__Sample *s);
bool fleet_detect_split_brain_end(fleet_t *self, fleet_cluster_t *c);

#endif
