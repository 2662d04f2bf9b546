/*
 * store_write.c — one transaction per set of rows, bisected around rows the
 * database refuses (see store_write.h).
 */
#include "store_write.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbtext.h"
#include "store.h"
#include "store_schema.h"
#include "store_spool.h"

typedef struct {
    char *buf[STORE_TABLE_COUNT];
    size_t len[STORE_TABLE_COUNT];
    FILE *mem[STORE_TABLE_COUNT];
    size_t rows;
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
    memset(b, 0, sizeof *b);
}

/* The COPY text of each table; -1 when out of memory. */
static int store_write_build(const store_rec_t *recs, size_t n, store_write_batch_t *b)
{
    for (size_t i = 0; i < n; i++) {
        store_spool_record_t rec;
        if (store_spool_decode(recs[i].buf, recs[i].len, STORE_TABLE_COUNT, &rec) != 0)
            continue; /* the caller skipped these already */
        int t = rec.table;
        if (!b->mem[t] && !(b->mem[t] = open_memstream(&b->buf[t], &b->len[t])))
            return -1;
        if (fwrite(rec.line, 1, rec.line_len, b->mem[t]) != rec.line_len)
            return -1;
        b->rows++;
    }
    int rc = 0;
    for (int t = 0; t < STORE_TABLE_COUNT; t++)
        if (b->mem[t]) {
            rc |= fclose(b->mem[t]) != 0 ? -1 : 0;
            b->mem[t] = NULL;
        }
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

static int store_write_copy(PGconn *conn, int t, const char *data, size_t len, char *state,
                            store_write_result_t *res)
{
    char sql[160];
    snprintf(sql, sizeof sql, "COPY stage_%s FROM STDIN", store_schema_table(t));
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

/* One transaction; state receives the SQLSTATE of a failure. */
static int store_write_once(PGconn *conn, const store_rec_t *recs, size_t n, char *state,
                            store_write_result_t *res)
{
    store_write_batch_t b = {0};
    state[0] = '\0';
    if (store_write_build(recs, n, &b) != 0) {
        store_write_batch_free(&b);
        snprintf(res->error, sizeof res->error, "out of memory");
        return -1;
    }
    int rc = store_write_exec(conn, "BEGIN", state, res);
    for (int t = 0; rc == 0 && t < STORE_TABLE_COUNT; t++) {
        if (!b.len[t])
            continue;
        rc = store_write_copy(conn, t, b.buf[t], b.len[t], state, res);
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

int store_write_recs(PGconn *conn, const store_rec_t *recs, size_t n, store_write_result_t *res)
{
    char state[6];
    if (n == 0 || store_write_once(conn, recs, n, state, res) == 0)
        return 0;
    if (PQstatus(conn) != CONNECTION_OK || !store_write_refused(state))
        return -1;
    if (n == 1)
        return store_write_quarantine(conn, recs, res);
    size_t half = n / 2;
    if (store_write_recs(conn, recs, half, res) != 0)
        return -1;
    return store_write_recs(conn, recs + half, n - half, res);
}
