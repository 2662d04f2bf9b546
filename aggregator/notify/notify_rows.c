/*
 * notify_rows.c — the writers of durable operations (see notify_rows.h):
 * alerts and their events, the notification outbox and its attempts,
 * silences, the audit log, maintenance operations and backup checks. Each
 * writer is one idempotent statement (ON CONFLICT), so replaying a spool
 * after a crash writes nothing twice.
 *
 * Owns nothing: the caller (notify_persist.c) owns the connection.
 */
#include "notify_rows.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef int (*nr_writer_fn)(PGconn *db, const json_t *op, const char *id);

static int nr_exec(PGconn *db, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(res);
    int rc = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc != 0 && PQstatus(db) == CONNECTION_OK)
        log_warning("alert store: %s", PQresultErrorMessage(res));
    PQclear(res);
    return rc != 0 && PQstatus(db) != CONNECTION_OK ? -2 : rc;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The integer o[k] as decimal text into buf. */
static const char *nr_int(const json_t *o, const char *k, char *buf, size_t len)
{
    snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(o, k)));
    return buf;
}

static const char *nr_bool(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k)) ? "t" : "f";
}

static int nr_alert(PGconn *db, const json_t *op, const char *id)
{
    (void)id;
    const json_t *al = json_object_get(op, "alert");
    char a[24], b[24];
    char *doc = json_dumps(al, JSON_COMPACT);
    const char *p[] = {nr_int(al, "id", a, sizeof a), jstr(al, "rule"), jstr(al, "cluster"), jstr(al, "node"),
                       jstr(al, "severity"), jstr(al, "state"), nr_bool(al, "acknowledged"), nr_bool(al, "peak"),
                       nr_int(al, "tier", b, sizeof b), jstr(al, "started_at"), jstr(al, "resolved_at"),
                       jstr(al, "summary"), doc};
    int rc = nr_exec(db,
                     "INSERT INTO alerts (id, rule, cluster, node, severity, state, acknowledged, peak, tier, "
                     "started_at, resolved_at, summary, doc, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,"
                     "$11,$12,$13,now()) ON CONFLICT (id) DO UPDATE SET severity = EXCLUDED.severity, state = "
                     "EXCLUDED.state, acknowledged = EXCLUDED.acknowledged, peak = EXCLUDED.peak, tier = "
                     "EXCLUDED.tier, resolved_at = EXCLUDED.resolved_at, summary = EXCLUDED.summary, doc = "
                     "EXCLUDED.doc, updated_at = now()",
                     13, p);
    free(doc);
    return rc;
}

static int nr_event(PGconn *db, const json_t *op, const char *id)
{
    (void)id;
    char a[24], b[24];
    const char *p[] = {nr_int(op, "alert_id", a, sizeof a), jstr(op, "at"), nr_int(op, "seq", b, sizeof b),
                       jstr(op, "from"), jstr(op, "to"), jstr(op, "severity"), jstr(op, "detail")};
    return nr_exec(db,
                   "INSERT INTO alert_events (alert_id, at, seq, from_state, to_state, severity, detail) "
                   "VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
                   7, p);
}

static int nr_notify(PGconn *db, const json_t *op, const char *id)
{
    char a[24];
    char *payload = json_dumps(json_object_get(op, "payload"), JSON_COMPACT);
    const char *p[] = {id, nr_int(op, "alert_id", a, sizeof a), jstr(op, "receiver"), jstr(op, "kind"), payload};
    int rc = nr_exec(db,
                     "INSERT INTO notification_outbox (id, alert_id, receiver, kind, payload) VALUES "
                     "($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
                     5, p);
    free(payload);
    return rc;
}

static int nr_attempt(PGconn *db, const json_t *op, const char *id)
{
    char att[24], status[24], ms[32];
    nr_int(op, "status", status, sizeof status);
    snprintf(ms, sizeof ms, "%.3f", json_real_value(json_object_get(op, "duration_ms")));
    const char *p[] = {id, nr_int(op, "attempt", att, sizeof att), jstr(op, "at"), jstr(op, "receiver"),
                       nr_bool(op, "ok"), strcmp(status, "0") ? status : NULL, jstr(op, "error"), ms};
    return nr_exec(db,
                   "INSERT INTO notification_attempts (outbox_id, attempt, at, receiver, ok, status, error, "
                   "duration_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING",
                   8, p);
}

/* "delivered" and "failed": the outbox row's final state. */
static int nr_outcome(PGconn *db, const json_t *op, const char *id)
{
    char a[24];
    const char *p[] = {id, jstr(op, "op"), jstr(op, "at"), nr_int(op, "attempts", a, sizeof a), jstr(op, "error")};
    return nr_exec(db,
                   "UPDATE notification_outbox SET state = $2, delivered_at = $3, attempts = $4, last_error = "
                   "$5 WHERE id = $1",
                   5, p);
}

static int nr_silence(PGconn *db, const json_t *op, const char *id)
{
    (void)id;
    const json_t *s = json_object_get(op, "silence");
    char a[24];
    char *doc = json_dumps(s, JSON_COMPACT);
    const char *p[] = {nr_int(s, "id", a, sizeof a), doc, jstr(s, "ends_at")};
    int rc = nr_exec(db,
                     "INSERT INTO silences (id, doc, ends_at) VALUES ($1,$2,$3) ON CONFLICT (id) DO UPDATE SET "
                     "doc = EXCLUDED.doc, ends_at = EXCLUDED.ends_at",
                     3, p);
    free(doc);
    return rc;
}

static int nr_silence_delete(PGconn *db, const json_t *op, const char *id)
{
    (void)op;
    const char *p[] = {id};
    return nr_exec(db, "UPDATE silences SET deleted_at = now() WHERE id = $1", 1, p);
}

static int nr_audit(PGconn *db, const json_t *op, const char *id)
{
    (void)id;
    const json_t *au = json_object_get(op, "audit");
    char a[24], b[24];
    char *detail = json_dumps(json_object_get(au, "detail"), JSON_COMPACT | JSON_ENCODE_ANY);
    const char *p[] = {nr_int(au, "id", a, sizeof a), jstr(au, "at"), jstr(au, "who"), jstr(au, "role"),
                       jstr(au, "action"), jstr(au, "target"), jstr(au, "client"), nr_int(au, "result", b, sizeof b),
                       json_object_get(au, "detail") ? detail : NULL};
    int rc = nr_exec(db,
                     "INSERT INTO audit_log (id, at, who, role, action, target, client, result, detail) VALUES "
                     "($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING",
                     9, p);
    free(detail);
    return rc;
}

static int nr_maintenance(PGconn *db, const json_t *op, const char *id)
{
    (void)id;
    const json_t *m = json_object_get(op, "operation");
    char a[24], dur[24];
    char *doc = json_dumps(m, JSON_COMPACT);
    nr_int(m, "duration_ms", dur, sizeof dur);
    const char *p[] = {nr_int(m, "id", a, sizeof a), jstr(m, "node"), jstr(m, "operation"), jstr(m, "database"),
                       jstr(m, "schema"), jstr(m, "table"), jstr(m, "index"), jstr(m, "state"),
                       jstr(m, "requested_by"), jstr(m, "role"), nr_bool(m, "force"), nr_bool(m, "peak"),
                       jstr(m, "requested_at"), jstr(m, "started_at"), jstr(m, "finished_at"),
                       json_is_integer(json_object_get(m, "duration_ms")) ? dur : NULL, jstr(m, "statement"),
                       jstr(m, "error"), doc};
    int rc = nr_exec(db,
                     "INSERT INTO maintenance_operations (id, node, operation, database, schema_name, table_name, "
                     "index_name, state, requested_by, role, force, peak, requested_at, started_at, finished_at, "
                     "duration_ms, statement, error, doc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,"
                     "$15,$16,$17,$18,$19) ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, started_at = "
                     "EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms, "
                     "statement = EXCLUDED.statement, error = EXCLUDED.error, doc = EXCLUDED.doc, updated_at = now()",
                     19, p);
    free(doc);
    return rc;
}

static int nr_backup(PGconn *db, const json_t *op, const char *id)
{
    (void)id;
    const json_t *bk = json_object_get(op, "backup");
    char v[4][24];
    const char *keys[] = {"duration_ms", "size_bytes", "restore_ms", "restore_rto_ms"};
    for (int i = 0; i < 4; i++)
        nr_int(bk, keys[i], v[i], sizeof v[i]);
    const json_t *rok = json_object_get(bk, "restore_ok");
    bool restored = json_is_boolean(rok);
    const char *p[] = {jstr(bk, "node"), jstr(bk, "verified_at"), jstr(bk, "path"), nr_bool(bk, "ok"),
                       jstr(bk, "error"), v[0], jstr(bk, "backup_at"), v[1],
                       restored ? (json_is_true(rok) ? "t" : "f") : NULL, restored ? v[2] : NULL,
                       restored ? v[3] : NULL, jstr(bk, "restore_result"), jstr(bk, "restore_error")};
    return nr_exec(db,
                   "INSERT INTO backup_verifications (node, verified_at, path, ok, error, duration_ms, backup_at, "
                   "size_bytes, restore_ok, restore_ms, restore_rto_ms, restore_result, restore_error) VALUES "
                   "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT DO NOTHING",
                   13, p);
}

static const struct {
    const char *op;
    nr_writer_fn write;
} nr_writers[] = {
    {"alert", nr_alert},         {"event", nr_event},
    {"notify", nr_notify},       {"attempt", nr_attempt},
    {"delivered", nr_outcome},   {"failed", nr_outcome},
    {"silence", nr_silence},     {"silence_delete", nr_silence_delete},
    {"audit", nr_audit},         {"maintenance", nr_maintenance},
    {"backup", nr_backup},
};

int notify_rows_write(PGconn *db, const json_t *op)
{
    const char *what = jstr(op, "op");
    char id[24];
    nr_int(op, "id", id, sizeof id);
    for (size_t i = 0; what && i < sizeof nr_writers / sizeof nr_writers[0]; i++)
        if (strcmp(nr_writers[i].op, what) == 0)
            return nr_writers[i].write(db, op, id);
    log_warning("alert store: unknown message \"%s\" dropped", what ? what : "?");
    return 0;
}
