/*
 * store_schema.h — the history schema as the store sees it: migrations
 * (store_migrate, declared in store.h), the partitioned tables, their daily
 * partitions and the staging tables COPY writes into. Blocking libpq calls,
 * made on the store thread (and by tests).
 */
#ifndef PGVIGIL_STORE_SCHEMA_H
#define PGVIGIL_STORE_SCHEMA_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The advisory lock key of schema changes (rollup passes use key + 1). */
#define STORE_SCHEMA_LOCK_KEY "1885828711" /* 0x70677667, "pgvg" */

/* The partitioned table a store_table_t writes to ("node_samples", ...). */
const char *store_schema_table(int table);

/* Run one statement (or several, without parameters); 0 or -1 with the
 * server's message in err. */
int store_schema_exec(PGconn *conn, const char *sql, char *err, size_t errlen);

/* CREATE TEMP staging tables (stage_<table>, and stage_rollup_dirty for
 * the marks of rows written by COPY straight into their table; ON COMMIT
 * DELETE ROWS). */
int store_schema_staging(PGconn *conn, char *err, size_t errlen);

/* Create the partitions of every table for one UTC day, if missing.
 * Returns the number created (0 when all existed) or -1. */
int store_schema_partitions(PGconn *conn, int32_t day, char *err, size_t errlen);

/* Drop the partitions whose day is past the retention (detached first):
 * raw_days for the raw tiers (node_samples, replication_lag), retention_days
 * for the others. Returns the number dropped or -1 if the catalog could not
 * be read. */
int store_schema_drop_expired(PGconn *conn, int32_t today, uint32_t raw_days, uint32_t retention_days);

/* Detach and drop one partition in its own transaction; 0 or -1 (logged). */
int store_schema_drop_partition(PGconn *conn, const char *parent, const char *child);

/* The INSERT ... SELECT from a staging table into its table. */
const char *store_schema_insert_sql(int table);

#endif
