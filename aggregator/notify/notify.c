/*
 * notify.c — the notify actor (see notify.h).
 */
#include "notify.h"

#include <curl/curl.h>
#include <czmq.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "clock.h"
#include "actor.h"
#include "log.h"
#include "notify_render.h"
#include "store.h"

#define NT_DB_RETRY_US 3000000
#define NT_CONNECT_TIMEOUT "connect_timeout=3"

typedef struct {
    uint64_t id, alert_id;
    int receiver;
    char kind[16];
    json_t *payload;
    unsigned attempts;
    int64_t next_at_us, created_us;
} nt_delivery_t;

typedef struct {
    const receiver_t *cfg;
    zlistx_t *queue;          /* nt_delivery_t, oldest first */
    CURL *easy;
    nt_delivery_t *inflight;  /* the queue's head while a request runs */
    notify_request_t req;
    struct curl_slist *headers, *rcpt;
    size_t read_off;
    int64_t started_us;
    unsigned failures;        /* in a row */
    int64_t open_until_us;    /* circuit breaker */
    char errbuf[CURL_ERROR_SIZE];
} nt_receiver_t;

typedef struct {
    const agg_config_t *cfg;
    const alert_config_t *ac;
    char *dsn, *sql_dir, *spool_path;
    notify_stats_t *stats;
    zsock_t *pull;
    PGconn *db;
    bool loaded;              /* pending outbox read after start */
    int64_t db_retry_at_us;
    zlistx_t *ops;            /* json_t *, oldest first */
    zhashx_t *known;          /* delivery ids queued or done in this run */
    CURLM *multi;
    nt_receiver_t *recv;
    size_t nrecv;
} nt_state_t;

struct notify {
    zactor_t *actor;
    nt_state_t *st;
};

/* ---- deliveries ---- */

static void nt_delivery_free(void **item)
{
    nt_delivery_t *d = *item;
    if (d)
        json_decref(d->payload);
    free(d);
    *item = NULL;
}

static void nt_enqueue(nt_state_t *st, uint64_t id, uint64_t alert_id, const char *receiver, const char *kind,
                       json_t *payload, int attempts, int64_t created_us)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, id);
    int r = alert_config_receiver(st->ac, receiver);
    if (r < 0 || zhashx_lookup(st->known, key)) {
        if (r < 0)
            log_warning("notification %" PRIu64 " is for receiver \"%s\", which is no longer configured", id, receiver);
        return;
    }
    nt_delivery_t *d = calloc(1, sizeof *d);
    if (!d)
        return;
    d->id = id;
    d->alert_id = alert_id;
    d->receiver = r;
    snprintf(d->kind, sizeof d->kind, "%s", kind);
    d->payload = json_incref(payload);
    d->attempts = (unsigned)attempts;
    d->created_us = created_us;
    zhashx_insert(st->known, key, (void *)1);
    zlistx_add_end(st->recv[r].queue, d);
    atomic_fetch_add(&st->stats->queued, 1);
}

/* A delivery is over (delivered, refused, given up): once the outbox has
 * been read, its id no longer needs remembering. Before that it must stay,
 * or the read would queue it again. */
static void nt_forget(nt_state_t *st, uint64_t id)
{
    if (!st->loaded)
        return;
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, id);
    zhashx_delete(st->known, key);
}

static void nt_op(nt_state_t *st, json_t *op)
{
    zlistx_add_end(st->ops, op);
    atomic_store(&st->stats->db_pending, zlistx_size(st->ops));
}

static size_t nt_read(char *buf, size_t size, size_t n, void *arg)
{
    nt_receiver_t *r = arg;
    size_t left = r->req.body_len - r->read_off, want = size * n;
    size_t k = left < want ? left : want;
    memcpy(buf, r->req.body + r->read_off, k);
    r->read_off += k;
    return k;
}

static size_t nt_discard(char *ptr, size_t size, size_t n, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * n;
}

static void nt_release(nt_state_t *st, nt_receiver_t *r)
{
    if (r->easy) {
        curl_multi_remove_handle(st->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->rcpt);
    r->headers = r->rcpt = NULL;
    notify_request_free(&r->req);
    r->inflight = NULL;
}

static int nt_start(nt_state_t *st, nt_receiver_t *r, nt_delivery_t *d)
{
    const receiver_t *rc = r->cfg;
    if (notify_render(rc, d->payload, &r->req) != 0)
        return -1;
    CURL *e = curl_easy_init();
    if (!e) {
        notify_request_free(&r->req);
        return -1;
    }
    r->easy = e;
    r->inflight = d;
    r->read_off = 0;
    r->errbuf[0] = '\0';
    r->started_us = clock_mono_us();
    curl_easy_setopt(e, CURLOPT_URL, rc->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)st->ac->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(st->ac->timeout_ms < 5000 ? st->ac->timeout_ms : 5000));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, nt_discard);
    if (rc->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, rc->ca_file);
    if (rc->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (rc->username)
        curl_easy_setopt(e, CURLOPT_USERNAME, rc->username);
    if (rc->password)
        curl_easy_setopt(e, CURLOPT_PASSWORD, rc->password);
    if (rc->type == RECEIVER_EMAIL) {
        curl_easy_setopt(e, CURLOPT_MAIL_FROM, rc->from);
        for (size_t i = 0; i < rc->to_count; i++)
            r->rcpt = curl_slist_append(r->rcpt, rc->to[i]);
        curl_easy_setopt(e, CURLOPT_MAIL_RCPT, r->rcpt);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, nt_read);
        curl_easy_setopt(e, CURLOPT_READDATA, r);
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->req.body_len);
        if (rc->tls != RECEIVER_TLS_NONE && strncmp(rc->url, "smtps://", 8) != 0)
            curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    } else {
        for (size_t i = 0; i < r->req.header_count; i++)
            r->headers = curl_slist_append(r->headers, r->req.headers[i]);
        for (size_t i = 0; i < rc->header_count; i++)
            r->headers = curl_slist_append(r->headers, rc->headers[i]);
        r->headers = curl_slist_append(r->headers, "Expect:");
        r->headers = curl_slist_append(r->headers, "User-Agent: pgvigil/" PGVIGIL_VERSION);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->req.body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->req.body_len);
    }
    d->attempts++;
    atomic_fetch_add(&st->stats->attempts, 1);
    if (curl_multi_add_handle(st->multi, e) != CURLM_OK) {
        nt_release(st, r);
        return -1;
    }
    return 0;
}

static void nt_record(nt_state_t *st, const nt_delivery_t *d, bool ok, long status, const char *error,
                      double ms)
{
    char at[40];
    clock_format_rfc3339(clock_wall_us(), at, sizeof at);
    nt_op(st, json_pack("{s:s,s:I,s:i,s:s,s:s,s:b,s:I,s:s?,s:f}", "op", "attempt", "id", (json_int_t)d->id,
                        "attempt", (int)d->attempts, "at", at, "receiver", st->recv[d->receiver].cfg->name, "ok", ok,
                        "status", (json_int_t)status, "error", error, "duration_ms", ms));
}

static void nt_finish(nt_state_t *st, nt_receiver_t *r, CURLcode code)
{
    nt_delivery_t *d = r->inflight;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    double ms = (double)(clock_mono_us() - r->started_us) / 1000.0;
    bool email = r->cfg->type == RECEIVER_EMAIL;
    bool ok = code == CURLE_OK && (email || (status >= 200 && status < 300));
    /* A 4xx other than 408/429 will not get better by retrying. */
    bool permanent = !ok && !email && code == CURLE_OK && status >= 400 && status < 500 && status != 408 &&
                     status != 429;
    char error[CURL_ERROR_SIZE + 32] = "";
    if (!ok)
        snprintf(error, sizeof error, "%s", code != CURLE_OK ? (r->errbuf[0] ? r->errbuf : curl_easy_strerror(code))
                                                             : "unexpected HTTP status");
    nt_record(st, d, ok, status, ok ? NULL : error, ms);
    nt_release(st, r);
    int64_t now = clock_mono_us();
    char at[40];
    clock_format_rfc3339(clock_wall_us(), at, sizeof at);
    if (ok) {
        if (r->failures >= st->ac->breaker_failures)
            log_info("receiver %s answers again; its circuit is closed", r->cfg->name);
        r->failures = 0;
        r->open_until_us = 0;
        nt_op(st, json_pack("{s:s,s:I,s:s,s:i}", "op", "delivered", "id", (json_int_t)d->id, "at", at, "attempts",
                            (int)d->attempts));
        atomic_fetch_add(&st->stats->delivered, 1);
        log_debug("notification %" PRIu64 " (%s) delivered to %s in %.1f ms", d->id, d->kind, r->cfg->name, ms);
        nt_forget(st, d->id);
        zlistx_delete(r->queue, zlistx_first(r->queue) ? zlistx_cursor(r->queue) : NULL);
        return;
    }
    atomic_fetch_add(&st->stats->retries, 1);
    if (permanent) {
        log_warning("receiver %s refused notification %" PRIu64 " with HTTP %ld; it is not retried", r->cfg->name,
                    d->id, status);
        nt_op(st, json_pack("{s:s,s:I,s:s,s:i}", "op", "failed", "id", (json_int_t)d->id, "error",
                            "refused by the receiver", "attempts", (int)d->attempts));
        atomic_fetch_add(&st->stats->failed, 1);
        nt_forget(st, d->id);
        zlistx_delete(r->queue, zlistx_first(r->queue) ? zlistx_cursor(r->queue) : NULL);
        return;
    }
    r->failures++;
    uint64_t delay = backoff_delay_ms(d->attempts - 1, st->ac->retry_initial_ms, st->ac->retry_max_ms,
                                      (double)random() / ((double)RAND_MAX + 1.0));
    d->next_at_us = now + (int64_t)delay * 1000;
    log_warning("delivery of notification %" PRIu64 " to %s failed (attempt %u: %s, HTTP %ld); retrying in %" PRIu64
                " ms", d->id, r->cfg->name, d->attempts, error, status, delay);
    if (r->failures == st->ac->breaker_failures)
        log_warning("receiver %s failed %u times in a row; its circuit is open for %" PRIu64 " ms", r->cfg->name,
                    r->failures, st->ac->breaker_cooldown_ms);
    if (r->failures >= st->ac->breaker_failures)
        r->open_until_us = now + (int64_t)st->ac->breaker_cooldown_ms * 1000;
}

static void nt_schedule(nt_state_t *st)
{
    int64_t now = clock_mono_us(), wall = clock_wall_us();
    unsigned open = 0;
    for (size_t i = 0; i < st->nrecv; i++) {
        nt_receiver_t *r = &st->recv[i];
        open += r->open_until_us > now;
        while (!r->inflight) {
            nt_delivery_t *d = zlistx_first(r->queue);
            if (!d || now < d->next_at_us || r->open_until_us > now)
                break;
            if (wall - d->created_us > (int64_t)st->ac->give_up_after_ms * 1000) {
                log_error("notification %" PRIu64 " to %s is given up after %u attempts", d->id, r->cfg->name,
                          d->attempts);
                nt_op(st, json_pack("{s:s,s:I,s:s,s:i}", "op", "failed", "id", (json_int_t)d->id, "error",
                                    "gave up after give_up_after", "attempts", (int)d->attempts));
                atomic_fetch_add(&st->stats->failed, 1);
                nt_forget(st, d->id);
                zlistx_delete(r->queue, zlistx_cursor(r->queue));
                continue;
            }
            if (nt_start(st, r, d) != 0) {
                d->next_at_us = now + 1000000;
                break;
            }
        }
    }
    atomic_store(&st->stats->breakers_open, open);
}

static void nt_pump(nt_state_t *st)
{
    int running = 0;
    curl_multi_perform(st->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(st->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        nt_receiver_t *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r && r->inflight)
            nt_finish(st, r, m->data.result);
    }
    nt_schedule(st);
    if (zlistx_size(st->ops))
        curl_multi_perform(st->multi, &running);
}

/* ---- the database ---- */

static int nt_exec(PGconn *db, const char *sql, int n, const char *const *params)
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

static int nt_write(nt_state_t *st, const json_t *op)
{
    const char *what = jstr(op, "op");
    char id[24], a[24], b[24];
    snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "id")));
    if (strcmp(what, "alert") == 0) {
        const json_t *al = json_object_get(op, "alert");
        char *doc = json_dumps(al, JSON_COMPACT);
        snprintf(a, sizeof a, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(al, "id")));
        snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(al, "tier")));
        const char *p[] = {a, jstr(al, "rule"), jstr(al, "cluster"), jstr(al, "node"), jstr(al, "severity"),
                           jstr(al, "state"), json_is_true(json_object_get(al, "acknowledged")) ? "t" : "f",
                           json_is_true(json_object_get(al, "peak")) ? "t" : "f", b, jstr(al, "started_at"),
                           jstr(al, "resolved_at"), jstr(al, "summary"), doc};
        int rc = nt_exec(st->db,
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
    if (strcmp(what, "event") == 0) {
        snprintf(a, sizeof a, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "alert_id")));
        snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "seq")));
        const char *p[] = {a, jstr(op, "at"), b, jstr(op, "from"), jstr(op, "to"), jstr(op, "severity"),
                           jstr(op, "detail")};
        return nt_exec(st->db,
                       "INSERT INTO alert_events (alert_id, at, seq, from_state, to_state, severity, detail) "
                       "VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
                       7, p);
    }
    if (strcmp(what, "notify") == 0) {
        char *payload = json_dumps(json_object_get(op, "payload"), JSON_COMPACT);
        snprintf(a, sizeof a, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "alert_id")));
        const char *p[] = {id, a, jstr(op, "receiver"), jstr(op, "kind"), payload};
        int rc = nt_exec(st->db,
                         "INSERT INTO notification_outbox (id, alert_id, receiver, kind, payload) VALUES "
                         "($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
                         5, p);
        free(payload);
        return rc;
    }
    if (strcmp(what, "attempt") == 0) {
        char att[16], status[16], ms[32];
        snprintf(att, sizeof att, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "attempt")));
        snprintf(status, sizeof status, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "status")));
        snprintf(ms, sizeof ms, "%.3f", json_real_value(json_object_get(op, "duration_ms")));
        const char *p[] = {id, att, jstr(op, "at"), jstr(op, "receiver"),
                           json_is_true(json_object_get(op, "ok")) ? "t" : "f", strcmp(status, "0") ? status : NULL,
                           jstr(op, "error"), ms};
        return nt_exec(st->db,
                       "INSERT INTO notification_attempts (outbox_id, attempt, at, receiver, ok, status, error, "
                       "duration_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING",
                       8, p);
    }
    if (strcmp(what, "delivered") == 0 || strcmp(what, "failed") == 0) {
        snprintf(a, sizeof a, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "attempts")));
        const char *p[] = {id, what, jstr(op, "at"), a, jstr(op, "error")};
        return nt_exec(st->db,
                       "UPDATE notification_outbox SET state = $2, delivered_at = $3, attempts = $4, last_error = "
                       "$5 WHERE id = $1",
                       5, p);
    }
    if (strcmp(what, "silence") == 0) {
        const json_t *s = json_object_get(op, "silence");
        char *doc = json_dumps(s, JSON_COMPACT);
        snprintf(a, sizeof a, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(s, "id")));
        const char *p[] = {a, doc, jstr(s, "ends_at")};
        int rc = nt_exec(st->db,
                         "INSERT INTO silences (id, doc, ends_at) VALUES ($1,$2,$3) ON CONFLICT (id) DO UPDATE SET "
                         "doc = EXCLUDED.doc, ends_at = EXCLUDED.ends_at",
                         3, p);
        free(doc);
        return rc;
    }
    if (strcmp(what, "audit") == 0) {
        const json_t *au = json_object_get(op, "audit");
        char *detail = json_dumps(json_object_get(au, "detail"), JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(a, sizeof a, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(au, "id")));
        snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(au, "result")));
        const char *p[] = {a, jstr(au, "at"), jstr(au, "who"), jstr(au, "role"), jstr(au, "action"),
                           jstr(au, "target"), jstr(au, "client"), b, json_object_get(au, "detail") ? detail : NULL};
        int rc = nt_exec(st->db,
                         "INSERT INTO audit_log (id, at, who, role, action, target, client, result, detail) VALUES "
                         "($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING",
                         9, p);
        free(detail);
        return rc;
    }
    if (strcmp(what, "maintenance") == 0) {
        const json_t *m = json_object_get(op, "operation");
        char *doc = json_dumps(m, JSON_COMPACT);
        char dur[24];
        snprintf(a, sizeof a, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(m, "id")));
        snprintf(dur, sizeof dur, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(m, "duration_ms")));
        const char *p[] = {a, jstr(m, "node"), jstr(m, "operation"), jstr(m, "database"), jstr(m, "schema"),
                           jstr(m, "table"), jstr(m, "index"), jstr(m, "state"), jstr(m, "requested_by"),
                           jstr(m, "role"), json_is_true(json_object_get(m, "force")) ? "t" : "f",
                           json_is_true(json_object_get(m, "peak")) ? "t" : "f", jstr(m, "requested_at"),
                           jstr(m, "started_at"), jstr(m, "finished_at"),
                           json_is_integer(json_object_get(m, "duration_ms")) ? dur : NULL, jstr(m, "statement"),
                           jstr(m, "error"), doc};
        int rc = nt_exec(st->db,
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
    if (strcmp(what, "backup") == 0) {
        const json_t *bk = json_object_get(op, "backup");
        char v[4][24];
        const char *keys[] = {"duration_ms", "size_bytes", "restore_ms", "restore_rto_ms"};
        for (int i = 0; i < 4; i++)
            snprintf(v[i], sizeof v[i], "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(bk, keys[i])));
        const json_t *rok = json_object_get(bk, "restore_ok");
        const char *p[] = {jstr(bk, "node"), jstr(bk, "verified_at"), jstr(bk, "path"),
                           json_is_true(json_object_get(bk, "ok")) ? "t" : "f", jstr(bk, "error"), v[0],
                           jstr(bk, "backup_at"), v[1], json_is_boolean(rok) ? (json_is_true(rok) ? "t" : "f") : NULL,
                           json_is_boolean(rok) ? v[2] : NULL, json_is_boolean(rok) ? v[3] : NULL,
                           jstr(bk, "restore_result"), jstr(bk, "restore_error")};
        return nt_exec(st->db,
                       "INSERT INTO backup_verifications (node, verified_at, path, ok, error, duration_ms, backup_at, "
                       "size_bytes, restore_ok, restore_ms, restore_rto_ms, restore_result, restore_error) VALUES "
                       "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT DO NOTHING",
                       13, p);
    }
    if (strcmp(what, "silence_delete") == 0) {
        const char *p[] = {id};
        return nt_exec(st->db, "UPDATE silences SET deleted_at = now() WHERE id = $1", 1, p);
    }
    log_warning("alert store: unknown message \"%s\" dropped", what ? what : "?");
    return 0;
}

static void nt_load_outbox(nt_state_t *st)
{
    PGresult *r = PQexec(st->db, "SELECT id, alert_id, receiver, kind, payload, attempts, "
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
            nt_enqueue(st, strtoull(PQgetvalue(r, i, 0), NULL, 10), strtoull(PQgetvalue(r, i, 1), NULL, 10),
                       PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), payload, atoi(PQgetvalue(r, i, 5)),
                       strtoll(PQgetvalue(r, i, 6), NULL, 10));
        json_decref(payload);
    }
    if (n)
        log_info("%d notifications pending from before the start are queued again", n);
    PQclear(r);
    st->loaded = true;
}

static bool nt_connect(nt_state_t *st)
{
    if (st->db && PQstatus(st->db) == CONNECTION_OK)
        return true;
    int64_t now = clock_mono_us();
    if (now < st->db_retry_at_us)
        return false;
    PQfinish(st->db);
    char conninfo[2048];
    snprintf(conninfo, sizeof conninfo, "%s %s application_name=pgvigil-notify", st->dsn, NT_CONNECT_TIMEOUT);
    st->db = PQconnectdb(conninfo);
    char err[512];
    if (PQstatus(st->db) != CONNECTION_OK || store_migrate(st->db, st->sql_dir, err, sizeof err) != 0) {
        st->db_retry_at_us = clock_mono_us() + NT_DB_RETRY_US;
        PQfinish(st->db);
        st->db = NULL;
        return false;
    }
    if (!st->loaded)
        nt_load_outbox(st);
    return true;
}

static void nt_flush(nt_state_t *st)
{
    if (!st->dsn) {
        json_t *op;
        while ((op = zlistx_first(st->ops)))
            zlistx_delete(st->ops, zlistx_cursor(st->ops));
        return;
    }
    if (zlistx_size(st->ops) == 0 && st->loaded)
        return;
    if (!nt_connect(st))
        return;
    json_t *op;
    while ((op = zlistx_first(st->ops))) {
        if (nt_write(st, op) == -2) { /* connection lost: keep it, retry later */
            st->db_retry_at_us = clock_mono_us() + NT_DB_RETRY_US;
            break;
        }
        zlistx_delete(st->ops, zlistx_cursor(st->ops));
    }
    atomic_store(&st->stats->db_pending, zlistx_size(st->ops));
    if (zlistx_size(st->ops) == 0 && st->spool_path)
        unlink(st->spool_path); /* everything the last run left is in the database now */
}

/* ---- spool ---- */

static json_t *nt_spool_read(const char *path)
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

static void nt_spool_write(nt_state_t *st)
{
    if (!st->spool_path || zlistx_size(st->ops) == 0)
        return;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", st->spool_path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        log_error("could not write the alert spool \"%s\": %zu alert writes are lost", tmp, zlistx_size(st->ops));
        return;
    }
    for (json_t *op = zlistx_first(st->ops); op; op = zlistx_next(st->ops)) {
        char *line = json_dumps(op, JSON_COMPACT);
        if (line)
            fprintf(f, "%s\n", line);
        free(line);
    }
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, st->spool_path) == 0)
        log_warning("the alert database is away: %zu writes kept in \"%s\" for the next start", zlistx_size(st->ops),
                    st->spool_path);
    else
        log_error("could not write the alert spool \"%s\"", st->spool_path);
}

/* Replay what the last run could not write: its ops go first, and its
 * notifications that were not delivered are queued again. */
static void nt_spool_replay(nt_state_t *st)
{
    json_t *ops = nt_spool_read(st->spool_path);
    zhashx_t *done = zhashx_new();
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op) {
        const char *what = jstr(op, "op");
        if (what && (strcmp(what, "delivered") == 0 || strcmp(what, "failed") == 0)) {
            char key[24];
            snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "id")));
            zhashx_insert(done, key, (void *)1);
        }
    }
    json_array_foreach(ops, i, op) {
        const char *what = jstr(op, "op");
        char key[24];
        snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "id")));
        if (what && strcmp(what, "notify") == 0 && !zhashx_lookup(done, key))
            nt_enqueue(st, (uint64_t)json_integer_value(json_object_get(op, "id")),
                       (uint64_t)json_integer_value(json_object_get(op, "alert_id")), jstr(op, "receiver") ?: "",
                       jstr(op, "kind") ?: "", json_object_get(op, "payload"), 0, clock_wall_us());
        nt_op(st, json_incref(op));
    }
    if (json_array_size(ops))
        log_info("replaying %zu alert writes from \"%s\"", json_array_size(ops), st->spool_path);
    zhashx_destroy(&done);
    json_decref(ops);
}

/* ---- the actor ---- */

static int nt_on_pull(zloop_t *loop, zsock_t *pull, void *arg)
{
    (void)loop;
    nt_state_t *st = arg;
    json_t *msg;
    void *z = zsock_resolve(pull);
    while (zmq_recv(z, &msg, sizeof msg, ZMQ_DONTWAIT) == (int)sizeof msg) {
        const char *what = jstr(msg, "op");
        if (what && strcmp(what, "notify") == 0)
            nt_enqueue(st, (uint64_t)json_integer_value(json_object_get(msg, "id")),
                       (uint64_t)json_integer_value(json_object_get(msg, "alert_id")), jstr(msg, "receiver") ?: "",
                       jstr(msg, "kind") ?: "", json_object_get(msg, "payload"), 0, clock_wall_us());
        nt_op(st, msg);
    }
    nt_schedule(st);
    nt_pump(st);
    nt_flush(st);
    return 0;
}

static int nt_on_pump(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    nt_pump(arg);
    return 0;
}

static int nt_on_flush(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    nt_flush(arg);
    return 0;
}

static void nt_actor(zsock_t *pipe, void *arg)
{
    nt_state_t *st = arg;
    nt_spool_replay(st);
    nt_flush(st);
    zloop_t *loop = zloop_new();
    zloop_set_nonstop(loop, true);
    zloop_reader(loop, pipe, actor_on_pipe, st);
    zloop_reader(loop, st->pull, nt_on_pull, st);
    zloop_timer(loop, 10, 0, nt_on_pump, st);
    zloop_timer(loop, 500, 0, nt_on_flush, st);
    zsock_signal(pipe, 0);
    zloop_start(loop);
    zloop_destroy(&loop);
    /* Take what the core sent last, abandon requests in flight (they stay
     * pending in the outbox), and make the rest durable. */
    nt_on_pull(NULL, st->pull, st);
    for (size_t i = 0; i < st->nrecv; i++)
        if (st->recv[i].inflight)
            nt_release(st, &st->recv[i]);
    st->db_retry_at_us = 0;
    nt_flush(st);
    nt_spool_write(st);
}

static void nt_state_free(nt_state_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; st->recv && i < st->nrecv; i++) {
        nt_release(st, &st->recv[i]);
        zlistx_destroy(&st->recv[i].queue);
    }
    free(st->recv);
    if (st->multi)
        curl_multi_cleanup(st->multi);
    zlistx_destroy(&st->ops);
    zhashx_destroy(&st->known);
    zsock_destroy(&st->pull);
    PQfinish(st->db);
    free(st->dsn);
    free(st->sql_dir);
    free(st->spool_path);
    free(st);
}

static void nt_op_free(void **item)
{
    json_decref(*item);
    *item = NULL;
}

notify_t *notify_new(const agg_config_t *cfg, const char *sql_dir, const char *spool_path, notify_stats_t *stats)
{
    notify_t *self = calloc(1, sizeof *self);
    nt_state_t *st = calloc(1, sizeof *st);
    if (!self || !st)
        goto fail;
    st->cfg = cfg;
    st->ac = &cfg->alerting;
    st->stats = stats;
    st->dsn = cfg->storage_dsn ? strdup(cfg->storage_dsn) : NULL;
    st->sql_dir = strdup(sql_dir);
    st->spool_path = spool_path && cfg->storage_dsn ? strdup(spool_path) : NULL;
    st->loaded = !st->dsn;
    st->ops = zlistx_new();
    st->known = zhashx_new();
    st->multi = curl_multi_init();
    st->nrecv = st->ac->receiver_count;
    st->recv = calloc(st->nrecv ? st->nrecv : 1, sizeof *st->recv);
    st->pull = zsock_new_pull("@" NOTIFY_ENDPOINT);
    if (!st->ops || !st->known || !st->multi || !st->recv || !st->pull)
        goto fail;
    zlistx_set_destructor(st->ops, nt_op_free);
    zsock_set_rcvhwm(st->pull, 0);
    for (size_t i = 0; i < st->nrecv; i++) {
        st->recv[i].cfg = &st->ac->receivers[i];
        if (!(st->recv[i].queue = zlistx_new()))
            goto fail;
        zlistx_set_destructor(st->recv[i].queue, nt_delivery_free);
    }
    if (!st->dsn && st->ac->receiver_count)
        log_warning("storage is not configured: alerts and pending notifications do not survive a restart");
    self->st = st;
    if (!(self->actor = zactor_new(nt_actor, st)))
        goto fail;
    return self;
fail:
    nt_state_free(st);
    free(self);
    return NULL;
}

void notify_destroy(notify_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    notify_t *self = *self_p;
    zactor_destroy(&self->actor);
    nt_state_free(self->st);
    free(self);
    *self_p = NULL;
}

/* ---- state at start ---- */

static void nt_apply_spool(const char *spool_path, json_t *alerts_by_id, json_t *silences_by_id)
{
    json_t *ops = nt_spool_read(spool_path);
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op) {
        const char *what = jstr(op, "op");
        char key[24];
        if (!what)
            continue;
        if (strcmp(what, "alert") == 0) {
            json_t *a = json_object_get(op, "alert");
            snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(a, "id")));
            json_object_set(alerts_by_id, key, a);
        } else if (strcmp(what, "silence") == 0) {
            json_t *s = json_object_get(op, "silence");
            snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(s, "id")));
            json_object_set(silences_by_id, key, s);
        } else if (strcmp(what, "silence_delete") == 0) {
            snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(op, "id")));
            json_object_del(silences_by_id, key);
        }
    }
    json_decref(ops);
}

static int nt_load_docs(PGconn *db, const char *sql, json_t *by_id)
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
        nt_load_docs(db, "SELECT id, doc FROM alerts WHERE state IN ('pending', 'firing', 'nodata') UNION ALL "
                         "(SELECT id, doc FROM alerts WHERE state NOT IN ('pending', 'firing', 'nodata') "
                         "ORDER BY updated_at DESC LIMIT 200)", a) != 0 ||
        nt_load_docs(db, "SELECT id, doc FROM silences WHERE deleted_at IS NULL AND ends_at > now()", s) != 0) {
        log_warning("could not read open alerts from the database (%s); starting from the spool file only",
                    PQstatus(db) == CONNECTION_OK ? "query failed" : "unreachable");
        rc = -1;
    }
    PQfinish(db);
    nt_apply_spool(spool_path, a, s);
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v) json_array_append(*alerts, v);
    json_object_foreach(s, key, v) json_array_append(*silences, v);
out:
    json_decref(a);
    json_decref(s);
    return rc;
}
