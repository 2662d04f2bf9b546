/*
 * section_statements.c — pg_stat_statements deltas (stats cadence).
 *
 * The extension's counters are cumulative; the collector keeps the previous
 * snapshot (sorted by queryid, dbid, userid) and sends, per entry that ran in
 * the window, the difference, for the top `statements.max` entries by total
 * time. Counters that went backwards mean the statistics were reset: the
 * sample says so and the current values count as the whole window. Skipped,
 * without error, when the extension is not installed in the connection's
 * database. With statements.query_text off the text is never even read
 * (pg_stat_statements(false)).
 */
#include <stdlib.h>
#include <string.h>

#include "sections_impl.h"

typedef struct {
    int64_t queryid;
    uint64_t dbid, userid;
    uint64_t calls, rows, hit, read, temp_written, temp_read;
    double total_ms;
} statements_entry_t;

struct statements_state {
    statements_entry_t *entries; /* sorted by key */
    size_t n;
    int64_t taken_at_us;         /* 0: no baseline yet */
};

statements_state_t *statements_state_new(void) { return calloc(1, sizeof(statements_state_t)); }

void statements_state_destroy(statements_state_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->entries);
    free(*self_p);
    *self_p = NULL;
}

static int statements_cmp(const void *a, const void *b)
{
    const statements_entry_t *x = a, *y = b;
    if (x->queryid != y->queryid)
        return x->queryid < y->queryid ? -1 : 1;
    if (x->dbid != y->dbid)
        return x->dbid < y->dbid ? -1 : 1;
    if (x->userid != y->userid)
        return x->userid < y->userid ? -1 : 1;
    return 0;
}

const char *statements_sql(const section_ctx_t *ctx)
{
    if (!ctx->cfg->statements_enabled || !ctx->has_pg_stat_statements ||
        ctx->server_version < 130000)
        return NULL;
    if (ctx->cfg->statements_query_text)
        return "SELECT s.queryid, s.dbid, s.userid, d.datname, u.rolname, s.query, s.calls,"
               " s.total_exec_time, s.rows, s.shared_blks_hit, s.shared_blks_read,"
               " s.temp_blks_written, s.temp_blks_read FROM pg_stat_statements(true) s"
               " LEFT JOIN pg_database d ON d.oid = s.dbid LEFT JOIN pg_roles u ON u.oid = s.userid";
    return "SELECT s.queryid, s.dbid, s.userid, d.datname, u.rolname, NULL::text, s.calls,"
           " s.total_exec_time, s.rows, s.shared_blks_hit, s.shared_blks_read,"
           " s.temp_blks_written, s.temp_blks_read FROM pg_stat_statements(false) s"
           " LEFT JOIN pg_database d ON d.oid = s.dbid LEFT JOIN pg_roles u ON u.oid = s.userid";
}

static void statements_read(const PGresult *r, int i, statements_entry_t *e)
{
    memset(e, 0, sizeof *e);
    section_i64(r, i, 0, &e->queryid);
    section_u64(r, i, 1, &e->dbid);
    section_u64(r, i, 2, &e->userid);
    section_u64(r, i, 6, &e->calls);
    section_double(r, i, 7, &e->total_ms);
    section_u64(r, i, 8, &e->rows);
    section_u64(r, i, 9, &e->hit);
    section_u64(r, i, 10, &e->read);
    section_u64(r, i, 11, &e->temp_written);
    section_u64(r, i, 12, &e->temp_read);
}

typedef struct {
    statements_entry_t delta;
    int row;
} statements_change_t;

static int statements_by_time(const void *a, const void *b)
{
    double x = ((const statements_change_t *)a)->delta.total_ms;
    double y = ((const statements_change_t *)b)->delta.total_ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

static uint64_t statements_sub(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

static Pgvigil__StatementDelta *statements_delta(const PGresult *r, const statements_change_t *c,
                                                 const col_config_t *cfg)
{
    Pgvigil__StatementDelta *d;
    if (!SECTION_NEW(d, pgvigil__statement_delta__init))
        return NULL;
    d->has_queryid = 1;
    d->queryid = c->delta.queryid;
    d->database = section_str(r, c->row, 3, 128);
    d->user = section_str(r, c->row, 4, 128);
    if (cfg->statements_query_text)
        d->query = section_str(r, c->row, 5, cfg->statements_query_text_max);
    d->has_calls = d->has_total_time_ms = d->has_rows = d->has_mean_time_ms = 1;
    d->has_shared_blks_hit = d->has_shared_blks_read = 1;
    d->has_temp_blks_written = d->has_temp_blks_read = 1;
    d->calls = c->delta.calls;
    d->total_time_ms = c->delta.total_ms;
    d->rows = c->delta.rows;
    d->shared_blks_hit = c->delta.hit;
    d->shared_blks_read = c->delta.read;
    d->temp_blks_written = c->delta.temp_written;
    d->temp_blks_read = c->delta.temp_read;
    d->mean_time_ms = c->delta.calls ? c->delta.total_ms / (double)c->delta.calls : 0;
    return d;
}

/* Differences against the baseline; sets *reset if any counter went back. */
static size_t statements_diff(const statements_state_t *st, const statements_entry_t *now,
                              size_t n, statements_change_t *out, bool *reset)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const statements_entry_t *before =
            st->n ? bsearch(&now[i], st->entries, st->n, sizeof *now, statements_cmp) : NULL;
        statements_entry_t d = now[i];
        if (before) {
            if (now[i].calls < before->calls)
                *reset = true;
            d.calls = statements_sub(now[i].calls, before->calls);
            d.total_ms = now[i].total_ms >= before->total_ms ? now[i].total_ms - before->total_ms
                                                             : now[i].total_ms;
            d.rows = statements_sub(now[i].rows, before->rows);
            d.hit = statements_sub(now[i].hit, before->hit);
            d.read = statements_sub(now[i].read, before->read);
            d.temp_written = statements_sub(now[i].temp_written, before->temp_written);
            d.temp_read = statements_sub(now[i].temp_read, before->temp_read);
        }
        if (d.calls == 0)
            continue;
        out[k].delta = d;
        out[k].row = (int)i;
        k++;
    }
    return k;
}

int statements_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                      size_t errlen)
{
    statements_state_t *st = ctx->statements;
    size_t n = (size_t)PQntuples(r), k = 0;
    Pgvigil__Statements *p;
    statements_entry_t *now = calloc(n ? n : 1, sizeof *now);
    statements_change_t *changes = calloc(n ? n : 1, sizeof *changes);
    bool reset = false;
    int rc = -1;
    if (!now || !changes || section_expect(r, 13, 0, err, errlen) != 0 ||
        !SECTION_NEW(p, pgvigil__statements__init))
        goto done;
    s->statements = p;
    for (size_t i = 0; i < n; i++)
        statements_read(r, (int)i, &now[i]);
    if (st->taken_at_us) {
        k = statements_diff(st, now, n, changes, &reset);
        p->has_window_us = 1;
        p->window_us = ctx->round_started_us - st->taken_at_us;
    } else {
        p->has_window_us = 1; /* first snapshot: the baseline, no deltas yet */
        p->window_us = 0;
    }
    p->has_reset_detected = 1;
    p->reset_detected = reset;
    qsort(changes, k, sizeof *changes, statements_by_time);
    if (k > ctx->cfg->statements_max)
        k = ctx->cfg->statements_max;
    if (!(p->statements = section_new_array(k)))
        goto done;
    for (size_t i = 0; i < k; i++) {
        if (!(p->statements[i] = statements_delta(r, &changes[i], ctx->cfg)))
            goto done;
        p->n_statements = i + 1;
    }
    /* The current snapshot becomes the baseline (sorted for bsearch). */
    qsort(now, n, sizeof *now, statements_cmp);
    free(st->entries);
    st->entries = now;
    st->n = n;
    st->taken_at_us = ctx->round_started_us;
    now = NULL;
    rc = 0;
done:
    free(now);
    free(changes);
    return rc;
}
