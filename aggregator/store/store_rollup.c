/*
 * store_rollup.c — rollups computed by SQL over the raw rows (see
 * store_rollup.h and sql/012_rollups.sql).
 *
 * Why SQL and dirty marks rather than the aggregator's own accumulators:
 * the raw rows are the single source of truth (samples replayed from the
 * spool after an outage, or delivered late to either aggregator of a pair,
 * land in the right minute without any accumulator having seen them), the
 * recomputation of a minute is idempotent, and a restart loses nothing
 * because the marks are written in the same transaction as the rows.
 */
#include "store_rollup.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "partition.h"
#include "store_schema.h"

/* Per slot over the dirty minutes' raw rows, then one array per column. */
static const char rollup_minutes_sql[] =
    "INSERT INTO node_samples_1m (node, bucket, samples, min_values, max_values, avg_values,"
    " last_values, counts)"
    " SELECT node, minute, max(n_all), array_agg(mn ORDER BY slot), array_agg(mx ORDER BY slot),"
    " array_agg(av ORDER BY slot), array_agg(la ORDER BY slot), array_agg(n ORDER BY slot)"
    " FROM (SELECT t.node, t.minute, u.slot, count(*)::int AS n_all, min(u.v) AS mn, max(u.v) AS mx,"
    " avg(u.v)::real AS av, (array_agg(u.v ORDER BY s.collected_at DESC, s.sequence DESC)"
    " FILTER (WHERE u.v IS NOT NULL))[1] AS la, count(u.v)::int AS n"
    " FROM rollup_todo t JOIN node_samples s ON s.node = t.node AND s.collected_at >= t.minute"
    " AND s.collected_at < t.minute + interval '1 minute'"
    " CROSS JOIN LATERAL unnest(s.metric_values) WITH ORDINALITY AS u(v, slot)"
    " GROUP BY 1, 2, 3) x GROUP BY 1, 2"
    " ON CONFLICT (node, bucket) DO UPDATE SET samples = EXCLUDED.samples,"
    " min_values = EXCLUDED.min_values, max_values = EXCLUDED.max_values,"
    " avg_values = EXCLUDED.avg_values, last_values = EXCLUDED.last_values,"
    " counts = EXCLUDED.counts";

/* The hours of the dirty minutes, from the 1-minute rows (the average
 * weighted by each minute's count). */
static const char rollup_hours_sql[] =
    "INSERT INTO node_samples_1h (node, bucket, samples, min_values, max_values, avg_values,"
    " last_values, counts)"
    " SELECT node, hour, max(n_all), array_agg(mn ORDER BY slot), array_agg(mx ORDER BY slot),"
    " array_agg(av ORDER BY slot), array_agg(la ORDER BY slot), array_agg(n ORDER BY slot)"
    " FROM (SELECT t.node, t.hour, u.slot, sum(m.samples)::int AS n_all, min(u.mn) AS mn,"
    " max(u.mx) AS mx, (sum(u.av::float8 * u.n) / nullif(sum(u.n), 0))::real AS av,"
    " (array_agg(u.la ORDER BY m.bucket DESC) FILTER (WHERE u.la IS NOT NULL))[1] AS la,"
    " sum(u.n)::int AS n"
    " FROM (SELECT DISTINCT node, date_bin('1 hour', minute, 'epoch') AS hour FROM rollup_todo) t"
    " JOIN node_samples_1m m ON m.node = t.node AND m.bucket >= t.hour"
    " AND m.bucket < t.hour + interval '1 hour'"
    " CROSS JOIN LATERAL unnest(m.min_values, m.max_values, m.avg_values, m.last_values, m.counts)"
    " WITH ORDINALITY AS u(mn, mx, av, la, n, slot)"
    " GROUP BY 1, 2, 3) x GROUP BY 1, 2"
    " ON CONFLICT (node, bucket) DO UPDATE SET samples = EXCLUDED.samples,"
    " min_values = EXCLUDED.min_values, max_values = EXCLUDED.max_values,"
    " avg_values = EXCLUDED.avg_values, last_values = EXCLUDED.last_values,"
    " counts = EXCLUDED.counts";

static int rollup_create(PGconn *conn, const char *table, int32_t from, int32_t to, char *err,
                         size_t errlen)
{
    char name[PARTITION_NAME_MAX], f[11], t[11], sql[512];
    if (partition_name(table, from, name, sizeof name) != 0)
        return -1;
    partition_date(from, f);
    partition_date(to, t);
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS \"%s\" PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')",
             name, table, f, t);
    return store_schema_exec(conn, sql, err, errlen);
}

int store_rollup_partitions(PGconn *conn, int32_t first, int32_t last, char *err, size_t errlen)
{
    int rc = store_schema_exec(conn, "BEGIN; SELECT pg_advisory_xact_lock(" STORE_SCHEMA_LOCK_KEY ")",
                               err, errlen);
    for (int32_t d = first; rc == 0 && d <= last; d++)
        rc = rollup_create(conn, "node_samples_1m", d, d + 1, err, errlen);
    for (int32_t m = partition_month_start(first); rc == 0 && m <= last; m = partition_next_month(m))
        rc = rollup_create(conn, "node_samples_1h", m, partition_next_month(m), err, errlen);
    if (rc == 0)
        return store_schema_exec(conn, "COMMIT", err, errlen);
    store_schema_exec(conn, "ROLLBACK", NULL, 0);
    return -1;
}

int store_rollup_drop_expired(PGconn *conn, int32_t today, uint32_t days_1m, uint32_t days_1h)
{
    PGresult *r =
        PQexec(conn, "SELECT p.relname, c.relname FROM pg_inherits i"
                     " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
                     " WHERE p.relname IN ('node_samples_1m', 'node_samples_1h') ORDER BY 2");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_warning("could not list rollup partitions: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int dropped = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int32_t day;
        const char *parent = PQgetvalue(r, i, 0), *child = PQgetvalue(r, i, 1);
        bool hourly = parent[sizeof "node_samples_1" - 1] == 'h';
        if (partition_parse(parent, child, &day) != 0)
            continue;
        bool expired = hourly ? partition_month_expired(day, today, days_1h)
                              : partition_expired(day, today, days_1m);
        if (expired && store_schema_drop_partition(conn, parent, child) == 0)
            dropped++;
    }
    PQclear(r);
    return dropped;
}

long store_rollup_run(PGconn *conn, int32_t oldest, char *err, size_t errlen)
{
    char from[11], sql[512];
    partition_date(oldest, from);
    snprintf(sql, sizeof sql,
             "BEGIN; SELECT pg_advisory_xact_lock(" STORE_SCHEMA_LOCK_KEY " + 1);"
             " CREATE TEMP TABLE rollup_todo ON COMMIT DROP AS"
             " WITH d AS (DELETE FROM rollup_dirty RETURNING node, minute)"
             " SELECT DISTINCT node, minute FROM d WHERE minute >= '%s'",
             from);
    if (store_schema_exec(conn, sql, err, errlen) != 0)
        goto fail;
    PGresult *r = PQexec(conn, "SELECT count(*) FROM rollup_todo");
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    if (n < 0)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    if (n < 0 || (n > 0 && (store_schema_exec(conn, rollup_minutes_sql, err, errlen) != 0 ||
                            store_schema_exec(conn, rollup_hours_sql, err, errlen) != 0)))
        goto fail;
    if (store_schema_exec(conn, "COMMIT", err, errlen) != 0)
        goto fail;
    return n;
fail:
    store_schema_exec(conn, "ROLLBACK", NULL, 0);
    return -1;
}

int store_rollup_mark_line(const char *line, size_t len, char *out, size_t cap)
{
    static const char shape[] = "dddd-dd-dd dd:dd:dd"; /* then .ffffff+00 or +00 */
    const char *tab = memchr(line, '\t', len);
    if (!tab || tab == line)
        return -1;
    size_t node_len = (size_t)(tab - line), rest = len - node_len - 1;
    const char *at = tab + 1, *end = memchr(at, '\t', rest);
    if (!end || (size_t)(end - at) < sizeof shape - 1 + 3 || memcmp(end - 3, "+00", 3) != 0)
        return -1;
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)at[i]) : at[i] != shape[i])
            return -1;
    static const char minute_end[] = ":00+00\n";
    size_t n = node_len + 1 + 16 + sizeof minute_end - 1;
    if (n > cap)
        return -1;
    memcpy(out, line, node_len + 1 + 16);
    memcpy(out + node_len + 1 + 16, minute_end, sizeof minute_end - 1);
    return (int)n;
}
