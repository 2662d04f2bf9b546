/*
 * section_replication.c — replication from both ends (fast cadence) and
 * replication slots (slow cadence).
 *
 * LSNs are read as pg_lsn text and parsed (common/lsn.c) so they travel as
 * uint64. Interval columns become microseconds; NULL (no lag measured yet)
 * stays absent.
 *
 * Lag is measured by comparing positions read on different servers at
 * different moments, so each position carries the moment it was read
 * (measured_at_us): the collector's clock when the query was sent plus half
 * its round trip, closer to the truth than the round's start when earlier
 * sections were slow.
 *
 * The aggregator pairs the primary's pg_stat_replication rows with replica
 * nodes; for that each row carries its slot (pg_replication_slots.active_pid
 * = the WAL sender's pid), the sender's pid and the client's address and
 * port. A replica without a WAL receiver reports the named state
 * "no receiver" rather than an empty one.
 */
#include "sections_impl.h"

#include "clock.h"

/* When the server evaluated the query that is being decoded. */
static int64_t replication_measured_at(const section_ctx_t *ctx)
{
    return clock_wall_us() - ctx->query_rtt_us / 2;
}

#define US(expr) "(extract(epoch FROM " expr ") * 1e6)::bigint"

const char *primary_replication_sql(const section_ctx_t *ctx)
{
    if (ctx->is_replica)
        return NULL;
    /* The one-row left join keeps the WAL position when no standby is attached. */
    return "SELECT pg_current_wal_lsn()::text, r.application_name,"
           " coalesce(host(r.client_addr), ''), r.state, r.sent_lsn::text, r.write_lsn::text,"
           " r.flush_lsn::text, r.replay_lsn::text, " US("r.write_lag") ", " US("r.flush_lag") ","
           " " US("r.replay_lag") ", r.sync_state, " US("r.reply_time") ","
           " (SELECT slot_name FROM pg_replication_slots s WHERE s.active_pid = r.pid),"
           " r.pid IS NOT NULL, r.pid, r.client_port"
           " FROM (SELECT 1) one LEFT JOIN pg_stat_replication r ON true";
}

/* An int column (pid, port); absent when NULL or out of range. */
static bool replication_i32(const PGresult *r, int row, int col, int32_t *out)
{
    int64_t v;
    if (!section_i64(r, row, col, &v) || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

static Pgvigil__Standby *standby_decode(const PGresult *r, int i)
{
    Pgvigil__Standby *b;
    if (!SECTION_NEW(b, pgvigil__standby__init))
        return NULL;
    b->application_name = section_str(r, i, 1, 256);
    b->client_addr = section_str(r, i, 2, 64);
    b->state = section_str(r, i, 3, 32);
    SECTION_SET(lsn, b, sent_lsn, r, i, 4);
    SECTION_SET(lsn, b, write_lsn, r, i, 5);
    SECTION_SET(lsn, b, flush_lsn, r, i, 6);
    SECTION_SET(lsn, b, replay_lsn, r, i, 7);
    SECTION_SET(i64, b, write_lag_us, r, i, 8);
    SECTION_SET(i64, b, flush_lag_us, r, i, 9);
    SECTION_SET(i64, b, replay_lag_us, r, i, 10);
    b->sync_state = section_str(r, i, 11, 32);
    SECTION_SET(i64, b, reply_time_us, r, i, 12);
    b->slot_name = section_str(r, i, 13, 128);
    b->has_pid = replication_i32(r, i, 15, &b->pid);
    b->has_client_port = replication_i32(r, i, 16, &b->client_port);
    return b;
}

int primary_replication_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s,
                               char *err, size_t errlen)
{
    Pgvigil__PrimaryReplication *p;
    if (section_expect(r, 17, 1, err, errlen) != 0 ||
        !SECTION_NEW(p, pgvigil__primary_replication__init))
        return -1;
    s->primary_replication = p;
    SECTION_SET(lsn, p, current_wal_lsn, r, 0, 0);
    p->has_measured_at_us = 1;
    p->measured_at_us = replication_measured_at(ctx);
    int rows = PQntuples(r);
    protobuf_c_boolean attached = 0;
    if (!section_bool(r, 0, 14, &attached) || !attached)
        return 0;
    if (!(p->standbys = section_new_array((size_t)rows)))
        return -1;
    for (int i = 0; i < rows; i++) {
        if (!(p->standbys[i] = standby_decode(r, i)))
            return -1;
        p->n_standbys = (size_t)i + 1;
    }
    return 0;
}

const char *replica_replication_sql(const section_ctx_t *ctx)
{
    if (!ctx->is_replica)
        return NULL;
    /* pg_get_wal_replay_pause_state() (14+) also reports a pause that was
     * requested but has not taken effect yet; flushed_lsn appeared in 13. */
    if (ctx->server_version >= 140000)
        return "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,"
               " " US("pg_last_xact_replay_timestamp()") ","
               " pg_get_wal_replay_pause_state() <> 'not paused', coalesce(w.status, 'no receiver'),"
               " w.sender_host, w.sender_port, " US("w.last_msg_receipt_time") ","
               " w.latest_end_lsn::text, w.slot_name, w.flushed_lsn::text, " US("w.latest_end_time")
               " FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver w ON true";
    if (ctx->server_version >= 130000)
        return "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,"
               " " US("pg_last_xact_replay_timestamp()") ", pg_is_wal_replay_paused(),"
               " coalesce(w.status, 'no receiver'), w.sender_host, w.sender_port,"
               " " US("w.last_msg_receipt_time") ", w.latest_end_lsn::text, w.slot_name,"
               " w.flushed_lsn::text, " US("w.latest_end_time")
               " FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver w ON true";
    return "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,"
           " " US("pg_last_xact_replay_timestamp()") ", pg_is_wal_replay_paused(),"
           " coalesce(w.status, 'no receiver'), w.sender_host, w.sender_port,"
           " " US("w.last_msg_receipt_time") ", w.latest_end_lsn::text, w.slot_name,"
           " w.received_lsn::text, " US("w.latest_end_time")
           " FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver w ON true";
}

int replica_replication_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s,
                               char *err, size_t errlen)
{
    Pgvigil__ReplicaReplication *p;
    if (section_expect(r, 12, 1, err, errlen) != 0 ||
        !SECTION_NEW(p, pgvigil__replica_replication__init))
        return -1;
    s->replica_replication = p;
    p->has_measured_at_us = 1;
    p->measured_at_us = replication_measured_at(ctx);
    SECTION_SET(lsn, p, receive_lsn, r, 0, 0);
    SECTION_SET(lsn, p, replay_lsn, r, 0, 1);
    SECTION_SET(i64, p, last_xact_replay_at_us, r, 0, 2);
    SECTION_SET(bool, p, replay_paused, r, 0, 3);
    p->wal_receiver_status = section_str(r, 0, 4, 32);
    p->upstream_host = section_str(r, 0, 5, 256);
    SECTION_SET(u32, p, upstream_port, r, 0, 6);
    SECTION_SET(i64, p, last_msg_receipt_at_us, r, 0, 7);
    SECTION_SET(lsn, p, latest_end_lsn, r, 0, 8);
    p->slot_name = section_str(r, 0, 9, 128);
    SECTION_SET(lsn, p, flushed_lsn, r, 0, 10);
    SECTION_SET(i64, p, latest_end_at_us, r, 0, 11);
    return 0;
}

const char *slots_sql(const section_ctx_t *ctx)
{
    /* Retained WAL is measured from where this server is now: its own WAL
     * position on a primary, its replay position on a replica. */
    if (ctx->server_version >= 130000)
        return "SELECT slot_name, slot_type, database, active, restart_lsn::text,"
               " confirmed_flush_lsn::text,"
               " pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
               "  ELSE pg_current_wal_lsn() END, restart_lsn)::bigint,"
               " wal_status, safe_wal_size FROM pg_replication_slots ORDER BY slot_name";
    return "SELECT slot_name, slot_type, database, active, restart_lsn::text,"
           " confirmed_flush_lsn::text,"
           " pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
           "  ELSE pg_current_wal_lsn() END, restart_lsn)::bigint,"
           " NULL::text, NULL::bigint FROM pg_replication_slots ORDER BY slot_name";
}

int slots_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                 size_t errlen)
{
    (void)ctx;
    Pgvigil__ReplicationSlots *p;
    int rows = PQntuples(r);
    if (section_expect(r, 9, 0, err, errlen) != 0 ||
        !SECTION_NEW(p, pgvigil__replication_slots__init))
        return -1;
    s->replication_slots = p;
    if (rows == 0)
        return 0;
    if (!(p->slots = section_new_array((size_t)rows)))
        return -1;
    for (int i = 0; i < rows; i++) {
        Pgvigil__ReplicationSlot *sl;
        if (!SECTION_NEW(sl, pgvigil__replication_slot__init))
            return -1;
        p->slots[i] = sl;
        p->n_slots = (size_t)i + 1;
        sl->slot_name = section_str(r, i, 0, 128);
        sl->slot_type = section_str(r, i, 1, 16);
        sl->database = section_str(r, i, 2, 128);
        SECTION_SET(bool, sl, active, r, i, 3);
        SECTION_SET(lsn, sl, restart_lsn, r, i, 4);
        SECTION_SET(lsn, sl, confirmed_flush_lsn, r, i, 5);
        SECTION_SET(u64, sl, retained_bytes, r, i, 6);
        sl->wal_status = section_str(r, i, 7, 16);
        SECTION_SET(i64, sl, safe_wal_size, r, i, 8);
    }
    return 0;
}
