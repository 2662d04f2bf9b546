/*
 * store_schema.c — migrations, daily partitions and staging tables of the
 * history database (see store_schema.h).
 *
 * Migrations and partition DDL take the same advisory lock, so two
 * aggregators writing one database never race on CREATE TABLE. Identifiers
 * spliced into DDL are the constant table names or partition names built by
 * partition.c (or read from the catalog and accepted by partition_parse),
 * never input.
 */
#include "store_schema.h"
#include "store_rollup.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "partition.h"

#define STORE_SCHEMA_MAX_FILES 256

static const char *const store_schema_tables[STORE_TABLE_COUNT] = {
    "node_samples", "replication_lag", "node_status_transitions", "events"};

const char *store_schema_table(int table)
{
    return store_schema_tables[table];
}

int store_schema_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc != 0 && errlen)
        snprintf(err, errlen, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    PQclear(r);
    return rc;
}

static int store_schema_by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int store_schema_param(PGconn *conn, const char *sql, const char *param, bool *row,
                              char *err, size_t errlen)
{
    const char *params[1] = {param};
    PGresult *r = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    if (row)
        *row = st == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

/* Apply one migration file and record it, in one transaction. */
static int store_schema_apply(PGconn *conn, const char *dir, const char *file, char *err,
                              size_t errlen)
{
    char path[1024], *text = NULL;
    size_t cap = 0;
    int rc = -1;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f || getdelim(&text, &cap, '\0', f) < 0) {
        snprintf(err, errlen, "could not read migration \"%s\"", path);
        goto out;
    }
    if (store_schema_exec(conn, "BEGIN", err, errlen) != 0)
        goto out;
    rc = store_schema_exec(conn, text, err, errlen);
    if (rc == 0)
        rc = store_schema_param(conn,
                                "INSERT INTO schema_migrations (version, name)"
                                " VALUES (split_part($1, '_', 1)::int, $1)",
                                file, NULL, err, errlen);
    if (rc != 0) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - used, " (in %s)", path);
        store_schema_exec(conn, "ROLLBACK", NULL, 0);
        goto out;
    }
    if ((rc = store_schema_exec(conn, "COMMIT", err, errlen)) == 0)
        log_info("applied history migration %s", file);
out:
    if (f)
        fclose(f);
    free(text);
    return rc;
}

/* The migration files of dir ("NNN_name.sql"), sorted; returns how many. */
static int store_schema_files(const char *dir, char **files, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "could not open the migrations directory \"%s\"", dir);
        return -1;
    }
    int n = 0;
    for (struct dirent *e = readdir(d); e && n < STORE_SCHEMA_MAX_FILES; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".sql") == 0 && e->d_name[0] >= '0' &&
            e->d_name[0] <= '9' && (files[n] = strdup(e->d_name)))
            n++;
    }
    closedir(d);
    qsort(files, (size_t)n, sizeof *files, store_schema_by_name);
    return n;
}

int store_migrate(void *pgconn, const char *sql_dir, char *err, size_t errlen)
{
    PGconn *conn = pgconn;
    char *files[STORE_SCHEMA_MAX_FILES];
    int n = store_schema_files(sql_dir, files, err, errlen);
    if (n < 0)
        return -1;
    int rc =
        store_schema_exec(conn, "SELECT pg_advisory_lock(" STORE_SCHEMA_LOCK_KEY ")", err, errlen);
    if (rc != 0)
        goto out;
    rc = store_schema_exec(
        conn,
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
        " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
        err, errlen);
    for (int i = 0; i < n && rc == 0; i++) {
        bool applied = false;
        rc = store_schema_param(conn, "SELECT 1 FROM schema_migrations WHERE name = $1", files[i],
                                &applied, err, errlen);
        if (rc == 0 && !applied)
            rc = store_schema_apply(conn, sql_dir, files[i], err, errlen);
    }
    store_schema_exec(conn, "SELECT pg_advisory_unlock(" STORE_SCHEMA_LOCK_KEY ")", NULL, 0);
out:
    for (int i = 0; i < n; i++)
        free(files[i]);
    return rc;
}

int store_schema_staging(PGconn *conn, char *err, size_t errlen)
{
    for (int t = 0; t < STORE_TABLE_COUNT; t++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "CREATE TEMP TABLE IF NOT EXISTS stage_%s (LIKE %s) ON COMMIT DELETE ROWS",
                 store_schema_tables[t], store_schema_tables[t]);
        if (store_schema_exec(conn, sql, err, errlen) != 0)
            return -1;
    }
    return store_schema_exec(conn,
                             "CREATE TEMP TABLE IF NOT EXISTS stage_rollup_dirty (LIKE rollup_dirty)"
                             " ON COMMIT DELETE ROWS",
                             err, errlen);
}

/* Create one partition under the lock's transaction; 1 created, 0 existed, -1. */
static int store_schema_partition(PGconn *conn, int t, int32_t day, char *err, size_t errlen)
{
    char name[PARTITION_NAME_MAX], from[11], to[11], sql[512];
    bool exists = false;
    if (partition_name(store_schema_tables[t], day, name, sizeof name) != 0)
        return -1;
    if (store_schema_param(conn, "SELECT 1 WHERE to_regclass($1) IS NOT NULL", name, &exists, err,
                           errlen) != 0)
        return -1;
    if (exists)
        return 0;
    partition_date(day, from);
    partition_date(day + 1, to);
    snprintf(sql, sizeof sql,
             "CREATE TABLE \"%s\" PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')", name,
             store_schema_tables[t], from, to);
    if (store_schema_exec(conn, sql, err, errlen) != 0)
        return -1;
    log_info("created history partition %s", name);
    return 1;
}

int store_schema_partitions(PGconn *conn, int32_t day, char *err, size_t errlen)
{
    int created = 0,
        rc = store_schema_exec(
            conn, "BEGIN; SELECT pg_advisory_xact_lock(" STORE_SCHEMA_LOCK_KEY ")", err, errlen);
    for (int t = 0; rc == 0 && t < STORE_TABLE_COUNT; t++) {
        int one = store_schema_partition(conn, t, day, err, errlen);
        rc = one < 0 ? -1 : 0;
        created += one > 0;
    }
    if (rc == 0)
        rc = store_schema_exec(conn, "COMMIT", err, errlen);
    else
        store_schema_exec(conn, "ROLLBACK", NULL, 0);
    return rc == 0 ? created : -1;
}

int store_schema_drop_partition(PGconn *conn, const char *parent, const char *child)
{
    char sql[512], err[512];
    snprintf(sql, sizeof sql,
             "BEGIN; SELECT pg_advisory_xact_lock(" STORE_SCHEMA_LOCK_KEY ");"
             " ALTER TABLE %s DETACH PARTITION \"%s\"; DROP TABLE \"%s\"; COMMIT",
             parent, child, child);
    if (store_schema_exec(conn, sql, err, sizeof err) != 0) {
        store_schema_exec(conn, "ROLLBACK", NULL, 0);
        log_warning("could not drop expired history partition %s: %s", child, err);
        return -1;
    }
    log_info("dropped expired history partition %s", child);
    return 0;
}

int store_schema_drop_expired(PGconn *conn, int32_t today, uint32_t raw_days, uint32_t retention_days)
{
    PGresult *r =
        PQexec(conn, "SELECT p.relname, c.relname FROM pg_inherits i"
                     " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
                     " WHERE p.relname IN ('node_samples', 'replication_lag',"
                     " 'node_status_transitions', 'events') ORDER BY 2");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_warning("could not list history partitions: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int dropped = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int32_t day;
        const char *parent = PQgetvalue(r, i, 0), *child = PQgetvalue(r, i, 1);
        bool raw = strcmp(parent, "node_samples") == 0 || strcmp(parent, "replication_lag") == 0;
        if (partition_parse(parent, child, &day) == 0 &&
            partition_expired(day, today, raw ? raw_days : retention_days) &&
            store_schema_drop_partition(conn, parent, child) == 0)
            dropped++;
    }
    PQclear(r);
    return dropped;
}

const char *store_schema_insert_sql(int table)
{
    switch (table) {
    case STORE_STATUS:
        /* The current state moves only forward in time: a late or replayed
         * transition never overwrites a newer one. */
        return "INSERT INTO node_status_transitions SELECT * FROM stage_node_status_transitions"
               " ON CONFLICT DO NOTHING;"
               "INSERT INTO node_status (node, state, since, cluster_id, region, role, timeline, "
               "reason)"
               " SELECT DISTINCT ON (node) node, state, at, cluster_id, region, role, timeline, "
               "reason"
               " FROM stage_node_status_transitions ORDER BY node, at DESC"
               " ON CONFLICT (node) DO UPDATE SET state = EXCLUDED.state, since = EXCLUDED.since,"
               " cluster_id = EXCLUDED.cluster_id, region = EXCLUDED.region, role = EXCLUDED.role,"
               " timeline = EXCLUDED.timeline, reason = EXCLUDED.reason"
               " WHERE node_status.since <= EXCLUDED.since";
    case STORE_NODE_SAMPLES:
        return "INSERT INTO node_samples SELECT * FROM stage_node_samples ON CONFLICT DO NOTHING;"
            STORE_ROLLUP_MARK_SQL;
    case STORE_REPLICATION_LAG:
        return "INSERT INTO replication_lag SELECT * FROM stage_replication_lag ON CONFLICT DO "
               "NOTHING";
    default:
        return "INSERT INTO events SELECT * FROM stage_events ON CONFLICT DO NOTHING";
    }
}
