/*
 * cluster_epoch.c — fencing epoch floors in PostgreSQL (cluster_epoch.h).
 */
#include "cluster_epoch.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define CLUSTER_EPOCH_RETRY_US (5 * 1000000LL)

struct cluster_epoch {
    char *dsn;
    PGconn *conn;
    int64_t next_try_us; /* monotonic: do not reconnect before */
    bool warned;
};

cluster_epoch_t *cluster_epoch_new(const char *dsn)
{
    cluster_epoch_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (dsn && !(self->dsn = strdup(dsn))) {
        free(self);
        return NULL;
    }
    if (!dsn)
        log_warning("cluster: no history database: fencing epochs survive a Redis restart "
                    "only if Redis keeps its data");
    return self;
}

void cluster_epoch_destroy(cluster_epoch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cluster_epoch_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    free(self->dsn);
    free(self);
    *self_p = NULL;
}

/* A working connection, or NULL (and no new attempt for a few seconds). */
static PGconn *cluster_epoch_conn(cluster_epoch_t *self)
{
    if (!self->dsn)
        return NULL;
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        return self->conn;
    if (self->conn) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    int64_t now = clock_mono_us();
    if (now < self->next_try_us)
        return NULL;
    const char *keys[] = {"dbname", "connect_timeout", "options", "application_name", NULL};
    const char *vals[] = {self->dsn, "2", "-c statement_timeout=2000", "pgvigil-cluster", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        if (!self->warned)
            log_warning("cluster: could not connect to the history database for epoch floors: %s",
                        c ? PQerrorMessage(c) : "out of memory");
        self->warned = true;
        PQfinish(c);
        self->next_try_us = now + CLUSTER_EPOCH_RETRY_US;
        return NULL;
    }
    self->warned = false;
    self->conn = c;
    return c;
}

/* After a failed statement: drop the connection if it broke. */
static void cluster_epoch_failed(cluster_epoch_t *self, PGresult *r, const char *what)
{
    log_warning("cluster: %s failed: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(self->conn));
    if (PQstatus(self->conn) != CONNECTION_OK) {
        PQfinish(self->conn);
        self->conn = NULL;
        self->next_try_us = clock_mono_us() + CLUSTER_EPOCH_RETRY_US;
    }
}

int cluster_epoch_load(cluster_epoch_t *self, cluster_epoch_fn *fn, void *arg)
{
    if (!self->dsn)
        return 0; /* no database: no floors to read */
    PGconn *c = cluster_epoch_conn(self);
    if (!c)
        return -1;
    PGresult *r = PQexecParams(c, "SELECT cluster_id::text, epoch FROM cluster_epochs", 0, NULL, NULL,
                               NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 2) {
        cluster_epoch_failed(self, r, "reading epoch floors");
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        char *end1 = NULL, *end2 = NULL;
        uint64_t id = strtoull(PQgetvalue(r, i, 0), &end1, 10);
        uint64_t epoch = strtoull(PQgetvalue(r, i, 1), &end2, 10);
        if (*end1 == '\0' && *end2 == '\0')
            fn(id, epoch, arg);
    }
    PQclear(r);
    return n;
}

int cluster_epoch_record(cluster_epoch_t *self, uint64_t cluster_id, uint64_t epoch, const char *owner)
{
    PGconn *c = cluster_epoch_conn(self);
    if (!c)
        return -1;
    char id[24], ep[24];
    snprintf(id, sizeof id, "%" PRIu64, cluster_id);
    snprintf(ep, sizeof ep, "%" PRIu64, epoch);
    const char *params[] = {id, ep, owner};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO cluster_epochs (cluster_id, epoch, owner) VALUES ($1, $2, $3) "
                               "ON CONFLICT (cluster_id) DO UPDATE SET epoch = EXCLUDED.epoch, "
                               "owner = EXCLUDED.owner, acquired_at = now() "
                               "WHERE cluster_epochs.epoch < EXCLUDED.epoch",
                               3, NULL, params, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        cluster_epoch_failed(self, r, "recording an epoch");
    PQclear(r);
    return rc;
}

json_t *cluster_epoch_open_alerts(cluster_epoch_t *self)
{
    PGconn *c = cluster_epoch_conn(self);
    if (!c)
        return NULL;
    PGresult *r = PQexecParams(c,
                               "SELECT doc::text FROM alerts WHERE state IN ('pending', 'firing', 'nodata')",
                               0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 1) {
        cluster_epoch_failed(self, r, "reading the open alerts of a cluster taken over");
        PQclear(r);
        return NULL;
    }
    json_t *alerts = json_array();
    for (int i = 0; alerts && i < PQntuples(r); i++) {
        json_t *doc = json_loads(PQgetvalue(r, i, 0), 0, NULL);
        if (doc)
            json_array_append_new(alerts, doc);
    }
    PQclear(r);
    return alerts;
}
