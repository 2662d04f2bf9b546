/*
 * section_activity.c — connections by state and lock waits (fast cadence),
 * from pg_stat_activity and pg_locks. Client backends only; the collector's
 * own session is excluded.
 */
#include "sections_impl.h"

const char *connections_sql(const section_ctx_t *ctx)
{
    (void)ctx;
    return "SELECT current_setting('max_connections')::int,"
           " current_setting('superuser_reserved_connections')::int,"
           " count(*),"
           " count(*) FILTER (WHERE state = 'active'),"
           " count(*) FILTER (WHERE state = 'idle'),"
           " count(*) FILTER (WHERE state = 'idle in transaction'),"
           " count(*) FILTER (WHERE state = 'idle in transaction (aborted)'),"
           " count(*) FILTER (WHERE state = 'fastpath function call'),"
           " count(*) FILTER (WHERE state = 'disabled'),"
           " count(*) FILTER (WHERE wait_event_type = 'Lock'),"
           " coalesce(extract(epoch FROM now() - min(xact_start)) * 1000, 0)::bigint,"
           " coalesce(extract(epoch FROM now() - min(query_start) FILTER (WHERE state = 'active'))"
           "  * 1000, 0)::bigint,"
           " coalesce(extract(epoch FROM now() - min(state_change)"
           "  FILTER (WHERE state LIKE 'idle in transaction%')) * 1000, 0)::bigint,"
           " coalesce(max(age(backend_xmin)), 0),"
           " (SELECT count(*) FROM pg_stat_activity)"
           " FROM pg_stat_activity"
           " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";
}

int connections_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                       size_t errlen)
{
    (void)ctx;
    Pgvigil__Connections *c;
    if (section_expect(r, 15, 1, err, errlen) != 0 ||
        !SECTION_NEW(c, pgvigil__connections__init))
        return -1;
    s->connections = c;
    SECTION_SET(u32, c, max_connections, r, 0, 0);
    SECTION_SET(u32, c, superuser_reserved, r, 0, 1);
    SECTION_SET(u32, c, total, r, 0, 2);
    SECTION_SET(u32, c, active, r, 0, 3);
    SECTION_SET(u32, c, idle, r, 0, 4);
    SECTION_SET(u32, c, idle_in_transaction, r, 0, 5);
    SECTION_SET(u32, c, idle_in_transaction_aborted, r, 0, 6);
    SECTION_SET(u32, c, fastpath, r, 0, 7);
    SECTION_SET(u32, c, disabled, r, 0, 8);
    SECTION_SET(u32, c, waiting, r, 0, 9);
    SECTION_SET(u64, c, oldest_xact_age_ms, r, 0, 10);
    SECTION_SET(u64, c, oldest_query_age_ms, r, 0, 11);
    SECTION_SET(u64, c, oldest_idle_in_transaction_age_ms, r, 0, 12);
    SECTION_SET(u64, c, oldest_backend_xmin_age, r, 0, 13);
    SECTION_SET(u32, c, in_use, r, 0, 14);
    return 0;
}

const char *locks_sql(const section_ctx_t *ctx)
{
    /* pg_locks.waitstart exists from PostgreSQL 14; before, the state change
     * of a backend waiting on a lock is the best estimate of its wait start. */
    if (ctx->server_version >= 140000)
        return "SELECT (SELECT count(*) FROM pg_stat_activity"
               "         WHERE cardinality(pg_blocking_pids(pid)) > 0),"
               " (SELECT count(*) FROM pg_locks WHERE NOT granted),"
               " coalesce((SELECT extract(epoch FROM now() - min(waitstart)) * 1000"
               "           FROM pg_locks WHERE NOT granted), 0)::bigint,"
               " (SELECT count(DISTINCT b) FROM pg_stat_activity, unnest(pg_blocking_pids(pid)) b)";
    return "SELECT (SELECT count(*) FROM pg_stat_activity"
           "         WHERE cardinality(pg_blocking_pids(pid)) > 0),"
           " (SELECT count(*) FROM pg_locks WHERE NOT granted),"
           " coalesce((SELECT extract(epoch FROM now() - min(state_change)) * 1000"
           "           FROM pg_stat_activity WHERE wait_event_type = 'Lock'), 0)::bigint,"
           " (SELECT count(DISTINCT b) FROM pg_stat_activity, unnest(pg_blocking_pids(pid)) b)";
}

int locks_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                 size_t errlen)
{
    (void)ctx;
    Pgvigil__Locks *l;
    if (section_expect(r, 4, 1, err, errlen) != 0 || !SECTION_NEW(l, pgvigil__locks__init))
        return -1;
    s->locks = l;
    SECTION_SET(u32, l, blocked_sessions, r, 0, 0);
    SECTION_SET(u32, l, lock_waits, r, 0, 1);
    SECTION_SET(u64, l, longest_wait_ms, r, 0, 2);
    SECTION_SET(u32, l, blocking_sessions, r, 0, 3);
    return 0;
}
