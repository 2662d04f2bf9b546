/*
 * store_conn.c — the store thread's history connection: connect (migrate,
 * staging tables), back off when it is lost, and keep partitions and rollups
 * (create ahead, drop past each tier's retention, recompute marked minutes).
 * Runs on the store thread only (store_internal.h).
 */
#include "store_internal.h"

#include <stdio.h>

#include "clock.h"
#include "log.h"
#include "partition.h"
#include "store_rollup.h"
#include "store_schema.h"

/* ---- partitions ---- */

/* Make sure the partitions of day exist (once per connection and day). */
int store_partitions_for(store_state_t *st, int32_t day)
{
    char key[16], err[512];
    snprintf(key, sizeof key, "%d", day);
    if (zhashx_lookup(st->days, key))
        return 0;
    int created = store_schema_partitions(st->conn, day, err, sizeof err);
    if (created < 0) {
        log_warning("could not create the history partitions of day %d: %s", day, err);
        return -1;
    }
    atomic_fetch_add(&st->store->c.created, (uint64_t)created);
    return zhashx_insert(st->days, key, (void *)1) == 0 || zhashx_lookup(st->days, key) ? 0 : -1;
}

/* Create today - 1 .. today + ahead, drop what is past the retention. */
int store_maintain(store_state_t *st)
{
    int32_t today = partition_day(clock_wall_us());
    st->next_maintenance_us =
        clock_wall_us() + (int64_t)st->store->opt.maintenance_interval_ms * 1000;
    for (int32_t d = today - 1; d <= today + (int32_t)st->store->opt.partitions_ahead_days; d++)
        if (store_partitions_for(st, d) != 0)
            return -1;
    const store_options_t *o = &st->store->opt;
    char err[512];
    if (store_rollup_partitions(st->conn, today - (int32_t)o->retention_raw_days,
                                today + (int32_t)o->partitions_ahead_days, err, sizeof err) != 0) {
        log_warning("could not create the rollup partitions: %s", err);
        return -1;
    }
    int dropped = store_schema_drop_expired(st->conn, today, o->retention_raw_days, o->retention_days);
    int rolled = store_rollup_drop_expired(st->conn, today, o->retention_1m_days, o->retention_1h_days);
    if (rolled > 0)
        atomic_fetch_add(&st->store->c.dropped, (uint64_t)rolled);
    if (dropped > 0) {
        atomic_fetch_add(&st->store->c.dropped, (uint64_t)dropped);
        zhashx_purge(st->days); /* re-checked against the catalog on next use */
    }
    return dropped < 0 ? -1 : 0;
}

/* Recompute the minutes history batches marked; a failure is logged and
 * retried at the next pass (the marks stay until a pass commits). */
void store_rollup(store_state_t *st)
{
    char err[512];
    int32_t today = partition_day(clock_wall_us());
    st->next_rollup_us = clock_wall_us() + (int64_t)st->store->opt.rollup_interval_ms * 1000;
    if (store_rollup_run(st->conn, today - (int32_t)st->store->opt.retention_raw_days, err, sizeof err) < 0)
        log_warning("history rollup pass failed (retried in %llu ms): %s",
                    (unsigned long long)st->store->opt.rollup_interval_ms, err);
}

/* ---- connection ---- */

void store_disconnect(store_state_t *st, const char *why)
{
    if (st->conn) {
        log_warning("history database connection lost: %s; buffering rows", why);
        PQfinish(st->conn);
        st->conn = NULL;
    }
    atomic_store(&st->store->c.connected, false);
    int64_t delay = 250000LL << (st->attempts < 5 ? st->attempts : 5);
    st->next_connect_us = clock_wall_us() + (delay > 5000000 ? 5000000 : delay);
    st->attempts++;
    zhashx_purge(st->days);
}

/* Connect, migrate, create the staging tables and maintain partitions. */
void store_connect(store_state_t *st)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", NULL};
    const char *vals[] = {st->store->opt.dsn, "pgvigil-aggregator", "2",
                          "-c statement_timeout=15000", NULL};
    char err[1024];
    st->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(st->conn) != CONNECTION_OK) {
        if (st->attempts == 0)
            log_warning("could not connect to the history database: %s", PQerrorMessage(st->conn));
        PQfinish(st->conn);
        st->conn = NULL;
        store_disconnect(st, "");
        return;
    }
    if (store_migrate(st->conn, st->store->opt.sql_dir, err, sizeof err) != 0) {
        log_error("could not apply history migrations: %s", err);
        store_disconnect(st, err);
        return;
    }
    if (store_schema_staging(st->conn, err, sizeof err) != 0) {
        store_disconnect(st, err);
        return;
    }
    if (st->attempts)
        log_info("history database is back; catching up");
    st->attempts = 0;
    atomic_store(&st->store->c.connected, true);
    if (store_maintain(st) != 0)
        store_disconnect(st, "partition maintenance failed");
}

