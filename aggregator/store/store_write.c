/*
 * store_write.c — one transaction per set of rows, bisected around rows the
 * database refuses (see store_write.h).
 *
 * Why COPY straight into the tables, and a savepoint rather than a ledger:
 * staging plus INSERT ... ON CONFLICT parses every row twice and probes the
 * key twice; COPY into node_samples and replication_lag does each once
 * (about a third less database time a batch). Idempotence stays with the
 * primary keys, the identity of a sample whoever wrote it: a batch holding
 * a row already stored (a spool replay after an outage, the other
 * aggregator of a pair writing the same samples) fails its COPY with
 * unique_violation, rolls back to the savepoint and goes through the
 * staging tables with ON CONFLICT DO NOTHING in the same transaction. A
 * per-batch ledger could not say that: two aggregators batch the same
 * samples differently. After such a conflict the next batches go staged
 * at once (more duplicates are likely), and COPY straight is tried again
 * after STORE_WRITE_STAGED_AFTER_CONFLICT of them.
 */
#include "store_write.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "log.h"
#include "pbtext.h"
#include "store.h"
#include "store_rollup.h"
#include "store_schema.h"
#include "store_spool.h"

#define STORE_WRITE_STAGED_AFTER_CONFLICT 64

/* The tables a batch may COPY into directly (the high-volume raw ones). */
static bool store_write_direct_table(int t)
{
    return t == STORE_NODE_SAMPLES || t == STORE_REPLICATION_LAG;
}

typedef struct {
    char *buf[STORE_TABLE_COUNT];
    size_t len[STORE_TABLE_COUNT];
    FILE *mem[STORE_TABLE_COUNT];
    size_t rows;
    zhashx_t *marks;   /* rollup_dirty COPY lines of the node_samples rows, once each */
    bool marks_known;  /* every node_samples line gave its mark */
    char *marks_buf;
    size_t marks_len;
} store_write_batch_t;

int store_write_refused(const char *sqlstate)
{
    return sqlstate && (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
                        strncmp(sqlstate, "54", 2) == 0);
}

static void store_write_batch_free(store_write_batch_t *b)
{
    for (int t = 0; t < STORE_TABLE_COUNT; t++) {
        if (b->mem[t])
            fclose(b->mem[t]);
        free(b->buf[t]);
    }
    zhashx_destroy(&b->marks);
    free(b->marks_buf);
    memset(b, 0, sizeof *b);
}

/* Note the rollup mark of one node_samples line; a line without one
 * sends the batch through the staging tables (marked there by SQL). */
static void store_write_mark(store_write_batch_t *b, const char *line, size_t len)
{
    char mark[1024];
    int n = b->marks_known ? store_rollup_mark_line(line, len, mark, sizeof mark - 1) : -1;
    if (n < 0) {
        b->marks_known = false;
        return;
    }
    mark[n] = '\0';
    if (!zhashx_lookup(b->marks, mark) && zhashx_insert(b->marks, mark, (void *)1) != 0)
        b->marks_known = false;
}

/* The marks as one COPY text; -1 when out of memory. */
static int store_write_marks_text(store_write_batch_t *b)
{
    FILE *mem = open_memstream(&b->marks_buf, &b->marks_len);
    if (!mem)
        return -1;
    int rc = 0;
    for (void *v = zhashx_first(b->marks); v && rc == 0; v = zhashx_next(b->marks)) {
        const char *mark = zhashx_cursor(b->marks);
        rc = fputs(mark, mem) < 0 ? -1 : 0;
    }
    return fclose(mem) != 0 ? -1 : rc;
}

/* The COPY text of each table and the marks; -1 when out of memory. */
static int store_write_build(const store_rec_t *recs, size_t n, store_write_batch_t *b)
{
    if (!(b->marks = zhashx_new()))
        return -1;
    b->marks_known = true;
    for (size_t i = 0; i < n; i++) {
        store_spool_record_t rec;
        if (store_spool_decode(recs[i].buf, recs[i].len, STORE_TABLE_COUNT, &rec) != 0)
            continue; /* the caller skipped these already */
        int t = rec.table;
        if (!b->mem[t] && !(b->mem[t] = open_memstream(&b->buf[t], &b->len[t])))
            return -1;
        if (fwrite(rec.line, 1, rec.line_len, b->mem[t]) != rec.line_len)
            return -1;
        if (t == STORE_NODE_SAMPLES)
            store_write_mark(b, rec.line, rec.line_len);
        b->rows++;
    }
    int rc = 0;
    for (int t = 0; t < STORE_TABLE_COUNT; t++)
        if (b->mem[t]) {
            rc |= fclose(b->mem[t]) != 0 ? -1 : 0;
            b->mem[t] = NULL;
        }
    if (rc == 0 && b->marks_known)
        rc = store_write_marks_text(b);
    return rc;
}

/* Keep the message and SQLSTATE of a failed result; always -1. */
static int store_write_failed(PGconn *conn, const PGresult *r, char *state, store_write_result_t *res)
{
    const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(conn);
    snprintf(state, 6, "%s", code ? code : "");
    char *clean = pbtext_to_utf8(msg, sizeof res->error - 1);
    snprintf(res->error, sizeof res->error, "%s", clean ? clean : "out of memory");
    res->error[strcspn(res->error, "\n")] = '\0';
    free(clean);
    return -1;
}

static int store_write_exec(PGconn *conn, const char *sql, char *state, store_write_result_t *res)
{
    PGresult *r = PQexec(conn, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : store_write_failed(conn, r, state, res);
    PQclear(r);
    return rc;
}

/* COPY data into table (a staging table or a partitioned one). */
static int store_write_copy(PGconn *conn, const char *table, const char *data, size_t len,
                            char *state, store_write_result_t *res)
{
    char sql[160];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table);
    PGresult *r = PQexec(conn, sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COPY_IN)
        rc = store_write_failed(conn, r, state, res);
    PQclear(r);
    if (rc == 0 && (PQputCopyData(conn, data, (int)len) != 1 || PQputCopyEnd(conn, NULL) != 1))
        rc = store_write_failed(conn, NULL, state, res);
    while ((r = PQgetResult(conn))) {
        if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = store_write_failed(conn, r, state, res);
        PQclear(r);
    }
    return rc;
}

/* The raw tables' rows by COPY straight into them, and their marks:
 * 0 written, 1 a row was there already (rolled back to the savepoint: write
 * them staged), -1 failed. */
static int store_write_direct(PGconn *conn, const store_write_batch_t *b, char *state,
                              store_write_result_t *res)
{
    int rc = store_write_exec(conn, "SAVEPOINT store_direct", state, res);
    for (int t = 0; rc == 0 && t < STORE_TABLE_COUNT; t++)
        if (b->len[t] && store_write_direct_table(t))
            rc = store_write_copy(conn, store_schema_table(t), b->buf[t], b->len[t], state, res);
    if (rc == 0 && b->marks_len)
        rc = store_write_copy(conn, "stage_rollup_dirty", b->marks_buf, b->marks_len, state, res);
    if (rc == 0 && b->marks_len)
        rc = store_write_exec(conn, STORE_ROLLUP_MARK_STAGED_SQL, state, res);
    if (rc != 0 && strcmp(state, "23505") == 0 && PQstatus(conn) == CONNECTION_OK) {
        /* Failing, the rollback's own SQLSTATE is kept: not the data's
         * fault, so the set is retried whole rather than bisected. */
        if (store_write_exec(conn, "ROLLBACK TO SAVEPOINT store_direct", state, res) != 0)
            return -1;
        state[0] = '\0';
        return 1;
    }
    return rc;
}

/* Whether this batch tries COPY straight into its tables (see the top). */
static bool store_write_try_direct(store_write_path_t *path, const store_write_batch_t *b)
{
    if (!b->marks_known || !(b->len[STORE_NODE_SAMPLES] || b->len[STORE_REPLICATION_LAG]))
        return false;
    if (path->staged_left == 0)
        return true;
    path->staged_left--;
    return false;
}

/* One transaction; state receives the SQLSTATE of a failure. */
static int store_write_once(PGconn *conn, const store_rec_t *recs, size_t n, store_write_path_t *path,
                            char *state, store_write_result_t *res)
{
    store_write_batch_t b = {0};
    state[0] = '\0';
    if (store_write_build(recs, n, &b) != 0) {
        store_write_batch_free(&b);
        snprintf(res->error, sizeof res->error, "out of memory");
        return -1;
    }
    int rc = store_write_exec(conn, "BEGIN", state, res);
    bool direct = rc == 0 && store_write_try_direct(path, &b);
    if (direct) {
        int d = store_write_direct(conn, &b, state, res);
        rc = d < 0 ? -1 : 0;
        if (d == 1) {
            direct = false;
            path->conflicts++;
            log_debug("a history batch of %zu rows holds rows stored already; it and the next %d"
                      " batches go through the staging tables", n, STORE_WRITE_STAGED_AFTER_CONFLICT);
            path->staged_left = STORE_WRITE_STAGED_AFTER_CONFLICT;
        }
    }
    for (int t = 0; rc == 0 && t < STORE_TABLE_COUNT; t++) {
        if (!b.len[t] || (direct && store_write_direct_table(t)))
            continue;
        char stage[64];
        snprintf(stage, sizeof stage, "stage_%s", store_schema_table(t));
        rc = store_write_copy(conn, stage, b.buf[t], b.len[t], state, res);
        if (rc == 0)
            rc = store_write_exec(conn, store_schema_insert_sql(t), state, res);
    }
    if (rc == 0)
        rc = store_write_exec(conn, "COMMIT", state, res);
    if (rc != 0) {
        PGresult *r = PQexec(conn, "ROLLBACK");
        PQclear(r);
        res->failures++;
    } else {
        res->written += b.rows;
        res->batches++;
        if (direct)
            path->direct++;
    }
    store_write_batch_free(&b);
    return rc;
}

/* Set one refused row aside with the server's message. */
static int store_write_quarantine(PGconn *conn, const store_rec_t *rec, store_write_result_t *res)
{
    store_spool_record_t r;
    if (store_spool_decode(rec->buf, rec->len, STORE_TABLE_COUNT, &r) != 0)
        return 0;
    char day[16];
    snprintf(day, sizeof day, "%d", (int)r.day);
    const char *vals[4] = {store_schema_table(r.table), day, r.line, res->error};
    int lens[4] = {0, 0, (int)r.line_len, 0}, fmts[4] = {0, 0, 1, 0};
    PGresult *q = PQexecParams(conn,
                               "INSERT INTO history_quarantine (target_table, day, line, error)"
                               " VALUES ($1, $2::integer, $3::bytea, $4)",
                               4, NULL, vals, lens, fmts, 0);
    int rc = PQresultStatus(q) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(q);
    if (rc != 0 && PQstatus(conn) == CONNECTION_OK)
        rc = 0; /* the table refused it too: counted, never retried forever */
    if (rc == 0)
        res->quarantined++;
    return rc;
}

int store_write_recs(PGconn *conn, const store_rec_t *recs, size_t n, store_write_path_t *path,
                     store_write_result_t *res)
{
    char state[6];
    if (n == 0 || store_write_once(conn, recs, n, path, state, res) == 0)
        return 0;
    if (PQstatus(conn) != CONNECTION_OK || !store_write_refused(state))
        return -1;
    if (n == 1)
        return store_write_quarantine(conn, recs, res);
    size_t half = n / 2;
    if (store_write_recs(conn, recs, half, path, res) != 0)
        return -1;
    return store_write_recs(conn, recs + half, n - half, path, res);
}
