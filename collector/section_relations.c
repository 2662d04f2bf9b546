/*
 * section_relations.c — table and index statistics (stats cadence) of the
 * database the collector is connected to, largest first and bounded so a
 * schema with thousands of relations cannot blow up a sample.
 *
 * Sizes come from pg_total_relation_size() and friends; lock_timeout on the
 * session keeps a relation locked by VACUUM FULL from stalling the round.
 */
#include "sections_impl.h"

#define US(expr) "(extract(epoch FROM " expr ") * 1e6)::bigint"
#define RELATIONS_MAX_TABLES "1000"
#define RELATIONS_MAX_INDEXES "3000"

/* Autovacuum triggers, from the server's settings overridden by the table's
 * reloptions, and (on the hourly cadence) a heap bloat estimate from catalog
 * statistics: the pages reltuples rows of the analysed average width would
 * fill at the table's fillfactor, against the pages it has. Sizes are taken
 * once per table in a subquery (the size functions are volatile and would
 * otherwise run again for ORDER BY); TOAST is the table size less the heap's
 * own forks. */
#define RO(name) "max(CASE WHEN option_name = '" name "' THEN option_value END)"
#define SETTING(name) "current_setting('" name "')::float8"
#define TABLES_SELECT                                                                              \
    "SELECT current_database(), t.schemaname, t.relname, t.n_live_tup, t.n_dead_tup,"              \
    " t.n_mod_since_analyze, t.seq_scan, t.seq_tup_read, t.idx_scan, t.idx_tup_fetch,"              \
    " t.n_tup_ins, t.n_tup_upd, t.n_tup_del, t.n_tup_hot_upd, " US("t.last_vacuum") ","             \
    " " US("t.last_autovacuum") ", " US("t.last_analyze") ", " US("t.last_autoanalyze") ","         \
    " t.vacuum_count, t.autovacuum_count, t.analyze_count, t.autoanalyze_count,"                    \
    " t.ts + t.ix, t.hb, t.ix, greatest(t.ts - t.hb - t.fsm - t.vm, 0), age(t.relfrozenxid), "
#define TABLES_FROM(ins)                                                                           \
    " FROM (SELECT s.*, c.reltuples, c.relpages, c.relfrozenxid, c.reloptions,"                     \
    " pg_table_size(s.relid) AS ts, pg_relation_size(s.relid) AS hb,"                               \
    " pg_relation_size(s.relid, 'fsm') AS fsm, pg_relation_size(s.relid, 'vm') AS vm,"              \
    " pg_indexes_size(s.relid) AS ix, " ins " AS ins"                                                \
    " FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid OFFSET 0) t"
#define TABLES_TAIL(ins_threshold, bloat, bloat_join)                                              \
    " t.ins, coalesce(ro.vt, " SETTING("autovacuum_vacuum_threshold") ") + coalesce(ro.vsf, "       \
    SETTING("autovacuum_vacuum_scale_factor") ") * greatest(t.reltuples, 0),"                        \
    " coalesce(ro.at, " SETTING("autovacuum_analyze_threshold") ") + coalesce(ro.asf, "             \
    SETTING("autovacuum_analyze_scale_factor") ") * greatest(t.reltuples, 0), " ins_threshold ","   \
    " current_setting('autovacuum')::bool AND coalesce(ro.enabled, true), " bloat ", t.reltuples"   \
    " FROM t LEFT JOIN LATERAL (SELECT " RO("autovacuum_vacuum_threshold") "::float8 AS vt, "        \
    RO("autovacuum_vacuum_scale_factor") "::float8 AS vsf, " RO("autovacuum_analyze_threshold")     \
    "::float8 AS at, " RO("autovacuum_analyze_scale_factor") "::float8 AS asf, "                    \
    RO("autovacuum_vacuum_insert_threshold") "::float8 AS it, "                                     \
    RO("autovacuum_vacuum_insert_scale_factor") "::float8 AS isf, "                                 \
    RO("autovacuum_enabled") "::bool AS enabled, " RO("fillfactor") "::float8 AS ff"               \
    " FROM pg_options_to_table(t.reloptions)) ro ON true" bloat_join                                \
    " ORDER BY t.ts + t.ix DESC LIMIT " RELATIONS_MAX_TABLES
#define TABLES_INS_THRESHOLD                                                                       \
    "CASE WHEN coalesce(ro.it, " SETTING("autovacuum_vacuum_insert_threshold") ") < 0 THEN NULL"    \
    " ELSE coalesce(ro.it, " SETTING("autovacuum_vacuum_insert_threshold") ") + coalesce(ro.isf, "  \
    SETTING("autovacuum_vacuum_insert_scale_factor") ") * greatest(t.reltuples, 0) END"
#define TABLES_BLOAT                                                                               \
    "CASE WHEN ps.w IS NULL OR t.reltuples <= 0 THEN NULL ELSE greatest(t.relpages::float8 -"       \
    " ceil(t.reltuples * (28 + ps.w) / ((current_setting('block_size')::float8 - 24) *"             \
    " coalesce(ro.ff, 100) / 100)), 0)::bigint * current_setting('block_size')::bigint END"
#define TABLES_BLOAT_JOIN                                                                          \
    " LEFT JOIN (SELECT schemaname, tablename, sum((1 - null_frac) * avg_width) AS w"              \
    " FROM pg_stats GROUP BY schemaname, tablename) ps"                                             \
    " ON ps.schemaname = t.schemaname AND ps.tablename = t.relname"
/* WITH t AS (...) keeps the sizes computed once. */
#define TABLES_SQL(ins, ins_threshold, bloat, bloat_join)                                          \
    "WITH t AS (SELECT *" TABLES_FROM(ins) ") " TABLES_SELECT TABLES_TAIL(ins_threshold, bloat, bloat_join)

const char *tables_sql(const section_ctx_t *ctx)
{
    /* An insert threshold of -1 turns insert-triggered vacuums off. */
    if (ctx->server_version >= 130000)
        return ctx->hourly_due
                   ? TABLES_SQL("s.n_ins_since_vacuum", TABLES_INS_THRESHOLD, TABLES_BLOAT, TABLES_BLOAT_JOIN)
                   : TABLES_SQL("s.n_ins_since_vacuum", TABLES_INS_THRESHOLD, "NULL::bigint", "");
    return ctx->hourly_due ? TABLES_SQL("NULL::bigint", "NULL::float8", TABLES_BLOAT, TABLES_BLOAT_JOIN)
                           : TABLES_SQL("NULL::bigint", "NULL::float8", "NULL::bigint", "");
}

static Pgvigil__TableStats *table_decode(const PGresult *r, int i)
{
    Pgvigil__TableStats *t;
    if (!SECTION_NEW(t, pgvigil__table_stats__init))
        return NULL;
    t->database = section_str(r, i, 0, 128);
    t->schema = section_str(r, i, 1, 128);
    t->table = section_str(r, i, 2, 128);
    SECTION_SET(u64, t, live_tuples, r, i, 3);
    SECTION_SET(u64, t, dead_tuples, r, i, 4);
    SECTION_SET(u64, t, mod_since_analyze, r, i, 5);
    SECTION_SET(u64, t, seq_scan, r, i, 6);
    SECTION_SET(u64, t, seq_tup_read, r, i, 7);
    SECTION_SET(u64, t, idx_scan, r, i, 8);
    SECTION_SET(u64, t, idx_tup_fetch, r, i, 9);
    SECTION_SET(u64, t, n_tup_ins, r, i, 10);
    SECTION_SET(u64, t, n_tup_upd, r, i, 11);
    SECTION_SET(u64, t, n_tup_del, r, i, 12);
    SECTION_SET(u64, t, n_tup_hot_upd, r, i, 13);
    SECTION_SET(i64, t, last_vacuum_at_us, r, i, 14);
    SECTION_SET(i64, t, last_autovacuum_at_us, r, i, 15);
    SECTION_SET(i64, t, last_analyze_at_us, r, i, 16);
    SECTION_SET(i64, t, last_autoanalyze_at_us, r, i, 17);
    SECTION_SET(u64, t, vacuum_count, r, i, 18);
    SECTION_SET(u64, t, autovacuum_count, r, i, 19);
    SECTION_SET(u64, t, analyze_count, r, i, 20);
    SECTION_SET(u64, t, autoanalyze_count, r, i, 21);
    SECTION_SET(u64, t, total_bytes, r, i, 22);
    SECTION_SET(u64, t, table_bytes, r, i, 23);
    SECTION_SET(u64, t, index_bytes, r, i, 24);
    SECTION_SET(u64, t, toast_bytes, r, i, 25);
    SECTION_SET(u64, t, relfrozenxid_age, r, i, 26);
    SECTION_SET(u64, t, n_ins_since_vacuum, r, i, 27);
    SECTION_SET(double, t, vacuum_threshold, r, i, 28);
    SECTION_SET(double, t, analyze_threshold, r, i, 29);
    SECTION_SET(double, t, insert_threshold, r, i, 30);
    SECTION_SET(bool, t, autovacuum_enabled, r, i, 31);
    SECTION_SET(u64, t, bloat_bytes, r, i, 32);
    SECTION_SET(double, t, reltuples, r, i, 33);
    return t;
}

int tables_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                  size_t errlen)
{
    Pgvigil__Tables *p;
    int rows = PQntuples(r);
    if (section_expect(r, 34, 0, err, errlen) != 0 || !SECTION_NEW(p, pgvigil__tables__init))
        return -1;
    s->tables = p;
    p->has_estimates = 1;
    p->estimates = ctx->hourly_due;
    if (!(p->tables = section_new_array((size_t)rows)))
        return -1;
    for (int i = 0; i < rows; i++) {
        if (!(p->tables[i] = table_decode(r, i)))
            return -1;
        p->n_tables = (size_t)i + 1;
    }
    return 0;
}

/* Definitions (pg_get_indexdef deparses, which is costly over thousands
 * of indexes) on the hourly cadence only; the aggregator keeps them. */
#define INDEXES_SQL(def)                                                                           \
    "SELECT current_database(), x.schemaname, x.relname, x.indexrelname, x.idx_scan,"              \
    " x.idx_tup_read, x.idx_tup_fetch, x.size, x.indisunique, x.indisprimary, x.indisvalid,"        \
    " x.indkey::text, " def ", x.signature FROM (SELECT s.*, i.indisunique, i.indisprimary,"        \
    " i.indisvalid, i.indkey, pg_relation_size(s.indexrelid) AS size,"                              \
    " i.indkey::text || ' ' || i.indclass::text || coalesce(' ' || pg_get_expr(i.indexprs, i.indrelid), '')" \
    " || coalesce(' WHERE ' || pg_get_expr(i.indpred, i.indrelid), '') AS signature"                \
    " FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid OFFSET 0) x"       \
    " ORDER BY x.size DESC LIMIT " RELATIONS_MAX_INDEXES

const char *indexes_sql(const section_ctx_t *ctx)
{
    return ctx->hourly_due ? INDEXES_SQL("pg_get_indexdef(x.indexrelid)") : INDEXES_SQL("NULL::text");
}

int indexes_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                   size_t errlen)
{
    Pgvigil__Indexes *p;
    int rows = PQntuples(r);
    if (section_expect(r, 14, 0, err, errlen) != 0 || !SECTION_NEW(p, pgvigil__indexes__init))
        return -1;
    s->indexes = p;
    p->has_definitions = 1;
    p->definitions = ctx->hourly_due;
    if (!(p->indexes = section_new_array((size_t)rows)))
        return -1;
    for (int i = 0; i < rows; i++) {
        Pgvigil__IndexStats *x;
        if (!SECTION_NEW(x, pgvigil__index_stats__init))
            return -1;
        p->indexes[i] = x;
        p->n_indexes = (size_t)i + 1;
        x->database = section_str(r, i, 0, 128);
        x->schema = section_str(r, i, 1, 128);
        x->table = section_str(r, i, 2, 128);
        x->index = section_str(r, i, 3, 128);
        SECTION_SET(u64, x, idx_scan, r, i, 4);
        SECTION_SET(u64, x, idx_tup_read, r, i, 5);
        SECTION_SET(u64, x, idx_tup_fetch, r, i, 6);
        SECTION_SET(u64, x, size_bytes, r, i, 7);
        SECTION_SET(bool, x, is_unique, r, i, 8);
        SECTION_SET(bool, x, is_primary, r, i, 9);
        SECTION_SET(bool, x, is_valid, r, i, 10);
        x->columns = section_str(r, i, 11, 256);
        x->definition = section_str(r, i, 12, 2048);
        x->signature = section_str(r, i, 13, 2048);
    }
    return 0;
}
