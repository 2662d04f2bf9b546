/*
 * alerting.h — alert evaluation, escalation and silences (DESIGN 4.2, 4.3).
 * Owned by the core thread: it evaluates every rule on a node's view
 * (nodeview.h, read-only: the values come from the metric catalogue) when the
 * node's sample has been applied, and on every node on the core's timer (so
 * `for` durations, staleness and escalation tiers advance between samples).
 * Alerting owns its alerts, silences and peak cache; it never writes a view.
 *
 * Each (rule, node) runs the state machine of alert.h. An alert (with an id)
 * exists from pending to resolved; the id is the wall-clock microsecond of
 * its creation, kept unique and increasing, so ids survive restarts without
 * asking a database.
 *
 * Cost: a (rule, node) at rest holds no state of its own, an alert's
 * details exist while it is open, and the engine keeps an index of the open
 * alerts (alerting_internal.h). Evaluating a node costs its rules; the
 * tick, the views, the firing counts and the commands cost what is open,
 * whatever the size of the fleet.
 *
 * Peak: a node is "in peak" when its region's calendar (time zone from
 * regions, weekdays/dates/hours from peak) says so, or the events query
 * marked today a peak day. Then non-boolean thresholds use the peak factor
 * (alert.h: ">" thresholds multiply by it, "<" thresholds divide by it), the
 * alert carries peak: true, and escalation follows the peak tiers.
 *
 * Escalation: tier i is reached when the alert has been firing for its
 * `after` and is neither acknowledged, silenced, flapping nor in no data;
 * reaching it notifies its receivers (each receiver once per alert). A
 * severity change re-notifies the receivers already notified; acknowledge
 * stops the climb and tells them; resolve (automatic or by hand) sends a
 * resolution to every receiver that was notified; flapping sends one
 * "flapping" notice to the first tier instead of a storm.
 *
 * Everything durable leaves through the emit callback as JSON messages
 * (ownership passes): {"op":"alert","alert":{...}}, {"op":"event",...},
 * {"op":"notify",...}, {"op":"silence",...}, {"op":"silence_delete","id"}.
 */
#ifndef PGVIGIL_ALERTING_H
#define PGVIGIL_ALERTING_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agg_config.h"
#include "nodeview.h"

typedef struct alerting alerting_t;
typedef void(alerting_emit_fn)(void *arg, json_t *msg);

alerting_t *alerting_new(const agg_config_t *cfg, alerting_emit_fn *emit, void *arg);
/* With several aggregators, only the owner of a cluster escalates its
 * alerts: alerting_tick skips the nodes of clusters owns() says are not
 * ours (and nodes whose cluster is not known yet). */
typedef bool(alerting_owns_fn)(void *arg, uint64_t cluster_id);
void alerting_set_owner_filter(alerting_t *self, alerting_owns_fn *owns, void *arg);
/* Hand-over (alerting_restore.c): drop, without a word, the alert state of
 * nodes whose cluster the owner filter says is no longer ours (its owner
 * carries on); take over the open alerts a previous owner stored (the
 * "alerts" documents of one cluster), so nothing is announced again and
 * escalation continues from the tier reached. */
void alerting_forget_unowned(alerting_t *self);
void alerting_adopt(alerting_t *self, const json_t *alerts);
void alerting_destroy(alerting_t **self_p);
/* A new configuration (SIGHUP): alert state is kept by rule name, alerts of
 * removed rules are resolved, receivers are matched by name, silences are
 * kept, the peak calendar is rebuilt (alerting_reload.c). cfg must outlive
 * the engine. Returns 0, or -1 (out of memory: nothing changed). */
int alerting_reload(alerting_t *self, const agg_config_t *cfg, int64_t now_us);

/* Open alerts and silences loaded from the database at start (arrays of
 * the objects the emit messages carried). Restored alerts are not
 * announced again. */
void alerting_restore(alerting_t *self, const json_t *alerts, const json_t *silences);

/* Evaluate every rule on the node view n (after a sample, or on the timer).
 * Returns true if any alert changed. */
bool alerting_node(alerting_t *self, const node_view_t *n, int64_t now_us);
/* Escalation tiers, acknowledgement and silence expiry. Returns true if
 * anything changed. */
bool alerting_tick(alerting_t *self, int64_t now_us);

/* Operator commands (from the HTTP API, via the core):
 *   {"cmd":"acknowledge"|"resolve","id":N,"by":"...","comment":"...","expires_in":"30m"}
 *   {"cmd":"silence_add","matchers":[{"name","value","regex":bool}],"starts_at","ends_at",
 *    "comment","by"}
 *   {"cmd":"silence_delete","id":N}
 * Returns the HTTP status and sets *reply (an object: the alert, the
 * silence, or {"error":{"code","message"}}). */
int alerting_command(alerting_t *self, const json_t *cmd, int64_t now_us, json_t **reply);

/* The events query says today is a peak day: today's local date becomes a
 * peak date in every configured region's zone (and UTC). */
void alerting_events_peak(alerting_t *self, int64_t now_us);

/* For the snapshot: {"alerts":[...open, then recently resolved...],
 * "silences":[...active and pending...]} and the firing counts. The open
 * alerts come by node name, then in the rules' order; the resolved ones
 * newest first. A new reference, never changed afterwards. The view costs
 * its size: with ALERTING_VIEW_MANY or more alerts open (a fleet-wide
 * outage), the same view is returned for up to ALERTING_VIEW_MANY_US. */
#define ALERTING_VIEW_MANY 1000
#define ALERTING_VIEW_MANY_US 1000000LL
json_t *alerting_view(alerting_t *self, int64_t now_us);
/* The last alerting_view was the kept one: ask again within a second (the
 * caller publishes again), or what changed meanwhile is never shown. */
bool alerting_view_reused(const alerting_t *self);
void alerting_firing_counts(const alerting_t *self, unsigned *warning, unsigned *critical);
/* Regions currently in peak: ["eu-west", ...]. */
json_t *alerting_peak_regions(alerting_t *self, int64_t now_us);

#endif
