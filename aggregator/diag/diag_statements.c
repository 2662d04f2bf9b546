/*
 * diag_statements.c — pg_stat_statements deltas and the regression test
 * (diag.h describes it): each statement's recent intervals and decayed
 * baseline (diag_stmt_t), and the statements part of a node's document.
 *
 * Owns the regression state of each statement (diag_stmt_t); the map of
 * them per node lives in diag_node_t (diag.c owns the node).
 */
#include "diag_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"

#define DIAG_RECENT_CAP 16

typedef struct {
    int64_t at;
    uint64_t calls;
    double total_ms;
} diag_interval_t;

struct diag_stmt {
    int64_t first_seen;
    diag_interval_t recent[DIAG_RECENT_CAP]; /* oldest at head */
    size_t head, n;
    double base_calls, base_total;           /* decayed to base_at */
    int64_t base_at;
};

diag_stmt_t *diag_stmt_new(int64_t first_seen_us)
{
    diag_stmt_t *st = calloc(1, sizeof *st);
    if (st)
        st->first_seen = first_seen_us;
    return st;
}

void diag_stmt_free(diag_stmt_t *st) { free(st); }

static double diag_decay(int64_t from, int64_t to, const diag_options_t *opt)
{
    if (to <= from || opt->regression_half_life_ms == 0)
        return 1;
    return pow(0.5, (double)(to - from) / ((double)opt->regression_half_life_ms * 1000));
}

static void diag_stmt_fold(diag_stmt_t *st, const diag_options_t *opt)
{
    const diag_interval_t *i = &st->recent[st->head];
    double f = st->base_at ? diag_decay(st->base_at, i->at, opt) : 1;
    st->base_calls = st->base_calls * f + (double)i->calls;
    st->base_total = st->base_total * f + i->total_ms;
    if (i->at > st->base_at)
        st->base_at = i->at;
    st->head = (st->head + 1) % DIAG_RECENT_CAP;
    st->n--;
}

void diag_stmt_add(diag_stmt_t *st, int64_t at_us, uint64_t calls, double total_ms, const diag_options_t *opt)
{
    if (st->n == DIAG_RECENT_CAP)
        diag_stmt_fold(st, opt);
    st->recent[(st->head + st->n) % DIAG_RECENT_CAP] = (diag_interval_t){at_us, calls, total_ms};
    st->n++;
}

void diag_stmt_age(diag_stmt_t *st, int64_t now_us, const diag_options_t *opt)
{
    int64_t edge = now_us - (int64_t)opt->regression_recent_ms * 1000;
    while (st->n && st->recent[st->head].at < edge)
        diag_stmt_fold(st, opt);
}

diag_stmt_verdict_t diag_stmt_judge(const diag_stmt_t *st, int64_t now_us, const diag_options_t *opt)
{
    diag_stmt_verdict_t v = {NAN, NAN, 0, 0, false};
    double total = 0;
    for (size_t k = 0; k < st->n; k++) {
        const diag_interval_t *i = &st->recent[(st->head + k) % DIAG_RECENT_CAP];
        v.recent_calls += i->calls;
        total += i->total_ms;
    }
    if (v.recent_calls)
        v.recent_mean_ms = total / (double)v.recent_calls;
    if (st->base_calls > 0)
        v.baseline_mean_ms = st->base_total / st->base_calls;
    v.baseline_calls = st->base_calls * diag_decay(st->base_at, now_us, opt);
    v.regression = now_us - st->first_seen >= (int64_t)opt->regression_min_baseline_ms * 1000 &&
                   v.recent_calls >= opt->regression_min_calls &&
                   v.baseline_calls >= (double)opt->regression_min_calls && !isnan(v.recent_mean_ms) &&
                   !isnan(v.baseline_mean_ms) &&
                   v.recent_mean_ms >= opt->regression_factor * v.baseline_mean_ms &&
                   v.recent_mean_ms - v.baseline_mean_ms >= opt->regression_min_increase_ms;
    return v;
}

static json_t *diag_statement_json(const Pgvigil__StatementDelta *d, const diag_stmt_verdict_t *v)
{
    json_t *o = json_object();
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, d->queryid);
    json_object_set_new(o, "queryid", json_integer(d->queryid));
    json_object_set_new(o, "queryid_text", json_string(id)); /* exact in JavaScript too */
    json_object_set_new(o, "database", json_string(d->database ? d->database : ""));
    json_object_set_new(o, "user", json_string(d->user ? d->user : ""));
    json_object_set_new(o, "query", d->query ? json_string(d->query) : json_null());
    json_object_set_new(o, "calls", json_integer((json_int_t)d->calls));
    json_object_set_new(o, "total_time_ms", json_real(d->total_time_ms));
    json_object_set_new(o, "mean_time_ms", json_real(d->mean_time_ms));
    json_object_set_new(o, "rows", json_integer((json_int_t)d->rows));
    json_object_set_new(o, "shared_blks_hit", json_integer((json_int_t)d->shared_blks_hit));
    json_object_set_new(o, "shared_blks_read", json_integer((json_int_t)d->shared_blks_read));
    json_object_set_new(o, "temp_blks_read", json_integer((json_int_t)d->temp_blks_read));
    json_object_set_new(o, "temp_blks_written", json_integer((json_int_t)d->temp_blks_written));
    if (v) {
        json_object_set_new(o, "recent_mean_ms", diag_real(true, v->recent_mean_ms));
        json_object_set_new(o, "baseline_mean_ms", diag_real(true, v->baseline_mean_ms));
        json_object_set_new(o, "regression", json_boolean(v->regression));
    }
    return o;
}

static void diag_key(const Pgvigil__StatementDelta *d, char *key, size_t len)
{
    snprintf(key, len, "%" PRId64 "/%s/%s", d->queryid, d->database ? d->database : "", d->user ? d->user : "");
}

/* Feed one statements section; rebuild its JSON with verdicts. */
void diag_statements(const diag_options_t *o, diag_node_t *n, const Pgvigil__Statements *s, int64_t at_us)
{
    char key[320];
    for (size_t i = 0; i < s->n_statements && s->window_us > 0; i++) {
        const Pgvigil__StatementDelta *d = s->statements[i];
        diag_key(d, key, sizeof key);
        diag_entry_t *e = zhashx_lookup(n->stmts, key);
        if (!e) {
            if (zhashx_size(n->stmts) >= DIAG_STATEMENTS_MAX)
                continue; /* full; forgetting below makes room over time */
            e = calloc(1, sizeof *e);
            if (!e || !(e->st = diag_stmt_new(at_us))) {
                free(e);
                continue;
            }
            e->queryid = d->queryid;
            zhashx_insert(n->stmts, key, e);
        }
        diag_stmt_add(e->st, at_us, d->calls, d->total_time_ms, o);
        e->last_seen = at_us;
    }
    /* Age every statement (those that did not run this window too). */
    zlistx_t *gone = zlistx_new();
    for (diag_entry_t *e = zhashx_first(n->stmts); e; e = zhashx_next(n->stmts)) {
        diag_stmt_age(e->st, at_us, o);
        if (at_us - e->last_seen > DIAG_FORGET_US && gone)
            zlistx_add_end(gone, (void *)zhashx_cursor(n->stmts));
    }
    for (const char *k = gone ? zlistx_first(gone) : NULL; k; k = zlistx_next(gone))
        zhashx_delete(n->stmts, k);
    zlistx_destroy(&gone);

    json_t *list = json_array(), *regressions = json_array();
    n->regressions = 0;
    for (size_t i = 0; i < s->n_statements; i++) {
        const Pgvigil__StatementDelta *d = s->statements[i];
        diag_key(d, key, sizeof key);
        diag_entry_t *e = zhashx_lookup(n->stmts, key);
        diag_stmt_verdict_t v = {NAN, NAN, 0, 0, false};
        if (e)
            v = diag_stmt_judge(e->st, at_us, o);
        if (i < o->statements_top)
            json_array_append_new(list, diag_statement_json(d, e ? &v : NULL));
        if (v.regression) {
            n->regressions++;
            json_t *r = diag_statement_json(d, &v);
            json_object_set_new(r, "ratio", json_real(round(v.recent_mean_ms / v.baseline_mean_ms * 10) / 10));
            json_object_set_new(r, "recent_calls", json_integer((json_int_t)v.recent_calls));
            json_object_set_new(r, "baseline_calls", json_real(round(v.baseline_calls)));
            json_array_append_new(regressions, r);
        }
    }
    char at[40];
    json_decref(n->statements);
    n->statements = json_pack("{s:s,s:f,s:b,s:o,s:o}", "collected_at", clock_format_rfc3339(at_us, at, sizeof at),
                              "window_seconds", (double)s->window_us / 1e6, "reset_detected", s->reset_detected,
                              "statements", list, "regressions", regressions);
}
