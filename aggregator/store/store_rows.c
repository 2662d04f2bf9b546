/*
 * store_rows.c — history rows from fleet notes (see store_rows.h).
 *
 * node_samples keeps the catalogue's history values in metric_values
 * (positions: metric.h history slots; real[] since migration 011, so each is
 * written with float precision and a value beyond float range is NULL) with
 * the catalogue version (the highest slot) they were written under. The
 * jsonb column metrics holds only the structured stats-cadence sections
 * (statement history reads them), the section errors and a down node's
 * error, on the samples that carry one; it is NULL on every other row.
 */
#include "store_rows.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int store_rows_number(double value, char *buf, size_t len)
{
    /* Whole numbers of up to 9 digits (most of a sample: counts, flags,
     * bytes) are what %.9g prints, without printf's cost; the rest go to
     * printf. 0 is exact; -0 is left to printf. */
    if (value > -1e9 && value < 1e9 && value == (double)(int64_t)value && (value != 0 || !signbit(value))) {
        char digits[12];
        int64_t whole = (int64_t)value;
        uint64_t rest = (uint64_t)(whole < 0 ? -whole : whole);
        size_t n = 0;
        do {
            digits[n++] = (char)('0' + rest % 10);
            rest /= 10;
        } while (rest);
        size_t out = (size_t)(whole < 0) + n;
        if (out >= len)
            return -1;
        size_t k = 0;
        if (whole < 0)
            buf[k++] = '-';
        while (n)
            buf[k++] = digits[--n];
        buf[k] = '\0';
        return (int)k;
    }
    int k = snprintf(buf, len, "%.9g", value);
    return k < 0 || (size_t)k >= len ? -1 : k;
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
        if (known[slot] && fabs(value[slot]) > FLT_MAX)
            known[slot] = false; /* would be refused as out of range for real */
        else if (known[slot] && fabs(value[slot]) < FLT_MIN)
            value[slot] = 0.0; /* float underflow: PostgreSQL refuses it too */
        if (len - used < sizeof ",NULL")
            return -1;
        buf[used++] = slot == 1 ? '{' : ',';
        int k = known[slot] ? store_rows_number(value[slot], buf + used, len - used) : 4;
        if (k < 0)
            return -1;
        if (!known[slot])
            memcpy(buf + used, "NULL", 4);
        used += (size_t)k;
    }
    int k = snprintf(buf + used, len - used, slots ? "}" : "{}");
    if (k < 0 || (size_t)k >= len - used)
        return -1;
    return (int)(used + (size_t)k);
}

/* The sample's structured sections worth keeping as they arrived, as
 * compact JSON (to be freed), or NULL when it carries none (most samples). */
static char *rows_sections(const Pgvigil__Sample *s)
{
    static const char *const kept[] = {"tables", "indexes", "statements", "replication_slots",
                                       "backup", "section_errors", "error"};
    if (!s->tables && !s->indexes && !s->statements && !s->replication_slots && !s->backup &&
        !s->n_section_errors && !(s->error && s->error[0]))
        return NULL;
    json_t *all = pbjson_from_message(&s->base), *out = json_object();
    char *text = NULL;
    if (!all || !out)
        goto done;
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        json_t *section = json_object_get(all, kept[i]);
        if (section && json_object_set(out, kept[i], section) != 0)
            goto done;
    }
    if (json_object_size(out))
        text = json_dumps(out, JSON_COMPACT);
done:
    json_decref(all);
    json_decref(out);
    return text;
}

static void rows_sample(store_writer_t *w, const node_view_t *v, const Pgvigil__Sample *s, int64_t received_at)
{
    char *metrics = rows_sections(s);
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
    if (metrics)
        store_line_text(&l, metrics);
    else
        store_line_null(&l);
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
