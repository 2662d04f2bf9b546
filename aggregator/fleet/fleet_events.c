/*
 * fleet_events.c — the fleet's events: one detector per condition, each
 * reporting transitions only (never once per sample), its threshold in one
 * place (the `events` section of the configuration, agg_config.h), and one
 * recorder: a ring of the newest FLEET_EVENTS_MAX for the API, the log, and
 * a FLEET_NOTE_EVENT to the observers (the store writes the events table).
 *
 * State: the ring belongs to the fleet (fleet_internal.h); the detectors
 * read a node's view and its previous flags, which fleet.c keeps.
 * Failover, split brain and timeline changes are detected where the cluster's
 * primary is decided (fleet.c), because the detection is that decision.
 */
#include "fleet_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"

void fleet_event(fleet_t *self, uint64_t cluster_id, const fleet_node_t *n, const char *kind, const char *severity,
                 const char *fmt, ...)
{
    char msg[512], at[40], cluster[80];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int64_t now = clock_wall_us();
    clock_format_rfc3339(now, at, sizeof at);
    fleet_cluster_label(self, cluster_id, cluster, sizeof cluster);
    const char *node = n ? n->view.name : NULL;
    json_t *e = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s}", "at", at, "cluster", cluster, "node", node, "kind",
                          kind, "severity", severity, "message", msg);
    if (!e)
        return;
    json_decref(self->events[self->event_next]);
    self->events[self->event_next] = e;
    self->event_next = (self->event_next + 1) % FLEET_EVENTS_MAX;
    if (self->event_count < FLEET_EVENTS_MAX)
        self->event_count++;
    log_report(strcmp(severity, "info") == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING, NULL, NULL,
               "event %s on cluster %s: %s", kind, cluster, msg);
    fleet_event_t ev = {.cluster_id = cluster_id, .node = node, .kind = kind, .severity = severity, .message = msg};
    fleet_note_t note = {.kind = FLEET_NOTE_EVENT, .node = n ? &n->view : NULL, .at_us = now, .event = &ev};
    fleet_notify(self, &note);
}

void fleet_detect_restart(fleet_t *self, const fleet_node_t *n)
{
    fleet_event(self, n->view.cluster_id, n, "collector_restart", "info", "the collector of %s restarted",
                n->view.name);
}

/* Down, up again, reporting again after silence. */
void fleet_detect_liveness(fleet_t *self, const fleet_node_t *n, const Pgvigil__Sample *s, bool was_up,
                           bool was_stale)
{
    const node_view_t *v = &n->view;
    if (was_stale)
        fleet_event(self, v->cluster_id, n, "node_reporting", "info", "the collector of %s reports again", v->name);
    if (s->up && v->seen && !was_up)
        fleet_event(self, s->system_identifier, n, "node_up", "info", "%s is up again", v->name);
    if (!s->up && (was_up || !v->seen))
        fleet_event(self, v->cluster_id, n, "node_down", v->role == PGVIGIL__ROLE__ROLE_PRIMARY ? "critical" : "warning",
                    "%s is down: %s", v->name, s->error ? s->error : "no reason given");
}

/* Silent for stale_intervals of its interval: stale. True when n became stale. */
bool fleet_detect_stale(fleet_t *self, fleet_node_t *n, int64_t now_us)
{
    node_view_t *v = &n->view;
    int64_t limit = (int64_t)self->cfg->stale_intervals * (v->interval_ms ? v->interval_ms : 1000) * 1000;
    if (v->stale || now_us - v->last_seen_us <= limit)
        return false;
    v->stale = true;
    fleet_event(self, v->cluster_id, n, "node_stale", "warning", "no sample from the collector of %s for %.1f s",
                v->name, (double)(now_us - v->last_seen_us) / 1e6);
    return true;
}

void fleet_detect_replica(fleet_t *self, const fleet_cluster_t *c, const fleet_node_t *n, bool was_paused,
                          bool was_disconnected)
{
    const node_view_t *v = &n->view;
    if (v->replay_paused != was_paused)
        fleet_event(self, c->id, n, v->replay_paused ? "replay_paused" : "replay_resumed",
                    v->replay_paused ? "warning" : "info", "WAL replay on %s %s", v->name,
                    v->replay_paused ? "is paused" : "resumed");
    if (v->disconnected != was_disconnected)
        fleet_event(self, c->id, n, v->disconnected ? "replica_disconnected" : "replica_reconnected",
                    v->disconnected ? "warning" : "info", "%s %s", v->name,
                    v->disconnected ? "is not streaming from its upstream" : "streams again");
}

/* An inactive slot retaining more than events.slot_retained_bytes. */
void fleet_detect_slots(fleet_t *self, const fleet_cluster_t *c, fleet_node_t *n, const Pgvigil__Sample *s)
{
    if (!s->replication_slots)
        return;
    bool retaining = false;
    for (size_t i = 0; i < s->replication_slots->n_slots; i++) {
        const Pgvigil__ReplicationSlot *sl = s->replication_slots->slots[i];
        if (!sl->has_active || sl->active || sl->retained_bytes <= self->cfg->events.slot_retained_bytes)
            continue;
        retaining = true;
        if (!n->slot_retaining)
            fleet_event(self, c->id, n, "slot_inactive", "warning",
                        "replication slot %s on %s is inactive and retains %" PRIu64 " MB of WAL",
                        sl->slot_name ? sl->slot_name : "?", n->view.name, sl->retained_bytes >> 20);
    }
    n->slot_retaining = retaining;
}

/* A split brain ends when at most one live primary is left. */
bool fleet_detect_split_brain_end(fleet_t *self, fleet_cluster_t *c)
{
    if (!c->split_brain)
        return false;
    int primaries = 0;
    for (size_t i = 0; i < self->count; i++)
        primaries += fleet_is_live_primary(self->all[i], c->id);
    if (primaries > 1)
        return false;
    c->split_brain = false;
    self->split_brains--;
    fleet_event(self, c->id, NULL, "split_brain_resolved", "info", "only one primary accepts writes again");
    return true;
}
