/*
 * maintenance.c — maintenance operations on their own connections (see
 * maintenance.h).
 */
#include "maintenance.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define MAINT_OUTPUT_MAX 8192
#define MAINT_JOBS_MAX 8

typedef enum { JOB_CONNECTING, JOB_LOOKUP, JOB_RUNNING } job_step_t;

typedef struct job {
    struct maintenance *owner;
    zsock_t *sock;
    uint64_t id;
    char operation[16], database[64], schema[64], table[64], index[64];
    bool concurrently, verbose, analyze;
    PGconn *conn;
    job_step_t step;
    zmq_pollitem_t item;
    bool polling;
    char *statement;
    PGresult *lookup; /* the lookup's rows, until the query is done */
    char output[MAINT_OUTPUT_MAX];
    size_t output_len;
    char rel_key[140]; /* "schema.table" while it runs */
    int64_t started_us;
} job_t;

struct maintenance {
    zloop_t *loop;
    const col_config_t *cfg;
    maintenance_reply_fn *reply;
    job_t *jobs[MAINT_JOBS_MAX];
};

static int maint_on_io(zloop_t *loop, zmq_pollitem_t *item, void *arg);

maintenance_t *maintenance_new(zloop_t *loop, const col_config_t *cfg, maintenance_reply_fn *reply)
{
    maintenance_t *self = calloc(1, sizeof *self);
    if (self) {
        self->loop = loop;
        self->cfg = cfg;
        self->reply = reply;
    }
    return self;
}

static void maint_send(job_t *j, const char *state, const char *error)
{
    Pgvigil__CommandResult r = PGVIGIL__COMMAND_RESULT__INIT;
    int64_t now = clock_wall_us();
    r.has_id = 1;
    r.id = j->id;
    r.state = (char *)state;
    r.error = (char *)error;
    r.statement = j->statement;
    if (j->started_us) {
        r.has_started_at_us = 1;
        r.started_at_us = j->started_us;
    }
    if (strcmp(state, "running") != 0) {
        r.has_finished_at_us = 1;
        r.finished_at_us = now;
        if (j->started_us) {
            r.has_duration_ms = 1;
            r.duration_ms = (uint32_t)((now - j->started_us) / 1000);
        }
        r.output = j->output_len ? j->output : NULL;
    }
    j->owner->reply(j->sock, &r);
}

static void job_free(maintenance_t *self, job_t *j)
{
    for (size_t i = 0; i < MAINT_JOBS_MAX; i++)
        if (self->jobs[i] == j)
            self->jobs[i] = NULL;
    if (j->polling)
        zloop_poller_end(self->loop, &j->item);
    PQclear(j->lookup);
    PQfinish(j->conn);
    free(j->statement);
    free(j);
}

static void job_fail(job_t *j, const char *why)
{
    char line[600];
    snprintf(line, sizeof line, "%s", why ? why : "unknown error");
    line[strcspn(line, "\n")] = '\0';
    log_warning("maintenance %llu (%s %s.%s) failed: %s", (unsigned long long)j->id, j->operation, j->schema,
                j->table, line);
    maint_send(j, "failed", line);
    job_free(j->owner, j);
}

static void job_watch(job_t *j, short events)
{
    int fd = PQsocket(j->conn);
    if (j->polling && j->item.fd == fd && j->item.events == events)
        return;
    if (j->polling)
        zloop_poller_end(j->owner->loop, &j->item);
    j->item = (zmq_pollitem_t){.socket = NULL, .fd = fd, .events = events};
    j->polling = zloop_poller(j->owner->loop, &j->item, maint_on_io, j) == 0;
}

static void maint_notice(void *arg, const PGresult *res)
{
    job_t *j = arg;
    const char *msg = PQresultErrorMessage(res);
    size_t n = strlen(msg), room = sizeof j->output - 1 - j->output_len;
    if (n > room)
        n = room;
    memcpy(j->output + j->output_len, msg, n);
    j->output_len += n;
    j->output[j->output_len] = '\0';
}

static bool maint_busy(maintenance_t *self, const char *key, const job_t *except)
{
    for (size_t i = 0; i < MAINT_JOBS_MAX; i++)
        if (self->jobs[i] && self->jobs[i] != except && strcmp(self->jobs[i]->rel_key, key) == 0)
            return true;
    return false;
}

static void job_lookup(job_t *j)
{
    bool by_index = j->index[0] != '\0';
    const char *kinds = by_index ? "{i,I}" : "{r,m,p,t}";
    /* The table the operation touches (the index's table for REINDEX INDEX)
     * and what runs on it now. */
    const char *sql =
        "WITH o AS (SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
        "c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = ANY ($3::\"char\"[]) "
        "AND ($4 = '' OR $4 = current_database())), "
        "t AS (SELECT o.*, CASE WHEN $5 THEN (SELECT indrelid FROM pg_index WHERE indexrelid = o.oid) "
        "ELSE o.oid END AS tab FROM o) "
        "SELECT t.nspname, t.relname, (SELECT relname FROM pg_class WHERE oid = t.tab), "
        "(SELECT count(*) FROM pg_stat_progress_vacuum p WHERE p.relid = t.tab) + "
        "(SELECT count(*) FROM pg_stat_progress_analyze p WHERE p.relid = t.tab) + "
        "(SELECT count(*) FROM pg_stat_progress_cluster p WHERE p.relid = t.tab) + "
        "(SELECT count(*) FROM pg_stat_progress_create_index p WHERE p.relid = t.tab) FROM t";
    const char *params[5] = {j->schema, by_index ? j->index : j->table, kinds, j->database, by_index ? "t" : "f"};
    if (!PQsendQueryParams(j->conn, sql, 5, NULL, params, NULL, NULL, 0)) {
        job_fail(j, PQerrorMessage(j->conn));
        return;
    }
    j->step = JOB_LOOKUP;
    job_watch(j, ZMQ_POLLIN);
}

/* The statement from the catalog's names; NULL if quoting failed. */
static char *job_statement(job_t *j, const char *schema, const char *name)
{
    char *s = PQescapeIdentifier(j->conn, schema, strlen(schema));
    char *n = PQescapeIdentifier(j->conn, name, strlen(name));
    char *out = NULL, opts[64] = "";
    bool full = strcmp(j->operation, "VACUUM FULL") == 0;
    if (s && n) {
        if (strcmp(j->operation, "VACUUM") == 0 || full) {
            snprintf(opts, sizeof opts, "%s%s%s", full ? "FULL, " : "", j->verbose ? "VERBOSE, " : "",
                     j->analyze ? "ANALYZE, " : "");
            if (opts[0])
                opts[strlen(opts) - 2] = '\0';
            if (asprintf(&out, "VACUUM %s%s%s%s.%s", opts[0] ? "(" : "", opts, opts[0] ? ") " : "", s, n) < 0)
                out = NULL;
        } else if (strcmp(j->operation, "ANALYZE") == 0) {
            if (asprintf(&out, "ANALYZE %s%s.%s", j->verbose ? "(VERBOSE) " : "", s, n) < 0)
                out = NULL;
        } else if (asprintf(&out, "REINDEX %s%s %s%s.%s", j->verbose ? "(VERBOSE) " : "",
                            j->index[0] ? "INDEX" : "TABLE", j->concurrently ? "CONCURRENTLY " : "", s, n) < 0) {
            out = NULL;
        }
    }
    PQfreemem(s);
    PQfreemem(n);
    return out;
}

static void job_looked_up(job_t *j, PGresult *res)
{
    if (!res) {
        job_fail(j, "the lookup returned nothing");
        return;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        job_fail(j, PQresultErrorMessage(res));
        return;
    }
    if (PQntuples(res) != 1) {
        char why[300];
        snprintf(why, sizeof why, "no %s %s.%s in database %s", j->index[0] ? "index" : "table", j->schema,
                 j->index[0] ? j->index : j->table, PQdb(j->conn));
        job_fail(j, why);
        return;
    }
    snprintf(j->rel_key, sizeof j->rel_key, "%s.%s", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2));
    if (atol(PQgetvalue(res, 0, 3)) > 0 || maint_busy(j->owner, j->rel_key, j)) {
        char why[300];
        snprintf(why, sizeof why, "another VACUUM, ANALYZE, CLUSTER or index build is running on %s", j->rel_key);
        j->rel_key[0] = '\0';
        job_fail(j, why);
        return;
    }
    if (!(j->statement = job_statement(j, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)))) {
        job_fail(j, "could not quote the names");
        return;
    }
    if (!PQsendQuery(j->conn, j->statement)) {
        job_fail(j, PQerrorMessage(j->conn));
        return;
    }
    j->step = JOB_RUNNING;
    j->started_us = clock_wall_us();
    log_info("maintenance %llu: %s", (unsigned long long)j->id, j->statement);
    maint_send(j, "running", NULL);
    job_watch(j, ZMQ_POLLIN);
}

static void job_connect_poll(job_t *j)
{
    switch (PQconnectPoll(j->conn)) {
    case PGRES_POLLING_READING:
        job_watch(j, ZMQ_POLLIN);
        return;
    case PGRES_POLLING_WRITING:
        job_watch(j, ZMQ_POLLOUT);
        return;
    case PGRES_POLLING_OK:
        PQsetNoticeReceiver(j->conn, maint_notice, j);
        if (PQsetnonblocking(j->conn, 1) != 0) {
            job_fail(j, PQerrorMessage(j->conn));
            return;
        }
        job_lookup(j);
        return;
    default:
        job_fail(j, PQerrorMessage(j->conn));
        return;
    }
}

static int maint_on_io(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    job_t *j = arg;
    if (j->step == JOB_CONNECTING) {
        job_connect_poll(j);
        return 0;
    }
    if (!PQconsumeInput(j->conn)) {
        job_fail(j, PQerrorMessage(j->conn));
        return 0;
    }
    while (!PQisBusy(j->conn)) {
        PGresult *res = PQgetResult(j->conn);
        if (!res) { /* every result of the query is in */
            if (j->step == JOB_LOOKUP) {
                PGresult *found = j->lookup;
                j->lookup = NULL;
                job_looked_up(j, found);
                PQclear(found);
            } else if (j->step == JOB_RUNNING) {
                log_info("maintenance %llu completed in %.1f s", (unsigned long long)j->id,
                         (double)(clock_wall_us() - j->started_us) / 1e6);
                maint_send(j, "completed", NULL);
                job_free(j->owner, j);
            }
            return 0;
        }
        if (j->step == JOB_LOOKUP) {
            if (j->lookup)
                PQclear(res);
            else
                j->lookup = res;
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            char err[600];
            snprintf(err, sizeof err, "%s", PQresultErrorMessage(res));
            PQclear(res);
            job_fail(j, err);
            return 0;
        }
        PQclear(res);
    }
    return 0;
}

static void maint_refuse(maintenance_t *self, zsock_t *sock, uint64_t id, const char *why)
{
    job_t tmp = {.owner = self, .sock = sock, .id = id};
    log_warning("maintenance %llu refused: %s", (unsigned long long)id, why);
    maint_send(&tmp, "failed", why);
}

static bool maint_copy(char *dst, size_t len, const char *src)
{
    if (!src)
        src = "";
    if (strlen(src) >= len)
        return false;
    memcpy(dst, src, strlen(src) + 1);
    return true;
}

void maintenance_command(maintenance_t *self, zsock_t *sock, const Pgvigil__Command *cmd)
{
    if (!cmd->has_id || !cmd->operation)
        return;
    if (!self->cfg->maintenance_enabled) {
        char why[400];
        snprintf(why, sizeof why, "maintenance is disabled on this collector (%s: maintenance: {enabled: true})",
                 self->cfg->path);
        maint_refuse(self, sock, cmd->id, why);
        return;
    }
    const char *op = cmd->operation;
    if (strcmp(op, "VACUUM") != 0 && strcmp(op, "VACUUM FULL") != 0 && strcmp(op, "ANALYZE") != 0 &&
        strcmp(op, "REINDEX") != 0) {
        char why[160];
        snprintf(why, sizeof why, "unknown operation \"%.40s\"; expected VACUUM, VACUUM FULL, ANALYZE or REINDEX", op);
        maint_refuse(self, sock, cmd->id, why);
        return;
    }
    size_t slot = 0;
    while (slot < MAINT_JOBS_MAX && self->jobs[slot])
        slot++;
    if (slot == MAINT_JOBS_MAX) {
        maint_refuse(self, sock, cmd->id, "too many maintenance operations running on this collector");
        return;
    }
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        maint_refuse(self, sock, cmd->id, "out of memory");
        return;
    }
    j->owner = self;
    j->sock = sock;
    j->id = cmd->id;
    j->concurrently = cmd->has_concurrently && cmd->concurrently;
    j->verbose = cmd->has_verbose && cmd->verbose;
    j->analyze = cmd->has_analyze && cmd->analyze;
    if (!maint_copy(j->operation, sizeof j->operation, op) ||
        !maint_copy(j->database, sizeof j->database, cmd->database) ||
        !maint_copy(j->schema, sizeof j->schema, cmd->schema && *cmd->schema ? cmd->schema : "public") ||
        !maint_copy(j->table, sizeof j->table, cmd->table) || !maint_copy(j->index, sizeof j->index, cmd->index) ||
        (!j->table[0] && !j->index[0])) {
        free(j);
        maint_refuse(self, sock, cmd->id, "names must be 1 to 63 bytes");
        return;
    }
    char options[160], timeout[24];
    snprintf(options, sizeof options, "-c statement_timeout=%llu -c lock_timeout=%llu",
             (unsigned long long)self->cfg->maintenance_statement_timeout_ms,
             (unsigned long long)self->cfg->maintenance_lock_timeout_ms);
    snprintf(timeout, sizeof timeout, "%llu", (unsigned long long)(self->cfg->connect_timeout_ms + 999) / 1000);
    const char *keys[] = {"application_name", "connect_timeout", "dbname", "options", NULL};
    const char *vals[] = {"pgvigil-maintenance", timeout, self->cfg->dsn, options, NULL};
    j->conn = PQconnectStartParams(keys, vals, 1);
    self->jobs[slot] = j;
    if (!j->conn || PQstatus(j->conn) == CONNECTION_BAD) {
        job_fail(j, j->conn ? PQerrorMessage(j->conn) : "out of memory");
        return;
    }
    j->step = JOB_CONNECTING;
    job_watch(j, ZMQ_POLLOUT);
}

void maintenance_destroy(maintenance_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    maintenance_t *self = *self_p;
    for (size_t i = 0; i < MAINT_JOBS_MAX; i++)
        if (self->jobs[i])
            job_fail(self->jobs[i], "the collector is shutting down");
    free(self);
    *self_p = NULL;
}
