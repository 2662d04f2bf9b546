/*
 * metric.c — catalogue lookups and the derivation engine (see metric.h).
 */
#include "metric.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "metric_table.h"
#include "nodeview.h"

size_t metric_count(void) { return metric_table_count; }

const metric_t *metric_info(int id)
{
    return id >= 0 && (size_t)id < metric_table_count ? &metric_table[id] : NULL;
}

int metric_find(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < metric_table_count; i++)
        if (strcmp(metric_table[i].name, name) == 0)
            return (int)i;
    for (const metric_alias_t *a = metric_aliases; a->alias; a++)
        if (strcmp(a->alias, name) == 0)
            return metric_find(a->name);
    return -1;
}

int metric_history_slots(void)
{
    int most = 0;
    for (size_t i = 0; i < metric_table_count; i++)
        most = metric_table[i].slot > most ? metric_table[i].slot : most;
    return most;
}

const char *metric_prom_name(int id, char *buf, size_t len)
{
    const metric_t *m = metric_info(id);
    if (!m)
        snprintf(buf, len, "pgvigil_unknown");
    else if (m->prom)
        snprintf(buf, len, "%s", m->prom);
    else
        snprintf(buf, len, "pgvigil_%s", m->name);
    return buf;
}

const char *metric_role_name(Pgvigil__Role role)
{
    return role == PGVIGIL__ROLE__ROLE_PRIMARY   ? "primary"
           : role == PGVIGIL__ROLE__ROLE_REPLICA ? "replica"
                                                 : "unknown";
}

/* Whether m can have a value on v now (see "Liveness" in metric.h). */
static bool metric_live(const metric_t *m, const node_view_t *v)
{
    if (m->flags & METRIC_F_ALWAYS)
        return true;
    if (!v->seen || v->stale)
        return false;
    return (m->flags & METRIC_F_REPORTING) || v->up;
}

static bool metric_forget(node_view_t *v, metric_state_t *st, int id)
{
    bool changed = v->known[id];
    v->known[id] = false;
    st->have[id] = false;
    return changed;
}

/* A counter total x becomes a rate or a delta against the previous total;
 * false on the first total, after a decrease (restart, stats reset) or
 * without time between the two. */
static bool metric_counter(const metric_t *m, metric_state_t *st, int id, int64_t at_us, double *x)
{
    bool ok = st->have[id] && *x >= st->total[id] && (m->kind == METRIC_DELTA || at_us > st->at_us[id]);
    double prev = st->total[id];
    int64_t prev_at = st->at_us[id];
    st->total[id] = *x;
    st->at_us[id] = at_us;
    st->have[id] = true;
    if (ok)
        *x = m->kind == METRIC_DELTA ? *x - prev : (*x - prev) / ((double)(at_us - prev_at) / 1e6);
    return ok;
}

static bool metric_derive(node_view_t *v, metric_state_t *st, const Pgvigil__Sample *s, int id, int64_t now_us)
{
    static const Pgvigil__Sample empty = PGVIGIL__SAMPLE__INIT;
    const metric_t *m = &metric_table[id];
    if (!metric_live(m, v))
        return metric_forget(v, st, id);
    metric_input_t in = {.sample = s ? s : &empty, .view = v, .now_us = now_us};
    double x = NAN;
    metric_result_t r = m->derive(&in, &x);
    if (r == METRIC_KEEP)
        return false;
    if (r == METRIC_UNKNOWN)
        return metric_forget(v, st, id);
    if ((m->kind == METRIC_RATE || m->kind == METRIC_DELTA) &&
        !metric_counter(m, st, id, in.sample->collected_at_us, &x)) {
        bool changed = v->known[id];
        v->known[id] = false;
        return changed;
    }
    bool changed = !v->known[id] || v->value[id] != x;
    v->value[id] = x;
    v->known[id] = true;
    return changed;
}

static int metric_liveness(const node_view_t *v)
{
    return !v->seen || v->stale ? 2 : v->up ? 0 : 1;
}

void metric_update(node_view_t *v, metric_state_t *st, const Pgvigil__Sample *s, int64_t now_us)
{
    for (size_t i = 0; i < metric_table_count; i++)
        metric_derive(v, st, s, (int)i, now_us);
    st->liveness = metric_liveness(v);
}

/* The rows that move with the clock, listed once: a tick touches only them. */
static int metric_clock_ids[METRIC_MAX];
static size_t metric_clock_count;
static pthread_once_t metric_clock_once = PTHREAD_ONCE_INIT;

static void metric_clock_init(void)
{
    for (size_t i = 0; i < metric_table_count; i++)
        if (metric_table[i].flags & METRIC_F_CLOCK)
            metric_clock_ids[metric_clock_count++] = (int)i;
}

bool metric_tick(node_view_t *v, metric_state_t *st, const Pgvigil__Sample *s, int64_t now_us)
{
    bool changed = false;
    if (metric_liveness(v) != st->liveness) { /* went down or stale: forget what it cannot know */
        for (size_t i = 0; i < metric_table_count; i++)
            if (!metric_live(&metric_table[i], v))
                changed |= metric_derive(v, st, s, (int)i, now_us);
        st->liveness = metric_liveness(v);
    }
    pthread_once(&metric_clock_once, metric_clock_init);
    for (size_t i = 0; i < metric_clock_count; i++)
        changed |= metric_derive(v, st, s, metric_clock_ids[i], now_us);
    return changed;
}

void metric_update_one(node_view_t *v, metric_state_t *st, const Pgvigil__Sample *s, int id, int64_t now_us)
{
    if (id >= 0 && (size_t)id < metric_table_count)
        metric_derive(v, st, s, id, now_us);
}

bool metric_from_sample(int id, const Pgvigil__Sample *s, double *out)
{
    const metric_t *m = metric_info(id);
    if (!m || !s || m->kind == METRIC_RATE || m->kind == METRIC_DELTA || m->kind == METRIC_TOTAL)
        return false;
    node_view_t v = {.up = s->up, .seen = true, .role = s->role, .latest = s};
    metric_input_t in = {.sample = s, .view = &v, .now_us = s->collected_at_us};
    return m->derive(&in, out) == METRIC_SET;
}
