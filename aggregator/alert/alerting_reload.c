/*
 * alerting_reload.c — a new configuration for a running alerting engine
 * (SIGHUP, via the core's pipe; core thread only).
 *
 * Alert state is keyed by rule name: a rule kept by name keeps every node's
 * alert (id, state machine, acknowledgement, tiers reached, receivers
 * notified) and is judged against its new thresholds from the next
 * evaluation on. An open alert of a removed rule is resolved, with the
 * reason in its event, and its notified receivers are told. Receivers are
 * matched by name too (the notified mask is per receiver index). Silences
 * (all made through the API) are kept as they are; the peak calendar is
 * rebuilt from the new file. Each node's slots (alerting_internal.h) move to
 * an array for the new rules; the open alerts' index is re-sorted, as the
 * rule order may have changed. The old configuration is not freed here: the
 * caller keeps every loaded configuration alive until exit.
 */
#include "alerting.h"

#include <stdlib.h>
#include <string.h>

#include "agg_config.h"
#include "alerting_internal.h"
#include "clock.h"
#include "log.h"

/* The new index of each old rule (-1: removed), by name. */
static void al_rule_map(const alert_config_t *from, const alert_config_t *to, int *map)
{
    for (size_t i = 0; i < from->rule_count; i++) {
        map[i] = -1;
        for (size_t j = 0; j < to->rule_count && map[i] < 0; j++)
            if (strcmp(from->rules[i].name, to->rules[j].name) == 0)
                map[i] = (int)j;
    }
}

/* The notified mask under the new receiver list. */
static uint64_t al_remap_notified(const alert_config_t *from, const alert_config_t *to, uint64_t mask)
{
    uint64_t out = 0;
    for (size_t i = 0; i < from->receiver_count && i < 64; i++) {
        int j = (mask & (1ull << i)) ? alert_config_receiver(to, from->receivers[i].name) : -1;
        if (j >= 0 && j < 64)
            out |= 1ull << j;
    }
    return out;
}

/* Under the old configuration still: the alerts of removed rules on one
 * node are resolved, and those rules' slots emptied. */
static void al_node_removed(alerting_t *self, al_node_t *an, const int *map, int64_t now_us)
{
    for (size_t i = 0; i < self->ac->rule_count; i++) {
        if (map[i] >= 0)
            continue;
        al_alert_t *a = an->slots[i].live ? an->slots[i].live->open : NULL;
        if (a) {
            log_info("reload: rule %s was removed; its alert on %s is resolved", self->ac->rules[i].name, an->name);
            alerting_emit_event(self, a, alert_state_name(a->live->sm.state), "resolved", "rule removed by a reload",
                                now_us);
            alerting_notify_notified(self, a, "resolved", now_us);
            alerting_close(self, a, "resolved", now_us);
        }
        alerting_slot_clear(self, &an->slots[i]);
    }
}

/* One node's slots of kept rules moved into slots (allocated for the new
 * rules, at rest), their open alerts renumbered. */
static void al_node_move(alerting_t *self, al_node_t *an, al_slot_t *slots, const int *map,
                         const alert_config_t *next)
{
    for (size_t i = 0; i < self->ac->rule_count; i++) {
        if (map[i] < 0)
            continue;
        slots[map[i]] = an->slots[i];
        al_alert_t *a = slots[map[i]].live ? slots[map[i]].live->open : NULL;
        if (a) {
            a->rule = map[i];
            a->notified = al_remap_notified(self->ac, next, a->notified);
        }
    }
    free(an->slots);
    an->slots = slots;
}

/* Everything allocated first: then nothing can fail half-way. */
static int al_reload_alloc(size_t nodes, const alert_config_t *from, const alert_config_t *next,
                           al_slot_t ***arrays, int **map, calendar_t **cal)
{
    *arrays = calloc(nodes ? nodes : 1, sizeof **arrays);
    *map = calloc(from->rule_count ? from->rule_count : 1, sizeof **map);
    *cal = calendar_new();
    int rc = *arrays && *map && *cal ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < nodes; k++)
        if (!((*arrays)[k] = calloc(next->rule_count ? next->rule_count : 1, sizeof ***arrays)))
            rc = -1;
    if (rc != 0) {
        for (size_t k = 0; *arrays && k < nodes; k++)
            free((*arrays)[k]);
        free(*arrays);
        free(*map);
        calendar_destroy(cal);
    }
    return rc;
}

int alerting_reload(alerting_t *self, const agg_config_t *cfg, int64_t now_us)
{
    const alert_config_t *next = &cfg->alerting;
    size_t n = zhashx_size(self->nodes), k = 0;
    al_slot_t **arrays;
    int *map;
    calendar_t *cal;
    if (al_reload_alloc(n, self->ac, next, &arrays, &map, &cal) != 0)
        return -1;
    calendar_set_weekdays(cal, next->peak_weekdays);
    calendar_set_hours(cal, next->peak_start_min, next->peak_end_min);
    for (size_t i = 0; i < next->peak_date_count; i++)
        calendar_add_date(cal, next->peak_dates[i][0], next->peak_dates[i][1], next->peak_dates[i][2]);
    al_rule_map(self->ac, next, map);
    for (al_node_t *an = zhashx_first(self->nodes); an; an = zhashx_next(self->nodes))
        al_node_removed(self, an, map, now_us);
    for (al_node_t *an = zhashx_first(self->nodes); an; an = zhashx_next(self->nodes))
        al_node_move(self, an, arrays[k++], map, next);
    free(arrays);
    free(map);
    calendar_destroy(&self->calendar);
    self->calendar = cal;
    self->npeaks = 0; /* the peak cache follows the new calendar */
    self->cfg = cfg;
    self->ac = next;
    alerting_index_sort(self); /* the rules' order may have changed */
    for (size_t i = 0; i < self->nopen; i++)
        alerting_summary(self, self->open[i]); /* a new summary template or labels */
    return 0;
}
