/*
 * diag.c — diagnostics per node (see diag.h): the state kept for each node
 * and diag_apply, which routes a sample's sections to the files that turn
 * them into the node's document (diag_internal.h lists them).
 *
 * Owns (core thread only): every node's diag_node_t, its parts and its
 * document, which is immutable once built (the snapshot shares it).
 */
#include "diag.h"
#include "diag_internal.h"

#include <stdlib.h>

#include "clock.h"

void diag_options_default(diag_options_t *o)
{
    *o = (diag_options_t){.regression_factor = 3,
                          .regression_min_increase_ms = 5,
                          .regression_min_calls = 10,
                          .regression_recent_ms = 15 * 60000,
                          .regression_half_life_ms = 24 * 3600000ULL,
                          .regression_min_baseline_ms = 3600000,
                          .seq_scan_min_rows = 10000,
                          .statements_top = 50};
}

#define DIAG_ALL_MIN_US 1000000LL /* diag_all builds its map at most this often */

struct diag {
    diag_options_t opt;
    zhashx_t *nodes;
    json_t *all;      /* the last diag_all map, shared with snapshots */
    bool all_dirty;   /* a document changed since */
    int64_t all_at_us;
};

static void diag_entry_free(void **item)
{
    diag_entry_t *e = *item;
    if (e) {
        diag_stmt_free(e->st);
        free(e);
    }
    *item = NULL;
}

static void diag_node_free(void **item)
{
    diag_node_t *n = *item;
    if (n) {
        json_decref(n->tables);
        json_decref(n->indexes);
        json_decref(n->statements);
        json_decref(n->backup);
        json_decref(n->recs);
        json_decref(n->wraparound);
        json_decref(n->temp);
        json_decref(n->doc);
        zhashx_destroy(&n->stmts);
        free(n);
    }
    *item = NULL;
}

diag_t *diag_new(const diag_options_t *opt)
{
    diag_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (opt)
        self->opt = *opt;
    else
        diag_options_default(&self->opt);
    self->nodes = zhashx_new();
    if (!self->nodes) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->nodes, diag_node_free);
    return self;
}

void diag_destroy(diag_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->nodes);
    json_decref((*self_p)->all);
    free(*self_p);
    *self_p = NULL;
}

static diag_node_t *diag_node(diag_t *self, const char *name)
{
    diag_node_t *n = zhashx_lookup(self->nodes, name);
    if (n)
        return n;
    n = calloc(1, sizeof *n);
    if (!n || !(n->stmts = zhashx_new())) {
        free(n);
        return NULL;
    }
    zhashx_set_destructor(n->stmts, diag_entry_free);
    zhashx_insert(self->nodes, name, n);
    return n;
}

/* Connection and checkpoint figures (every second): kept for the
 * recommendations and the pressure view. */
static void diag_take_figures(diag_node_t *n, const Pgvigil__Sample *s)
{
    if (s->connections) {
        n->conn = *s->connections;
        n->has_conn = true;
    }
    if (s->checkpointer) {
        n->ckpt = *s->checkpointer;
        n->has_ckpt = true;
    }
}

/* Tables, indexes and statements (what the recommendations read): true
 * when any arrived. at: the sample's time as RFC 3339. */
static bool diag_take_stats(diag_t *self, diag_node_t *n, const Pgvigil__Sample *s, const char *at, int64_t at_us)
{
    if (s->tables) {
        json_t *list = json_array();
        for (size_t i = 0; i < s->tables->n_tables; i++)
            json_array_append_new(list, diag_table_json(s->tables->tables[i]));
        if (s->tables->has_estimates && !s->tables->estimates && n->tables) {
            static const char *const keys[] = {"bloat_bytes", "bloat_ratio", NULL};
            diag_carry(json_object_get(n->tables, "tables"), list, "table", keys);
        }
        json_decref(n->tables);
        n->tables = json_pack("{s:s,s:o}", "collected_at", at, "tables", list);
    }
    if (s->indexes) {
        json_t *list = diag_indexes_json(s->indexes);
        if (s->indexes->has_definitions && !s->indexes->definitions && n->indexes) {
            static const char *const keys[] = {"definition", NULL};
            diag_carry(json_object_get(n->indexes, "indexes"), list, "index", keys);
        }
        json_decref(n->indexes);
        n->indexes = json_pack("{s:s,s:o}", "collected_at", at, "indexes", list);
    }
    if (s->statements)
        diag_statements(&self->opt, n, s->statements, at_us);
    return s->tables || s->indexes || s->statements;
}

/* Wraparound, temp files and backup (the rest of the document): true when
 * any arrived. */
static bool diag_take_other(diag_node_t *n, const Pgvigil__Sample *s, int64_t at_us)
{
    if (s->wraparound) {
        json_decref(n->wraparound);
        n->wraparound = diag_wraparound(s->wraparound);
    }
    if (s->databases)
        diag_temp(n, s->databases, at_us);
    if (s->backup) {
        json_decref(n->backup);
        n->backup = diag_backup_json(s->node, s->backup);
    }
    return s->wraparound || s->databases || s->backup;
}

bool diag_apply(diag_t *self, const Pgvigil__Sample *s, int64_t at_us)
{
    if (!s->node || !(s->tables || s->indexes || s->statements || s->connections || s->checkpointer || s->backup ||
                      s->wraparound || s->databases))
        return false;
    diag_node_t *n = diag_node(self, s->node);
    if (!n)
        return false;
    char at[40] = "";
    if (s->tables || s->indexes || s->statements)
        clock_format_rfc3339(s->has_collected_at_us ? s->collected_at_us : at_us, at, sizeof at);
    diag_take_figures(n, s);
    bool stats = diag_take_stats(self, n, s, at, at_us);
    bool other = diag_take_other(n, s, at_us);
    /* Connection and checkpoint figures arrive every second: recommend from
     * them at most once a minute unless the stats sections changed. */
    bool recommend = stats || !n->recs || at_us - n->rec_at_us >= 60LL * 1000000;
    if (!recommend && !other)
        return false;
    if (recommend) {
        n->rec_at_us = at_us;
        json_decref(n->recs);
        n->recs = diag_recommend(s->node, n->tables, n->indexes, n->statements, n->has_conn ? &n->conn : NULL,
                                 n->has_ckpt ? &n->ckpt : NULL, &self->opt);
    }
    json_decref(n->doc);
    n->doc = json_pack("{s:s,s:s,s:O?,s:O?,s:O?,s:O?,s:o,s:O}", "node", s->node, "updated_at",
                       clock_format_rfc3339(at_us, at, sizeof at), "tables", n->tables, "indexes", n->indexes,
                       "statements", n->statements, "backup", n->backup, "pressure", diag_pressure(n),
                       "recommendations", n->recs);
    self->all_dirty = true;
    return true;
}

const json_t *diag_node_doc(diag_t *self, const char *node)
{
    diag_node_t *n = zhashx_lookup(self->nodes, node);
    return n ? n->doc : NULL;
}

unsigned diag_regressions(diag_t *self, const char *node)
{
    diag_node_t *n = zhashx_lookup(self->nodes, node);
    return n ? n->regressions : 0;
}

json_t *diag_all(diag_t *self, int64_t now_us)
{
    if (self->all && (!self->all_dirty || now_us - self->all_at_us < DIAG_ALL_MIN_US))
        return json_incref(self->all);
    json_t *all = json_object();
    for (diag_node_t *n = zhashx_first(self->nodes); all && n; n = zhashx_next(self->nodes))
        if (n->doc)
            json_object_set(all, zhashx_cursor(self->nodes), n->doc);
    if (all) {
        json_decref(self->all);
        self->all = json_incref(all);
        self->all_dirty = false;
        self->all_at_us = now_us;
    }
    return all;
}
