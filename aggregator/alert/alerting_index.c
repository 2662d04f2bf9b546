/*
 * alerting_index.c — where a (node, rule)'s state lives and the index of
 * open alerts (see alerting_internal.h for who owns what).
 *
 * A slot at rest holds no allocation; alerting_live gives it a state
 * machine when evaluation needs one and alerting_settle takes it back once
 * nothing about it can matter any more. alerting_open allocates an alert's
 * details and lists it in the index; alerting_unlist takes it out (the
 * caller frees it). The index is an array kept in the order the views show
 * (node name, then rule): insertion and removal find their place by binary
 * search and move the tail, so the cost is that of what is open.
 */
#include "alerting.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting_internal.h"
#include "log.h"

al_live_t *alerting_live(al_slot_t *slot)
{
    if (slot->live)
        return slot->live;
    al_live_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    alert_init(&l->sm);
    l->sm.state = (alert_state_t)slot->rest;
    return slot->live = l;
}

void alerting_settle(al_slot_t *slot, const alert_params_t *p, int64_t now_us)
{
    al_live_t *l = slot->live;
    if (!l || l->open || l->flap_noticed || l->sm.flapping || l->sm.severity != ALERT_SEV_NONE ||
        (l->sm.state != ALERT_INACTIVE && l->sm.state != ALERT_RESOLVED))
        return;
    for (int i = 0; i < l->sm.nflips && i < ALERT_FLAP_RING; i++)
        if (now_us - l->sm.flips[i] <= p->flap_window_us)
            return; /* a change that still counts towards flapping */
    slot->rest = (uint8_t)l->sm.state;
    slot->live = NULL;
    free(l);
}

/* <0, 0, >0 as a sorts before, at, after (node, rule). */
static int al_order(const al_alert_t *a, const char *node, int rule)
{
    int c = strcmp(a->an->name, node);
    return c ? c : (a->rule > rule) - (a->rule < rule);
}

/* The first position whose alert does not sort before (node, rule). */
static size_t al_position(const alerting_t *self, const char *node, int rule)
{
    size_t lo = 0, hi = self->nopen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (al_order(self->open[mid], node, rule) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int al_list(alerting_t *self, al_alert_t *a)
{
    if (self->nopen == self->open_max) {
        size_t max = self->open_max ? self->open_max * 2 : 64;
        al_alert_t **grown = realloc(self->open, max * sizeof *grown);
        if (!grown)
            return -1;
        self->open = grown;
        self->open_max = max;
    }
    size_t at = al_position(self, a->an->name, a->rule);
    memmove(&self->open[at + 1], &self->open[at], (self->nopen - at) * sizeof *self->open);
    self->open[at] = a;
    self->nopen++;
    return 0;
}

al_alert_t *alerting_open(alerting_t *self, al_node_t *an, int rule, uint64_t id)
{
    al_slot_t *slot = &an->slots[rule];
    al_live_t *l = alerting_live(slot);
    if (l && l->open) {
        l->open->id = id;
        return l->open;
    }
    al_alert_t *a = l ? calloc(1, sizeof *a) : NULL;
    if (a) {
        a->live = l;
        a->an = an;
        a->rule = rule;
        a->id = id;
        snprintf(a->node, sizeof a->node, "%s", an->name);
    }
    if (!a || al_list(self, a) != 0) {
        free(a);
        log_warning("out of memory: the alert of rule %s on %s is not opened", self->ac->rules[rule].name, an->name);
        return NULL; /* the slot may be live now: the caller settles it */
    }
    return l->open = a;
}

void alerting_unlist(alerting_t *self, al_alert_t *a)
{
    size_t at = al_position(self, a->an->name, a->rule);
    if (at >= self->nopen || self->open[at] != a) /* not where the order says: look everywhere */
        for (at = 0; at < self->nopen && self->open[at] != a; at++)
            ;
    if (at < self->nopen) {
        memmove(&self->open[at], &self->open[at + 1], (self->nopen - at - 1) * sizeof *self->open);
        self->nopen--;
    }
    a->live->open = NULL;
}

void alerting_slot_clear(alerting_t *self, al_slot_t *slot)
{
    if (slot->live && slot->live->open) {
        al_alert_t *a = slot->live->open;
        alerting_unlist(self, a);
        free(a);
    }
    free(slot->live);
    slot->live = NULL;
    slot->rest = ALERT_INACTIVE;
}

al_alert_t *alerting_find(const alerting_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->nopen; i++)
        if (self->open[i]->id == id)
            return self->open[i];
    return NULL;
}

static int al_compare(const void *x, const void *y)
{
    const al_alert_t *b = *(al_alert_t *const *)y;
    return al_order(*(al_alert_t *const *)x, b->an->name, b->rule);
}

void alerting_index_sort(alerting_t *self)
{
    if (self->nopen > 1)
        qsort(self->open, self->nopen, sizeof *self->open, al_compare);
}
