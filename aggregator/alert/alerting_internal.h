/*
 * alerting_internal.h — the alerting engine's state, shared by the files of
 * the alerting module only (alerting*.c). The engine (alerting.c) owns every
 * node's alerts, the silences, the resolved list and the peak cache; the
 * other files act on them on the core thread through these helpers.
 *
 * What a node costs follows what is open, not the rule count (issue 12):
 *   al_node_t   one per node seen (the nodes hash); one al_slot_t per rule.
 *   al_slot_t   a (node, rule). At rest (live NULL) its state machine is
 *               where alert_init leaves it, in state `rest` (inactive, or
 *               resolved after a close): nothing else to remember.
 *   al_live_t   a (node, rule) away from rest: its state machine (alert.h)
 *               and, while an alert is open, that alert. Allocated when a
 *               value first breaches (or an alert is restored), freed by
 *               alerting_settle once it is back at rest: no open alert, not
 *               flapping, no firing/resolved change within the flap window.
 *   al_alert_t  an open alert (it has an id): pending, firing, in no data,
 *               until it closes. Allocated by alerting_open (evaluation,
 *               restore, adopt), freed by alerting_close (after its last
 *               JSON went to the resolved list) or alerting_slot_clear.
 * Every open alert is in the engine's index (open[], by node name, then
 * rule): tick, the views, the firing counts and the commands walk it, so
 * they cost what is open (alerting_index.c keeps it).
 */
#ifndef PGVIGIL_ALERTING_INTERNAL_H
#define PGVIGIL_ALERTING_INTERNAL_H

#include <czmq.h>
#include <regex.h>

#include "alert.h"
#include "alerting.h"
#include "calendar.h"

#define AL_RESOLVED_KEPT 200
#define AL_TEXT 256
/* After the aggregator starts, missing values are not "no data" yet: the
 * primary's LSN ring and the slow sections need a few rounds to fill. */
#define AL_START_GRACE_US 10000000LL

typedef struct al_node al_node_t;
typedef struct al_live al_live_t;

typedef struct {
    al_live_t *live;          /* its (node, rule): live->sm is the state machine */
    al_node_t *an;            /* its node */
    uint64_t id;              /* never 0 */
    uint64_t cluster_id;      /* the node's system identifier when described */
    int rule;
    char node[NODE_VIEW_NAME_MAX], cluster[NODE_VIEW_NAME_MAX], region[NODE_VIEW_NAME_MAX];
    const char *role;
    double value, threshold;
    bool acked, peak;
    int64_t ack_at_us, ack_expires_us, started_us, firing_us;
    char ack_by[64], ack_comment[AL_TEXT], summary[AL_TEXT];
    int tier;                 /* tiers reached */
    uint64_t notified;        /* receivers notified, bit per receiver */
} al_alert_t;

struct al_live {
    alert_instance_t sm;
    bool flap_noticed;        /* the "flapping" notice went out (outlives each alert) */
    al_alert_t *open;         /* NULL: no open alert */
};

typedef struct {
    al_live_t *live;          /* NULL: at rest */
    uint8_t rest;             /* at rest: ALERT_INACTIVE or ALERT_RESOLVED */
} al_slot_t;

struct al_node {
    char name[NODE_VIEW_NAME_MAX];
    uint64_t cluster_id;      /* from the node's last view; 0 before one */
    int64_t live_since_us;    /* up and reporting since; 0 while down or stale */
    al_slot_t *slots;         /* one per rule */
};

typedef struct {
    char name[64], value[AL_TEXT];
    bool regex;
    regex_t re;
} al_matcher_t;

typedef struct {
    uint64_t id;
    al_matcher_t *m;
    size_t nm;
    int64_t starts_us, ends_us, created_us;
    char comment[AL_TEXT], by[64];
} al_silence_t;

typedef struct {
    char region[NODE_VIEW_NAME_MAX];
    bool peak;
    int64_t at_us;
} al_peak_t;

struct alerting {
    const agg_config_t *cfg;
    const alert_config_t *ac;
    alerting_emit_fn *emit;
    void *arg;
    alerting_owns_fn *owns;   /* NULL: every cluster is ours */
    void *owns_arg;
    zhashx_t *nodes;          /* name -> al_node_t */
    al_alert_t **open;        /* the open alerts, by node name then rule */
    size_t nopen, open_max;
    zlistx_t *silences;       /* al_silence_t */
    json_t *resolved;         /* most recent first */
    calendar_t *calendar;
    al_peak_t peaks[32];
    size_t npeaks;
    uint64_t last_id;
    int64_t started_us;
    json_t *view;             /* the last alerting_view, shared with snapshots (never changed) */
    int64_t view_at_us;
    bool view_reused;         /* the last alerting_view returned the kept one */
};

/* alerting.c */
uint64_t alerting_next_id(alerting_t *self);
al_node_t *alerting_node_state(alerting_t *self, const char *name);
bool alerting_in_peak(alerting_t *self, const char *region, int64_t now_us);

/* alerting_index.c */
al_live_t *alerting_live(al_slot_t *slot);
void alerting_settle(al_slot_t *slot, const alert_params_t *p, int64_t now_us);
al_alert_t *alerting_open(alerting_t *self, al_node_t *an, int rule, uint64_t id);
void alerting_unlist(alerting_t *self, al_alert_t *a);
void alerting_slot_clear(alerting_t *self, al_slot_t *slot);
al_alert_t *alerting_find(const alerting_t *self, uint64_t id);
void alerting_index_sort(alerting_t *self);

/* alerting_emit.c */
void alerting_summary(const alerting_t *self, al_alert_t *a);
json_t *alerting_labels(const alerting_t *self, const al_alert_t *a);
json_t *alerting_json(const alerting_t *self, const al_alert_t *a, const char *state);
void alerting_emit_alert(alerting_t *self, const al_alert_t *a, const char *state);
void alerting_emit_event(alerting_t *self, const al_alert_t *a, const char *from, const char *to,
                         const char *detail, int64_t now_us);
void alerting_notify(alerting_t *self, al_alert_t *a, int receiver, const char *kind, int64_t now_us);
void alerting_notify_notified(alerting_t *self, al_alert_t *a, const char *kind, int64_t now_us);
void alerting_keep_resolved(alerting_t *self, json_t *j);
void alerting_close(alerting_t *self, al_alert_t *a, const char *state, int64_t now_us);

/* alerting_silence.c */
void alerting_silence_free(void **item);
bool alerting_silenced(const alerting_t *self, const al_alert_t *a, int64_t now_us);
int alerting_silence_from(alerting_t *self, const json_t *j, int64_t now_us, al_silence_t **out, char *err,
                          size_t errlen);
json_t *alerting_silence_json(const al_silence_t *s);
int alerting_silence_command(alerting_t *self, const json_t *cmd, const char *what, int64_t now_us, json_t **reply);

/* alerting_command.c */
const char *alerting_text(const json_t *cmd, const char *key, const char *def);

#endif
