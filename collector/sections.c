/*
 * sections.c — the table of sections, plus the identity section that opens
 * every round (it is also the liveness probe).
 *
 * Identity is discovered, never configured: the system identifier names the
 * cluster, pg_is_in_recovery() the role (re-read every round: a promotion
 * changes it), and the timeline comes from the current WAL file name on a
 * primary (it changes at once on promotion, unlike pg_control_checkpoint(),
 * which waits for the next checkpoint) or from the WAL receiver on a replica.
 */
#include <stdio.h>
#include <stdlib.h>

#include "section.h"
#include "sections_impl.h"

static const char *identity_sql(const section_ctx_t *ctx)
{
    (void)ctx;
    return "SELECT pg_is_in_recovery(),"
           " (SELECT system_identifier FROM pg_control_system()),"
           " CASE WHEN pg_is_in_recovery()"
           "  THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver),"
           "                (SELECT timeline_id FROM pg_control_checkpoint()))"
           "  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,"
           " (extract(epoch FROM pg_postmaster_start_time()) * 1e6)::bigint,"
           " EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'),"
           " host(inet_server_addr()), inet_server_port()";
}

static int identity_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                           size_t errlen)
{
    protobuf_c_boolean recovery = 0, pgss = 0;
    int64_t sysid = 0;
    if (section_expect(r, 7, 1, err, errlen) != 0)
        return -1;
    if (!section_bool(r, 0, 0, &recovery) || !section_i64(r, 0, 1, &sysid)) {
        snprintf(err, errlen, "pg_is_in_recovery() or the system identifier is NULL");
        return -1;
    }
    ctx->is_replica = recovery;
    s->has_role = 1;
    s->role = recovery ? PGVIGIL__ROLE__ROLE_REPLICA : PGVIGIL__ROLE__ROLE_PRIMARY;
    s->has_system_identifier = 1;
    s->system_identifier = (uint64_t)sysid; /* bigint carries the unsigned bits */
    SECTION_SET(u32, s, timeline, r, 0, 2);
    SECTION_SET(i64, s, server_started_at_us, r, 0, 3);
    section_bool(r, 0, 4, &pgss);
    ctx->has_pg_stat_statements = pgss;
    s->server_address = section_str(r, 0, 5, 64);
    SECTION_SET(u32, s, server_port, r, 0, 6);

    Pgvigil__Probe *p;
    if (!SECTION_NEW(p, pgvigil__probe__init))
        return -1;
    p->has_ok = p->ok = 1;
    p->has_rtt_us = 1;
    p->rtt_us = ctx->query_rtt_us > 0 ? (uint64_t)ctx->query_rtt_us : 0;
    s->probe = p;
    return 0;
}

const section_t section_table[] = {
    {"identity", SECTION_IDENTITY, identity_sql, identity_decode},
    {"connections", SECTION_FAST, connections_sql, connections_decode},
    {"locks", SECTION_FAST, locks_sql, locks_decode},
    {"primary_replication", SECTION_FAST, primary_replication_sql, primary_replication_decode},
    {"replica_replication", SECTION_FAST, replica_replication_sql, replica_replication_decode},
    {"replication_slots", SECTION_SLOW, slots_sql, slots_decode},
    {"databases", SECTION_SLOW, databases_sql, databases_decode},
    {"checkpointer", SECTION_SLOW, checkpointer_sql, checkpointer_decode},
    {"archiver", SECTION_SLOW, archiver_sql, archiver_decode},
    {"wraparound", SECTION_SLOW, wraparound_sql, wraparound_decode},
    {"tables", SECTION_STATS, tables_sql, tables_decode},
    {"indexes", SECTION_STATS, indexes_sql, indexes_decode},
    {"statements", SECTION_STATS, statements_sql, statements_decode},
};
const size_t section_count = sizeof section_table / sizeof section_table[0];
