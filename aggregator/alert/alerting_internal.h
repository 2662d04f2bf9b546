/*
 * alerting_internal.h — the alerting engine's state, shared by the files of
 * the alerting module only (alerting*.c). The engine (alerting.c) owns every
 * node's alerts, the silences, the resolved list and the peak cache; the
 * other files act on them on the core thread through these helpers.
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

typedef struct {
    alert_instance_t sm;
    uint64_t id;              /* 0: no open alert */
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
    bool flap_noticed;
} al_alert_t;

typedef struct {
    char name[NODE_VIEW_NAME_MAX];
    uint64_t cluster_id;      /* from the node's last view; 0 before one */
    int64_t live_since_us;    /* up and reporting since; 0 while down or stale */
    al_alert_t *alerts;       /* one per rule */
} al_node_t;

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
    zlistx_t *silences;       /* al_silence_t */
    json_t *resolved;         /* most recent first */
    calendar_t *calendar;
    al_peak_t peaks[32];
    size_t npeaks;
    uint64_t last_id;
    int64_t started_us;
};

/* alerting.c */
uint64_t alerting_next_id(alerting_t *self);
al_node_t *alerting_node_state(alerting_t *self, const char *name);
bool alerting_in_peak(alerting_t *self, const char *region, int64_t now_us);

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
