/*
 * store_write.h — writing row records to the history database, with the
 * rows the database refuses set aside.
 *
 * A set of records (store_spool.h's format) is written in one transaction:
 * the node_samples and replication_lag rows by COPY straight into their
 * partitioned tables (and the minutes to roll up into rollup_dirty); when
 * one of them is stored already (unique_violation), or after such a batch,
 * by COPY into the per-session staging tables, then INSERT ... ON CONFLICT
 * DO NOTHING into the partitioned tables, as the other tables' rows always
 * are. Either way a row is stored once whoever writes it (the primary
 * keys). When the database refuses the data
 * itself (SQLSTATE class 22 data exception, 23 integrity, 54 limit: an
 * invalid byte sequence, a value out of range, a malformed line) the set is
 * halved and each half written on its own, down to the single refused row,
 * which goes to the history_quarantine table (sql/010_history_quarantine.sql)
 * with the server's message, so one bad row never stops the rows around it.
 * Any other failure (connection lost, timeout) leaves the set to be retried
 * whole. Runs on the store thread with its connection.
 */
#ifndef PGVIGIL_STORE_WRITE_H
#define PGVIGIL_STORE_WRITE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *buf; /* one record: [u8 table][i32 day][COPY line] */
    size_t len;
} store_rec_t;

typedef struct {
    uint64_t written;     /* rows committed */
    uint64_t quarantined; /* rows set aside in history_quarantine */
    uint64_t batches;     /* transactions committed */
    uint64_t failures;    /* transactions that failed (each bisection step counts) */
    char error[512];      /* the last server message */
} store_write_result_t;

/* Which way batches go in, kept by the caller from one batch to the next
 * (zeroed to start). */
typedef struct {
    unsigned staged_left; /* batches to write staged before trying COPY straight again */
    uint64_t direct;      /* batches committed by COPY straight into their tables */
    uint64_t conflicts;   /* batches that found a row stored already */
} store_write_path_t;

/* Write recs[0..n) (rows only; markers are the caller's). Returns 0 when
 * every row was written or quarantined, -1 when a failure that is not the
 * data's own left some unwritten (res->error says why; retry the whole set
 * later: writes are idempotent). */
int store_write_recs(PGconn *conn, const store_rec_t *recs, size_t n, store_write_path_t *path,
                     store_write_result_t *res);

/* Pure: whether a SQLSTATE names a failure of the data itself. */
int store_write_refused(const char *sqlstate);

#endif
