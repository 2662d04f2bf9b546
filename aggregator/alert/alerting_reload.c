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
 * rebuilt from the new file. The old configuration is not freed here: the
 * caller keeps every loaded configuration alive until exit.
 */
#include "alerting.h"

#include <stdlib.h>
#include <string.h>

#include "agg_config.h"
#include "alerting_internal.h"
#include "clock.h"
#include "log.h"

static int al_rule_index(const alert_config_t *ac, const char *name)
{
    for (size_t i = 0; i < ac->rule_count; i++)
        if (strcmp(ac->rules[i].name, name) == 0)
            return (int)i;
    return -1;
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

/* One node's alerts moved into alerts (allocated for the new rules). */
static void al_node_reload(alerting_t *self, al_node_t *an, al_alert_t *alerts, const alert_config_t *next,
                           int64_t now_us)
{
    for (size_t i = 0; i < next->rule_count; i++) {
        alert_init(&alerts[i].sm);
        alerts[i].rule = (int)i;
    }
    for (size_t i = 0; i < self->ac->rule_count; i++) {
        al_alert_t *a = &an->alerts[i];
        int j = al_rule_index(next, self->ac->rules[i].name);
        if (j >= 0) {
            alerts[j] = *a;
            alerts[j].rule = j;
            alerts[j].notified = al_remap_notified(self->ac, next, a->notified);
        } else if (a->id) {
            log_info("reload: rule %s was removed; its alert on %s is resolved", self->ac->rules[i].name, an->name);
            alerting_emit_event(self, a, alert_state_name(a->sm.state), "resolved", "rule removed by a reload",
                                now_us);
            alerting_notify_notified(self, a, "resolved", now_us);
            alerting_close(self, a, "resolved", now_us);
        }
    }
    free(an->alerts);
    an->alerts = alerts;
}

int alerting_reload(alerting_t *self, const agg_config_t *cfg, int64_t now_us)
{
    const alert_config_t *next = &cfg->alerting;
    size_t n = zhashx_size(self->nodes), k = 0;
    al_alert_t **arrays = calloc(n ? n : 1, sizeof *arrays);
    calendar_t *cal = calendar_new();
    int rc = arrays && cal ? 0 : -1;
    for (k = 0; rc == 0 && k < n; k++) /* everything allocated first: then nothing can fail half-way */
        if (!(arrays[k] = calloc(next->rule_count ? next->rule_count : 1, sizeof **arrays)))
            rc = -1;
    if (rc != 0) {
        for (size_t i = 0; arrays && i < n; i++)
            free(arrays[i]);
        free(arrays);
        calendar_destroy(&cal);
        return -1;
    }
    calendar_set_weekdays(cal, next->peak_weekdays);
    calendar_set_hours(cal, next->peak_start_min, next->peak_end_min);
    for (size_t i = 0; i < next->peak_date_count; i++)
        calendar_add_date(cal, next->peak_dates[i][0], next->peak_dates[i][1], next->peak_dates[i][2]);
    k = 0;
    for (al_node_t *an = zhashx_first(self->nodes); an; an = zhashx_next(self->nodes))
        al_node_reload(self, an, arrays[k++], next, now_us);
    free(arrays);
    calendar_destroy(&self->calendar);
    self->calendar = cal;
    self->npeaks = 0; /* the peak cache follows the new calendar */
    self->cfg = cfg;
    self->ac = next;
    for (al_node_t *an = zhashx_first(self->nodes); an; an = zhashx_next(self->nodes))
        for (size_t i = 0; i < next->rule_count; i++)
            if (an->alerts[i].id)
                alerting_summary(self, &an->alerts[i]); /* a new summary template or labels */
    return 0;
}
