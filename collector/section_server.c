/*
 * section_server.c — instance-wide counters on the slow cadence: per-database
 * statistics (pg_stat_database, every connectable database or the configured
 * list), checkpointer/bgwriter, archiver, and transaction-ID wraparound age.
 */
#include <string.h>

#include "sections_impl.h"

#define US(expr) "(extract(epoch FROM " expr ") * 1e6)::bigint"

/* Is datname selected by the configuration's databases list (all if none)? */
static bool server_database_wanted(const col_config_t *cfg, const char *datname)
{
    if (!cfg->databases)
        return true;
    for (size_t i = 0; i < cfg->database_count; i++)
        if (strcmp(cfg->databases[i], datname) == 0)
            return true;
    return false;
}

const char *databases_sql(const section_ctx_t *ctx)
{
    (void)ctx;
    return "SELECT d.datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit,"
           " tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, temp_files,"
           " temp_bytes, deadlocks, conflicts, coalesce(checksum_failures, 0),"
           " pg_database_size(d.datid), " US("stats_reset")
           " FROM pg_stat_database d JOIN pg_database db ON db.oid = d.datid"
           " WHERE db.datallowconn AND NOT db.datistemplate ORDER BY d.datname";
}

static Pgvigil__DatabaseStats *database_decode(const PGresult *r, int i)
{
    Pgvigil__DatabaseStats *d;
    if (!SECTION_NEW(d, pgvigil__database_stats__init))
        return NULL;
    d->datname = section_str(r, i, 0, 128);
    SECTION_SET(u32, d, numbackends, r, i, 1);
    SECTION_SET(u64, d, xact_commit, r, i, 2);
    SECTION_SET(u64, d, xact_rollback, r, i, 3);
    SECTION_SET(u64, d, blks_read, r, i, 4);
    SECTION_SET(u64, d, blks_hit, r, i, 5);
    SECTION_SET(u64, d, tup_returned, r, i, 6);
    SECTION_SET(u64, d, tup_fetched, r, i, 7);
    SECTION_SET(u64, d, tup_inserted, r, i, 8);
    SECTION_SET(u64, d, tup_updated, r, i, 9);
    SECTION_SET(u64, d, tup_deleted, r, i, 10);
    SECTION_SET(u64, d, temp_files, r, i, 11);
    SECTION_SET(u64, d, temp_bytes, r, i, 12);
    SECTION_SET(u64, d, deadlocks, r, i, 13);
    SECTION_SET(u64, d, conflicts, r, i, 14);
    SECTION_SET(u64, d, checksum_failures, r, i, 15);
    SECTION_SET(u64, d, size_bytes, r, i, 16);
    SECTION_SET(i64, d, stats_reset_at_us, r, i, 17);
    return d;
}

int databases_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                     size_t errlen)
{
    Pgvigil__Databases *p;
    int rows = PQntuples(r);
    if (section_expect(r, 18, 0, err, errlen) != 0 || !SECTION_NEW(p, pgvigil__databases__init))
        return -1;
    s->databases = p;
    if (!(p->databases = section_new_array((size_t)rows)))
        return -1;
    for (int i = 0; i < rows; i++) {
        if (!server_database_wanted(ctx->cfg, PQgetvalue(r, i, 0)))
            continue;
        if (!(p->databases[p->n_databases] = database_decode(r, i)))
            return -1;
        p->n_databases++;
    }
    return 0;
}

const char *checkpointer_sql(const section_ctx_t *ctx)
{
    if (ctx->server_version >= 170000)
        return "SELECT c.num_timed, c.num_requested, c.write_time, c.sync_time,"
               " c.buffers_written, b.buffers_clean, b.maxwritten_clean, NULL::bigint,"
               " b.buffers_alloc, " US("c.stats_reset")
               " FROM pg_stat_checkpointer c, pg_stat_bgwriter b";
    return "SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time,"
           " checkpoint_sync_time, buffers_checkpoint, buffers_clean, maxwritten_clean,"
           " buffers_backend, buffers_alloc, " US("stats_reset") " FROM pg_stat_bgwriter";
}

int checkpointer_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                        size_t errlen)
{
    (void)ctx;
    Pgvigil__Checkpointer *c;
    if (section_expect(r, 10, 1, err, errlen) != 0 ||
        !SECTION_NEW(c, pgvigil__checkpointer__init))
        return -1;
    s->checkpointer = c;
    SECTION_SET(u64, c, checkpoints_timed, r, 0, 0);
    SECTION_SET(u64, c, checkpoints_requested, r, 0, 1);
    SECTION_SET(double, c, write_time_ms, r, 0, 2);
    SECTION_SET(double, c, sync_time_ms, r, 0, 3);
    SECTION_SET(u64, c, buffers_checkpoint, r, 0, 4);
    SECTION_SET(u64, c, buffers_clean, r, 0, 5);
    SECTION_SET(u64, c, maxwritten_clean, r, 0, 6);
    SECTION_SET(u64, c, buffers_backend, r, 0, 7);
    SECTION_SET(u64, c, buffers_alloc, r, 0, 8);
    SECTION_SET(i64, c, stats_reset_at_us, r, 0, 9);
    return 0;
}

const char *archiver_sql(const section_ctx_t *ctx)
{
    (void)ctx;
    return "SELECT current_setting('archive_mode'), archived_count, failed_count,"
           " last_archived_wal, " US("last_archived_time") ", last_failed_wal,"
           " " US("last_failed_time") " FROM pg_stat_archiver";
}

int archiver_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                    size_t errlen)
{
    (void)ctx;
    Pgvigil__Archiver *a;
    if (section_expect(r, 7, 1, err, errlen) != 0 || !SECTION_NEW(a, pgvigil__archiver__init))
        return -1;
    s->archiver = a;
    a->archive_mode = section_str(r, 0, 0, 16);
    SECTION_SET(u64, a, archived_count, r, 0, 1);
    SECTION_SET(u64, a, failed_count, r, 0, 2);
    a->last_archived_wal = section_str(r, 0, 3, 64);
    SECTION_SET(i64, a, last_archived_at_us, r, 0, 4);
    a->last_failed_wal = section_str(r, 0, 5, 64);
    SECTION_SET(i64, a, last_failed_at_us, r, 0, 6);
    return 0;
}

const char *wraparound_sql(const section_ctx_t *ctx)
{
    (void)ctx;
    return "SELECT datname, age(datfrozenxid), mxid_age(datminmxid),"
           " current_setting('autovacuum_freeze_max_age')::bigint"
           " FROM pg_database ORDER BY datname";
}

int wraparound_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                      size_t errlen)
{
    (void)ctx;
    Pgvigil__Wraparound *w;
    int rows = PQntuples(r);
    if (section_expect(r, 4, 0, err, errlen) != 0 || !SECTION_NEW(w, pgvigil__wraparound__init))
        return -1;
    s->wraparound = w;
    SECTION_SET(u64, w, autovacuum_freeze_max_age, r, 0, 3);
    if (!(w->databases = section_new_array((size_t)rows)))
        return -1;
    for (int i = 0; i < rows; i++) {
        Pgvigil__DatabaseAge *d;
        if (!SECTION_NEW(d, pgvigil__database_age__init))
            return -1;
        w->databases[i] = d;
        w->n_databases = (size_t)i + 1;
        d->datname = section_str(r, i, 0, 128);
        SECTION_SET(u64, d, datfrozenxid_age, r, i, 1);
        SECTION_SET(u64, d, datminmxid_age, r, i, 2);
    }
    return 0;
}
