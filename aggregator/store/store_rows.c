/*
 * store_rows.c — history rows from fleet notes (see store_rows.h).
 *
 * node_samples keeps the whole sample as jsonb (statement history and other
 * readers use it) and, since migration 005, the catalogue's history values
 * in metric_values (positions: metric.h history slots) with the catalogue
 * version (the highest slot) they were written under.
 */
#include "store_rows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "metric.h"
#include "pbjson.h"
#include "store.h"
#include "store_line.h"

static void rows_put(store_writer_t *w, store_table_t t, int64_t at_us, store_line_t *l)
{
    const char *text = store_line_end(l);
    if (text)
        store_put(w, t, at_us, text);
    store_line_free(l);
}

static void rows_cluster(store_line_t *l, uint64_t id)
{
    if (id)
        store_line_u64(l, id);
    else
        store_line_null(l);
}

int store_rows_metric_values(const node_view_t *v, char *buf, size_t len)
{
    int slots = metric_history_slots();
    double value[METRIC_MAX + 1];
    bool known[METRIC_MAX + 1] = {false};
    for (size_t id = 0; id < metric_count(); id++) {
        const metric_t *m = metric_info((int)id);
        if (m->slot > 0 && m->slot <= METRIC_MAX && v->known[id] && isfinite(v->value[id])) {
            known[m->slot] = true;
            value[m->slot] = v->value[id];
        }
    }
    size_t used = 0;
    for (int slot = 1; slot <= slots; slot++) {
        int k = known[slot] ? snprintf(buf + used, len - used, "%c%.17g", slot == 1 ? '{' : ',', value[slot])
                            : snprintf(buf + used, len - used, "%cNULL", slot == 1 ? '{' : ',');
        if (k < 0 || (size_t)k >= len - used)
            return -1;
        used += (size_t)k;
    }
    int k = snprintf(buf + used, len - used, slots ? "}" : "{}");
    if (k < 0 || (size_t)k >= len - used)
        return -1;
    return (int)(used + (size_t)k);
}

static void rows_sample(store_writer_t *w, const node_view_t *v, const Pgvigil__Sample *s, int64_t received_at)
{
    json_t *j = pbjson_from_message(&s->base);
    char *metrics = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char values[METRIC_MAX * 26 + 4];
    store_line_t l;
    store_line_init(&l);
    store_line_text(&l, v->name);
    store_line_time(&l, s->collected_at_us);
    store_line_u64(&l, s->sequence);
    rows_cluster(&l, s->up ? s->system_identifier : 0);
    store_line_text(&l, s->region);
    store_line_text(&l, s->up ? metric_role_name(s->role) : "unknown");
    store_line_bool(&l, s->up);
    if (s->up && s->has_timeline)
        store_line_int(&l, s->timeline);
    else
        store_line_null(&l);
    store_line_time(&l, received_at);
    store_line_text(&l, metrics ? metrics : "{}");
    store_line_text(&l, store_rows_metric_values(v, values, sizeof values) >= 0 ? values : NULL);
    store_line_int(&l, metric_history_slots());
    free(metrics);
    rows_put(w, STORE_NODE_SAMPLES, s->collected_at_us, &l);
}

static void rows_lag(store_writer_t *w, const node_view_t *v, const lag_result_t *lag, int64_t t)
{
    store_line_t l;
    store_line_init(&l);
    store_line_text(&l, v->name);
    store_line_time(&l, t);
    store_line_u64(&l, v->cluster_id);
    store_line_u64(&l, lag->bytes);
    store_line_double(&l, lag->seconds);
    store_line_u64(&l, lag->receive_bytes);
    store_line_u64(&l, lag->apply_bytes);
    store_line_bool(&l, v->replay_paused);
    store_line_double(&l, v->primary_replay_lag_s);
    store_line_double(&l, (double)v->clock_offset_us / 1e6);
    rows_put(w, STORE_REPLICATION_LAG, t, &l);
}

static void rows_status(store_writer_t *w, const node_view_t *v, const fleet_note_t *note)
{
    store_line_t l;
    store_line_init(&l);
    store_line_text(&l, v->name);
    store_line_time(&l, note->at_us);
    store_line_text(&l, note->state);
    rows_cluster(&l, v->cluster_id);
    store_line_text(&l, v->region);
    store_line_text(&l, metric_role_name(v->role));
    store_line_int(&l, v->timeline);
    store_line_text(&l, note->reason);
    rows_put(w, STORE_STATUS, note->at_us, &l);
}

static void rows_event(store_writer_t *w, const fleet_note_t *note)
{
    const fleet_event_t *e = note->event;
    store_line_t l;
    store_line_init(&l);
    store_line_text(&l, e->node ? e->node : "");
    store_line_text(&l, e->kind);
    store_line_time(&l, note->at_us);
    rows_cluster(&l, e->cluster_id);
    store_line_text(&l, e->severity);
    store_line_text(&l, e->message);
    rows_put(w, STORE_EVENTS, note->at_us, &l);
}

void store_rows_observe(void *arg, const fleet_note_t *note)
{
    store_writer_t *w = arg;
    switch (note->kind) {
    case FLEET_NOTE_SAMPLE:
        rows_sample(w, note->node, note->sample, note->at_us);
        break;
    case FLEET_NOTE_LAG:
        rows_lag(w, note->node, note->lag ? note->lag : &note->node->lag, note->at_us);
        break;
    case FLEET_NOTE_STATUS:
        rows_status(w, note->node, note);
        break;
    case FLEET_NOTE_EVENT:
        rows_event(w, note);
        break;
    }
}
