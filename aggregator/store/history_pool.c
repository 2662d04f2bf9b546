/*
 * history_pool.c — the history reads' connections (see history_pool.h).
 *
 * The pool owns the connections; a taker uses one until it gives it back.
 * The mutex guards only the idle list; connecting and querying happen
 * outside it.
 */
#include "history_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct history_pool {
    char *dsn;
    pthread_mutex_t lock;
    pthread_cond_t returned;
    int size;              /* connections in all */
    int idle_count;        /* entries used in idle */
    history_conn_t *conns; /* size entries (pg NULL: not opened yet) */
    history_conn_t **idle; /* the idle ones */
};

history_pool_t *history_pool_new(const char *dsn, int size)
{
    history_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dsn = strdup(dsn);
    self->conns = calloc((size_t)size, sizeof *self->conns);
    self->idle = calloc((size_t)size, sizeof *self->idle);
    if (!self->dsn || !self->conns || !self->idle) {
        free(self->dsn);
        free(self->conns);
        free(self->idle);
        free(self);
        return NULL;
    }
    for (int i = 0; i < size; i++)
        self->idle[i] = &self->conns[i];
    self->size = self->idle_count = size; /* every slot idle, none opened */
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->returned, NULL);
    return self;
}

void history_pool_destroy(history_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    history_pool_t *self = *self_p;
    for (int i = 0; i < self->size; i++)
        PQfinish(self->conns[i].pg);
    pthread_cond_destroy(&self->returned);
    pthread_mutex_destroy(&self->lock);
    free(self->idle);
    free(self->conns);
    free(self->dsn);
    free(self);
    *self_p = NULL;
}

static PGconn *history_pool_connect(const char *dsn)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", NULL};
    const char *vals[] = {dsn, "pgvigil-aggregator-api", "2", "-c statement_timeout=5000", NULL};
    return PQconnectdbParams(keys, vals, 1);
}

history_conn_t *history_pool_take(history_pool_t *self)
{
    pthread_mutex_lock(&self->lock);
    while (self->idle_count == 0)
        pthread_cond_wait(&self->returned, &self->lock);
    history_conn_t *conn = self->idle[--self->idle_count];
    pthread_mutex_unlock(&self->lock);
    if (!conn->pg || PQstatus(conn->pg) != CONNECTION_OK) {
        PQfinish(conn->pg);
        conn->pg = history_pool_connect(self->dsn);
        conn->prepared = 0; /* prepared statements died with the old session */
    }
    return conn;
}

void history_pool_give(history_pool_t *self, history_conn_t *conn)
{
    pthread_mutex_lock(&self->lock);
    self->idle[self->idle_count++] = conn;
    pthread_cond_signal(&self->returned);
    pthread_mutex_unlock(&self->lock);
}
