/*
 * history_pool.h — a few libpq connections for history reads, so that one
 * slow query (a long range, a table locked by a migration) holds one
 * connection and not every history request behind it.
 *
 * Thread-safe: civetweb workers take a connection, run their query without
 * any lock held, and give it back. A worker waits only when every
 * connection is busy. Connections are opened on first use and reopened
 * after they broke; each has application_name pgvigil-aggregator-api and a
 * 5 s statement_timeout. Each connection remembers which of the reader's
 * statements it has prepared (history.c prepares a statement once per
 * connection and executes it after): a reopened connection has none.
 */
#ifndef PGVIGIL_HISTORY_POOL_H
#define PGVIGIL_HISTORY_POOL_H

#include <libpq-fe.h>
#include <stdint.h>

/* Connections in the pool of the HTTP API's history reads. */
#define HISTORY_POOL_SIZE 4

typedef struct history_pool history_pool_t;

typedef struct {
    PGconn *pg;        /* owned by the pool */
    uint32_t prepared; /* bit k: the reader's statement k is prepared on pg */
} history_conn_t;

history_pool_t *history_pool_new(const char *dsn, int size);
void history_pool_destroy(history_pool_t **self_p);

/* A connection for this thread alone (waits while all are busy). Its pg may
 * be in a failed state when the database is down: queries then fail and
 * the caller answers 503. Give it back with history_pool_give. */
history_conn_t *history_pool_take(history_pool_t *self);
void history_pool_give(history_pool_t *self, history_conn_t *conn);

#endif
