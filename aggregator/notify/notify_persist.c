/*
 * notify_persist.c — durable alert, audit and maintenance writes (see
 * notify_persist.h).
 *
 * Owns: the queue of operations (json_t, oldest first), the database
 * connection and its retry time, whether the outbox has been read, and the
 * spool file.
 */
#include "notify_persist.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "notify_rows.h"
#include "store.h"

#define NP_DB_RETRY_US 3000000
#define NP_CONNECT_TIMEOUT "connect_timeout=3"

struct notify_persist {
    char *dsn, *sql_dir, *spool_path;
    notify_stats_t *stats;
    notify_pending_fn pending;
    void *pending_arg;
    PGconn *db;
    bool loaded;              /* pending outbox read after start */
    int64_t db_retry_at_us;
    zlistx_t *ops;            /* json_t *, oldest first */
};

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void np_op_free(void **item)
{
    json_decref(*item);
    *item = NULL;
}

notify_persist_t *notify_persist_new(const char *dsn, const char *sql_dir, const char *spool_path,
                                     notify_stats_t *stats, notify_pending_fn pending, void *pending_arg)
{
    notify_persist_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dsn = dsn ? strdup(dsn) : NULL;
    self->sql_dir = strdup(sql_dir);
    self->spool_path = spool_path && dsn ? strdup(spool_path) : NULL;
    self->stats = stats;
    self->pending = pending;
    self->pending_arg = pending_arg;
    self->loaded = !dsn;
    self->ops = zlistx_new();
    if (!self->sql_dir || (dsn && !self->dsn) || !self->ops) {
        notify_persist_destroy(&self);
        return NULL;
    }
    zlistx_set_destructor(self->ops, np_op_free);
    return self;
}

void notify_persist_destroy(notify_persist_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    notify_persist_t *self = *self_p;
    zlistx_destroy(&self->ops);
    PQfinish(self->db);
    free(self->dsn);
    free(self->sql_dir);
    free(self->spool_path);
    free(self);
    *self_p = NULL;
}

void notify_persist_add(notify_persist_t *self, json_t *op)
{
    if (!op)
        return;
    zlistx_add_end(self->ops, op);
    atomic_store(&self->stats->db_pending, zlistx_size(self->ops));
}

size_t notify_persist_pending(const notify_persist_t *self)
{
    return zlistx_size(self->ops);
}

bool notify_persist_loaded(const notify_persist_t *self)
{
    return self->loaded;
}

static void np_load_outbox(notify_persist_t *self)
{
    PGresult *r = PQexec(self->db, "SELECT id, alert_id, receiver, kind, payload, attempts, "
                                   "(extract(epoch FROM created_at) * 1e6)::bigint FROM notification_outbox "
                                   "WHERE state = 'pending' ORDER BY id");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_warning("alert store: could not read the outbox: %s", PQresultErrorMessage(r));
        PQclear(r);
        return;
    }
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        json_t *payload = json_loads(PQgetvalue(r, i, 4), 0, NULL);
        if (payload)
            self->pending(self->pending_arg, strtoull(PQgetvalue(r, i, 0), NULL, 10),
                          strtoull(PQgetvalue(r, i, 1), NULL, 10), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), payload,
                          (int)strtol(PQgetvalue(r, i, 5), NULL, 10), strtoll(PQgetvalue(r, i, 6), NULL, 10));
        json_decref(payload);
    }
    if (n)
        log_info("%d notifications pending from before the start are queued again", n);
    PQclear(r);
    self->loaded = true;
}

static bool np_connect(notify_persist_t *self)
{
    if (self->db && PQstatus(self->db) == CONNECTION_OK)
        return true;
    int64_t now = clock_mono_us();
    if (now < self->db_retry_at_us)
        return false;
    PQfinish(self->db);
    char conninfo[2048];
    snprintf(conninfo, sizeof conninfo, "%s %s application_name=pgvigil-notify", self->dsn, NP_CONNECT_TIMEOUT);
    self->db = PQconnectdb(conninfo);
    char err[512];
    if (PQstatus(self->db) != CONNECTION_OK || store_migrate(self->db, self->sql_dir, err, sizeof err) != 0) {
        self->db_retry_at_us = clock_mono_us() + NP_DB_RETRY_US;
        PQfinish(self->db);
        self->db = NULL;
        return false;
    }
    if (!self->loaded)
        np_load_outbox(self);
    return true;
}

void notify_persist_flush(notify_persist_t *self)
{
    if (!self->dsn) {
        json_t *op;
        while ((op = zlistx_first(self->ops)))
            zlistx_delete(self->ops, zlistx_cursor(self->ops));
        return;
    }
    if (zlistx_size(self->ops) == 0 && self->loaded)
        return;
    if (!np_connect(self))
        return;
    json_t *op;
    while ((op = zlistx_first(self->ops))) {
        if (notify_rows_write(self->db, op) == -2) { /* connection lost: keep it, retry later */
            self->db_retry_at_us = clock_mono_us() + NP_DB_RETRY_US;
            break;
        }
        zlistx_delete(self->ops, zlistx_cursor(self->ops));
    }
    atomic_store(&self->stats->db_pending, zlistx_size(self->ops));
    if (zlistx_size(self->ops) == 0 && self->spool_path)
        unlink(self->spool_path); /* everything the last run left is in the database now */
}

/* ---- spool ---- */

static json_t *np_spool_read(const char *path)
{
    json_t *ops = json_array();
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return ops;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *op = json_loads(line, 0, NULL);
        if (json_is_object(op))
            json_array_append(ops, op);
        json_decref(op);
    }
    free(line);
    fclose(f);
    return ops;
}

static void np_spool_write(notify_persist_t *self)
{
    if (!self->spool_path || zlistx_size(self->ops) == 0)
        return;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", self->spool_path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        log_error("could not write the alert spool \"%s\": %zu alert writes are lost", tmp, zlistx_size(self->ops));
        return;
    }
    for (json_t *op = zlistx_first(self->ops); op; op = zlistx_next(self->ops)) {
        char *line = json_dumps(op, JSON_COMPACT);
        if (line)
            fprintf(f, "%s\n", line);
        free(line);
    }
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, self->spool_path) == 0)
        log_warning("the alert database is away: %zu writes kept in \"%s\" for the next start",
                    zlistx_size(self->ops), self->spool_path);
    else
        log_error("could not write the alert spool \"%s\"", self->spool_path);
}

static void np_id_key(const json_t *op, char *key, size_t len)
{
    snprintf(key, len, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "id")));
}

void notify_persist_replay(notify_persist_t *self)
{
    json_t *ops = np_spool_read(self->spool_path);
    zhashx_t *done = zhashx_new();
    size_t i;
    json_t *op;
    char key[24];
    json_array_foreach(ops, i, op) {
        const char *what = jstr(op, "op");
        if (what && (strcmp(what, "delivered") == 0 || strcmp(what, "failed") == 0)) {
            np_id_key(op, key, sizeof key);
            zhashx_insert(done, key, (void *)1);
        }
    }
    json_array_foreach(ops, i, op) {
        const char *what = jstr(op, "op");
        np_id_key(op, key, sizeof key);
        if (what && strcmp(what, "notify") == 0 && !zhashx_lookup(done, key))
            self->pending(self->pending_arg, (uint64_t)json_integer_value(json_object_get(op, "id")),
                          (uint64_t)json_integer_value(json_object_get(op, "alert_id")), jstr(op, "receiver") ?: "",
                          jstr(op, "kind") ?: "", json_object_get(op, "payload"), 0, clock_wall_us());
        notify_persist_add(self, json_incref(op));
    }
    if (json_array_size(ops))
        log_info("replaying %zu alert writes from \"%s\"", json_array_size(ops), self->spool_path);
    zhashx_destroy(&done);
    json_decref(ops);
}

void notify_persist_close(notify_persist_t *self)
{
    self->db_retry_at_us = 0;
    notify_persist_flush(self);
    np_spool_write(self);
}

/* ---- state at start ---- */

static void np_apply_spool(const char *spool_path, json_t *alerts_by_id, json_t *silences_by_id)
{
    json_t *ops = np_spool_read(spool_path);
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op) {
        const char *what = jstr(op, "op");
        char key[24];
        if (!what)
            continue;
        if (strcmp(what, "alert") == 0) {
            json_t *a = json_object_get(op, "alert");
            np_id_key(a, key, sizeof key);
            json_object_set(alerts_by_id, key, a);
        } else if (strcmp(what, "silence") == 0) {
            json_t *s = json_object_get(op, "silence");
            np_id_key(s, key, sizeof key);
            json_object_set(silences_by_id, key, s);
        } else if (strcmp(what, "silence_delete") == 0) {
            np_id_key(op, key, sizeof key);
            json_object_del(silences_by_id, key);
        }
    }
    json_decref(ops);
}

static int np_load_docs(PGconn *db, const char *sql, json_t *by_id)
{
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_warning("alert store: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++)
        json_object_set_new(by_id, PQgetvalue(r, i, 0), json_loads(PQgetvalue(r, i, 1), 0, NULL));
    PQclear(r);
    return 0;
}

int notify_load_state(const char *dsn, const char *sql_dir, const char *spool_path, json_t **alerts,
                      json_t **silences)
{
    json_t *a = json_object(), *s = json_object();
    int rc = 0;
    *alerts = json_array();
    *silences = json_array();
    if (!dsn)
        goto out;
    char conninfo[2048], err[512];
    snprintf(conninfo, sizeof conninfo, "%s connect_timeout=5 application_name=pgvigil-restore", dsn);
    PGconn *db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK || store_migrate(db, sql_dir, err, sizeof err) != 0 ||
        np_load_docs(db, "SELECT id, doc FROM alerts WHERE state IN ('pending', 'firing', 'nodata') UNION ALL "
                         "(SELECT id, doc FROM alerts WHERE state NOT IN ('pending', 'firing', 'nodata') "
                         "ORDER BY updated_at DESC LIMIT 200)", a) != 0 ||
        np_load_docs(db, "SELECT id, doc FROM silences WHERE deleted_at IS NULL AND ends_at > now()", s) != 0) {
        log_warning("could not read open alerts from the database (%s); starting from the spool file only",
                    PQstatus(db) == CONNECTION_OK ? "query failed" : "unreachable");
        rc = -1;
    }
    PQfinish(db);
    np_apply_spool(spool_path, a, s);
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v) json_array_append(*alerts, v);
    json_object_foreach(s, key, v) json_array_append(*silences, v);
out:
    json_decref(a);
    json_decref(s);
    return rc;
}
