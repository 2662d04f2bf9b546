/*
 * diag_tables.c — table and index health as the API serves it: whether a
 * table needs vacuum or analyze (by autovacuum's own thresholds), dead and
 * bloat ratios, and indexes that are unused, invalid or duplicates of
 * another (with the one to keep). Pure functions over one section.
 */
#include "diag_internal.h"

#include <stdio.h>
#include <string.h>

json_t *diag_table_json(const Pgvigil__TableStats *t)
{
    bool vac_dead = t->has_vacuum_threshold && t->has_dead_tuples && (double)t->dead_tuples > t->vacuum_threshold;
    bool vac_ins = t->has_insert_threshold && t->has_n_ins_since_vacuum &&
                   (double)t->n_ins_since_vacuum > t->insert_threshold;
    bool analyze = t->has_analyze_threshold && t->has_mod_since_analyze &&
                   (double)t->mod_since_analyze > t->analyze_threshold;
    uint64_t rows = t->live_tuples + t->dead_tuples;
    json_t *reasons = json_array();
    if (vac_dead)
        json_array_append_new(reasons, json_string("dead_tuples"));
    if (vac_ins)
        json_array_append_new(reasons, json_string("inserts"));
    json_t *o = json_object();
    json_object_set_new(o, "database", json_string(t->database ? t->database : ""));
    json_object_set_new(o, "schema", json_string(t->schema ? t->schema : ""));
    json_object_set_new(o, "table", json_string(t->table ? t->table : ""));
    json_object_set_new(o, "live_tuples", diag_uint(t->has_live_tuples, t->live_tuples));
    json_object_set_new(o, "dead_tuples", diag_uint(t->has_dead_tuples, t->dead_tuples));
    json_object_set_new(o, "dead_ratio", rows ? json_real((double)t->dead_tuples / (double)rows) : json_real(0));
    json_object_set_new(o, "needs_vacuum", json_boolean(vac_dead || vac_ins));
    json_object_set_new(o, "vacuum_reasons", reasons);
    json_object_set_new(o, "needs_analyze", json_boolean(analyze));
    json_object_set_new(o, "vacuum_threshold", diag_real(t->has_vacuum_threshold, t->vacuum_threshold));
    json_object_set_new(o, "analyze_threshold", diag_real(t->has_analyze_threshold, t->analyze_threshold));
    json_object_set_new(o, "insert_threshold", diag_real(t->has_insert_threshold, t->insert_threshold));
    json_object_set_new(o, "autovacuum_enabled",
                        t->has_autovacuum_enabled ? json_boolean(t->autovacuum_enabled) : json_null());
    json_object_set_new(o, "modifications_since_analyze", diag_uint(t->has_mod_since_analyze, t->mod_since_analyze));
    json_object_set_new(o, "inserts_since_vacuum", diag_uint(t->has_n_ins_since_vacuum, t->n_ins_since_vacuum));
    json_object_set_new(o, "total_bytes", diag_uint(t->has_total_bytes, t->total_bytes));
    json_object_set_new(o, "table_bytes", diag_uint(t->has_table_bytes, t->table_bytes));
    json_object_set_new(o, "index_bytes", diag_uint(t->has_index_bytes, t->index_bytes));
    json_object_set_new(o, "toast_bytes", diag_uint(t->has_toast_bytes, t->toast_bytes));
    json_object_set_new(o, "bloat_bytes", diag_uint(t->has_bloat_bytes, t->bloat_bytes));
    json_object_set_new(o, "bloat_ratio", t->has_bloat_bytes && t->table_bytes
                                              ? json_real((double)t->bloat_bytes / (double)t->table_bytes)
                                              : json_null());
    json_object_set_new(o, "seq_scan", diag_uint(t->has_seq_scan, t->seq_scan));
    json_object_set_new(o, "seq_tup_read", diag_uint(t->has_seq_tup_read, t->seq_tup_read));
    json_object_set_new(o, "idx_scan", diag_uint(t->has_idx_scan, t->idx_scan));
    json_object_set_new(o, "idx_tup_fetch", diag_uint(t->has_idx_tup_fetch, t->idx_tup_fetch));
    json_object_set_new(o, "last_vacuum", diag_time(t->has_last_vacuum_at_us, t->last_vacuum_at_us));
    json_object_set_new(o, "last_autovacuum", diag_time(t->has_last_autovacuum_at_us, t->last_autovacuum_at_us));
    json_object_set_new(o, "last_analyze", diag_time(t->has_last_analyze_at_us, t->last_analyze_at_us));
    json_object_set_new(o, "last_autoanalyze",
                        diag_time(t->has_last_autoanalyze_at_us, t->last_autoanalyze_at_us));
    json_object_set_new(o, "vacuum_count", diag_uint(t->has_vacuum_count, t->vacuum_count));
    json_object_set_new(o, "autovacuum_count", diag_uint(t->has_autovacuum_count, t->autovacuum_count));
    json_object_set_new(o, "relfrozenxid_age", diag_uint(t->has_relfrozenxid_age, t->relfrozenxid_age));
    /* The later of the manual and the automatic vacuum. */
    int64_t last = t->last_vacuum_at_us > t->last_autovacuum_at_us ? t->last_vacuum_at_us : t->last_autovacuum_at_us;
    json_object_set_new(o, "last_vacuum_any", diag_time(last > 0, last));
    return o;
}

static bool diag_same(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* Which of two duplicate indexes to keep: primary, then unique, then the
 * more used, then the name that sorts first. */
static bool diag_keep_first(const Pgvigil__IndexStats *a, const Pgvigil__IndexStats *b)
{
    if (a->is_primary != b->is_primary)
        return a->is_primary;
    if (a->is_unique != b->is_unique)
        return a->is_unique;
    if (a->idx_scan != b->idx_scan)
        return a->idx_scan > b->idx_scan;
    return strcmp(a->index ? a->index : "", b->index ? b->index : "") <= 0;
}

json_t *diag_indexes_json(const Pgvigil__Indexes *x)
{
    json_t *out = json_array();
    for (size_t i = 0; i < x->n_indexes; i++) {
        const Pgvigil__IndexStats *ix = x->indexes[i];
        const Pgvigil__IndexStats *keeper = NULL;
        json_t *dups = json_array();
        for (size_t j = 0; ix->signature && j < x->n_indexes; j++) {
            const Pgvigil__IndexStats *o = x->indexes[j];
            if (j == i || !o->signature || !diag_same(o->database, ix->database) ||
                !diag_same(o->schema, ix->schema) || !diag_same(o->table, ix->table) ||
                strcmp(o->signature, ix->signature) != 0 || !o->is_valid)
                continue;
            json_array_append_new(dups, json_string(o->index ? o->index : ""));
            if (!diag_keep_first(ix, o) && (!keeper || diag_keep_first(o, keeper)))
                keeper = o;
        }
        bool unused = ix->has_idx_scan && ix->idx_scan == 0 && !ix->is_unique && !ix->is_primary &&
                      (!ix->has_is_valid || ix->is_valid);
        json_t *o = json_object();
        json_object_set_new(o, "database", json_string(ix->database ? ix->database : ""));
        json_object_set_new(o, "schema", json_string(ix->schema ? ix->schema : ""));
        json_object_set_new(o, "table", json_string(ix->table ? ix->table : ""));
        json_object_set_new(o, "index", json_string(ix->index ? ix->index : ""));
        json_object_set_new(o, "size_bytes", diag_uint(ix->has_size_bytes, ix->size_bytes));
        json_object_set_new(o, "scans", diag_uint(ix->has_idx_scan, ix->idx_scan));
        json_object_set_new(o, "tuples_read", diag_uint(ix->has_idx_tup_read, ix->idx_tup_read));
        json_object_set_new(o, "unique", json_boolean(ix->is_unique));
        json_object_set_new(o, "primary", json_boolean(ix->is_primary));
        json_object_set_new(o, "valid", json_boolean(!ix->has_is_valid || ix->is_valid));
        json_object_set_new(o, "unused", json_boolean(unused));
        json_object_set_new(o, "duplicates", dups);
        json_object_set_new(o, "duplicate_of",
                            keeper && ix->is_valid ? json_string(keeper->index ? keeper->index : "") : json_null());
        json_object_set_new(o, "definition", ix->definition ? json_string(ix->definition) : json_null());
        json_array_append_new(out, o);
    }
    return out;
}

/* Values computed only on the collector's hourly cadence (bloat, index
 * definitions) carry over from the previous list to the new one. */
void diag_carry(const json_t *before, json_t *now, const char *name_key, const char *const *keys)
{
    zhashx_t *old = zhashx_new();
    size_t i;
    json_t *x;
    char key[400];
    if (!old)
        return;
    json_array_foreach(before, i, x)
    {
        snprintf(key, sizeof key, "%s/%s/%s", diag_js(x, "database"), diag_js(x, "schema"), diag_js(x, name_key));
        zhashx_update(old, key, x);
    }
    json_array_foreach(now, i, x)
    {
        snprintf(key, sizeof key, "%s/%s/%s", diag_js(x, "database"), diag_js(x, "schema"), diag_js(x, name_key));
        const json_t *prev = zhashx_lookup(old, key);
        for (size_t k = 0; prev && keys[k]; k++)
            json_object_set(x, keys[k], json_object_get(prev, keys[k]));
    }
    zhashx_destroy(&old);
}
