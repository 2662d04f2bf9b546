/*
 * notify.c — the notify actor (see notify.h): delivery of notifications
 * through libcurl's multi interface, one queue and at most one request in
 * flight per receiver, retries with backoff, a circuit breaker per
 * receiver. What must be durable (alerts, outbox, attempts, audit,
 * maintenance) goes to notify_persist.c, which this actor owns and drives.
 *
 * Owns (on the actor's thread): the receivers' queues and in-flight
 * requests, the ids of deliveries known in this run, and the persistence
 * queue (through notify_persist_t).
 */
#include "notify.h"

#include <curl/curl.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "clock.h"
#include "actor.h"
#include "log.h"
#include "notify_cluster.h"
#include "notify_persist.h"
#include "notify_render.h"

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
    notify_stats_t *stats;
    zsock_t *pull;
    zsock_t *outcomes;        /* PUB: the outcome of each test notification */
    notify_persist_t *persist; /* durable writes, in order */
    zhashx_t *known;          /* delivery ids queued or done in this run */
    CURLM *multi;
    nt_receiver_t **recv;     /* one each, by address: curl keeps pointers into them */
    size_t nrecv;
    notify_cluster_t *cluster; /* claims among aggregators */
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

static void nt_enqueue(void *arg, uint64_t id, uint64_t alert_id, const char *receiver, const char *kind,
                       json_t *payload, int attempts, int64_t created_us)
{
    nt_state_t *st = arg;
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, id);
    int r = alert_config_receiver(st->ac, receiver);
    if (r < 0 || !st->recv[r] || zhashx_lookup(st->known, key)) {
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
    zlistx_add_end(st->recv[r]->queue, d);
    atomic_fetch_add(&st->stats->queued, 1);
}

/* A delivery is over (delivered, refused, given up): once the outbox has
 * been read, its id no longer needs remembering. Before that it must stay,
 * or the read would queue it again. */
static void nt_forget(nt_state_t *st, uint64_t id)
{
    if (!notify_persist_loaded(st->persist))
        return;
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, id);
    zhashx_delete(st->known, key);
}

static void nt_op(nt_state_t *st, json_t *op)
{
    notify_persist_add(st->persist, op);
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

static nt_receiver_t *nt_receiver_new(const receiver_t *cfg)
{
    nt_receiver_t *r = calloc(1, sizeof *r);
    if (!r || !(r->queue = zlistx_new())) {
        free(r);
        return NULL;
    }
    r->cfg = cfg;
    zlistx_set_destructor(r->queue, nt_delivery_free);
    return r;
}

static void nt_receiver_free(nt_state_t *st, nt_receiver_t **r_p)
{
    if (!*r_p)
        return;
    nt_release(st, *r_p);
    zlistx_destroy(&(*r_p)->queue);
    free(*r_p);
    *r_p = NULL;
}

/* SMTP: sender, recipients and the message as an upload. */
static void nt_setup_email(nt_receiver_t *r, CURL *e)
{
    const receiver_t *rc = r->cfg;
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
}

/* HTTP receivers: the rendered and configured headers, a POST of the body. */
static void nt_setup_http(nt_receiver_t *r, CURL *e)
{
    const receiver_t *rc = r->cfg;
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
    if (rc->type == RECEIVER_EMAIL)
        nt_setup_email(r, e);
    else
        nt_setup_http(r, e);
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
                        "attempt", (int)d->attempts, "at", at, "receiver", st->recv[d->receiver]->cfg->name, "ok", ok,
                        "status", (json_int_t)status, "error", error, "duration_ms", ms));
}

/* A test notification is tried once; its outcome goes to whoever waits. */
static void nt_outcome(nt_state_t *st, const nt_receiver_t *r, const nt_delivery_t *d, bool ok, long status,
                       const char *error, double ms)
{
    json_t *o = json_pack("{s:I,s:s,s:b,s:I,s:s?,s:f,s:i}", "id", (json_int_t)d->id, "receiver", r->cfg->name,
                          "delivered", ok, "status", (json_int_t)status, "error", ok ? NULL : error, "duration_ms",
                          ms, "attempts", (int)d->attempts);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text)
        zstr_send(st->outcomes, text);
    free(text);
    json_decref(o);
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
    bool test = strcmp(d->kind, "test") == 0;
    if (test)
        nt_outcome(st, r, d, ok, status, error, ms);
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
        notify_cluster_delivered(st->cluster, d->id);
        nt_forget(st, d->id);
        zlistx_delete(r->queue, zlistx_first(r->queue) ? zlistx_cursor(r->queue) : NULL);
        return;
    }
    atomic_fetch_add(&st->stats->retries, 1);
    if (permanent || test) {
        if (test)
            log_warning("test notification %" PRIu64 " to %s failed (%s, HTTP %ld); a test is not retried", d->id,
                        r->cfg->name, error, status);
        else
            log_warning("receiver %s refused notification %" PRIu64 " with HTTP %ld; it is not retried",
                        r->cfg->name, d->id, status);
        nt_op(st, json_pack("{s:s,s:I,s:s,s:i}", "op", "failed", "id", (json_int_t)d->id, "error",
                            test ? error : "refused by the receiver", "attempts", (int)d->attempts));
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
        nt_receiver_t *r = st->recv[i];
        if (!r)
            continue; /* out of memory at a reload */
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
    if (notify_persist_pending(st->persist))
        curl_multi_perform(st->multi, &running);
}

/* ---- the actor ---- */

static int nt_on_pull(zloop_t *loop, zsock_t *pull, void *arg)
{
    (void)loop;
    nt_state_t *st = arg;
    json_t *msg;
    void *z = zsock_resolve(pull);
    while (zmq_recv(z, &msg, sizeof msg, ZMQ_DONTWAIT) == (int)sizeof msg) {
        const char *what = json_string_value(json_object_get(msg, "op"));
        if (what && strcmp(what, "notify") == 0 && !notify_cluster_claim(st->cluster, msg)) {
            json_decref(msg); /* another aggregator sends (and stores) it */
            continue;
        }
        if (what && strcmp(what, "notify") == 0)
            nt_enqueue(st, (uint64_t)json_integer_value(json_object_get(msg, "id")),
                       (uint64_t)json_integer_value(json_object_get(msg, "alert_id")),
                       json_string_value(json_object_get(msg, "receiver")) ?: "",
                       json_string_value(json_object_get(msg, "kind")) ?: "", json_object_get(msg, "payload"), 0,
                       clock_wall_us());
        nt_op(st, msg);
    }
    nt_schedule(st);
    nt_pump(st);
    notify_persist_flush(st->persist);
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
    nt_state_t *st = arg;
    notify_persist_flush(st->persist);
    return 0;
}

/* A new configuration (actor_reload): receivers matched by name keep their
 * queue, breaker and request in flight; new ones start empty; a removed
 * one's queued notifications stay pending in the outbox only. */
static void nt_reload(nt_state_t *st, const agg_config_t *cfg)
{
    const alert_config_t *ac = &cfg->alerting;
    nt_receiver_t **next = calloc(ac->receiver_count ? ac->receiver_count : 1, sizeof *next);
    if (!next) {
        log_error("reload: out of memory; the receivers are not changed");
        return;
    }
    for (size_t i = 0; i < ac->receiver_count; i++) {
        int old = alert_config_receiver(st->ac, ac->receivers[i].name);
        if (old >= 0) {
            next[i] = st->recv[old];
            st->recv[old] = NULL;
            next[i]->cfg = &ac->receivers[i];
        } else if (!(next[i] = nt_receiver_new(&ac->receivers[i]))) {
            log_error("reload: out of memory for receiver %s", ac->receivers[i].name);
        }
        for (nt_delivery_t *d = next[i] ? zlistx_first(next[i]->queue) : NULL; d; d = zlistx_next(next[i]->queue))
            d->receiver = (int)i;
    }
    for (size_t i = 0; i < st->nrecv; i++)
        if (st->recv[i]) {
            log_warning("reload: receiver %s removed; %zu queued notifications to it are not sent",
                        st->recv[i]->cfg->name, zlistx_size(st->recv[i]->queue));
            nt_receiver_free(st, &st->recv[i]);
        }
    free(st->recv);
    st->recv = next;
    st->nrecv = ac->receiver_count;
    st->cfg = cfg;
    st->ac = ac;
}

static int nt_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    void *cfg = NULL;
    int rc = actor_pipe_command(pipe, &cfg);
    if (rc == 1) {
        nt_reload(arg, cfg);
        zsock_signal(pipe, 0);
    }
    return rc < 0 ? -1 : 0;
}

static void nt_actor(zsock_t *pipe, void *arg)
{
    nt_state_t *st = arg;
    notify_persist_replay(st->persist);
    notify_persist_flush(st->persist);
    zloop_t *loop = zloop_new();
    zloop_set_nonstop(loop, true);
    zloop_reader(loop, pipe, nt_on_pipe, st);
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
        if (st->recv[i] && st->recv[i]->inflight)
            nt_release(st, st->recv[i]);
    notify_persist_close(st->persist);
}

static void nt_state_free(nt_state_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; st->recv && i < st->nrecv; i++)
        nt_receiver_free(st, &st->recv[i]);
    free(st->recv);
    if (st->multi)
        curl_multi_cleanup(st->multi);
    notify_persist_destroy(&st->persist);
    notify_cluster_destroy(&st->cluster);
    zhashx_destroy(&st->known);
    zsock_destroy(&st->pull);
    zsock_destroy(&st->outcomes);
    free(st);
}

notify_t *notify_new(const agg_config_t *cfg, const char *sql_dir, const char *spool_path, notify_stats_t *stats,
                     cluster_fence_t *fence)
{
    notify_t *self = calloc(1, sizeof *self);
    nt_state_t *st = calloc(1, sizeof *st);
    if (!self || !st)
        goto fail;
    st->cfg = cfg;
    st->ac = &cfg->alerting;
    st->stats = stats;
    st->persist = notify_persist_new(cfg->storage_dsn, sql_dir, spool_path, stats, nt_enqueue, st);
    st->known = zhashx_new();
    st->multi = curl_multi_init();
    st->cluster = notify_cluster_new(&cfg->cluster, fence);
    st->nrecv = st->ac->receiver_count;
    st->recv = calloc(st->nrecv ? st->nrecv : 1, sizeof *st->recv);
    st->pull = zsock_new_pull("@" NOTIFY_ENDPOINT);
    st->outcomes = zsock_new_pub("@" NOTIFY_OUTCOMES_ENDPOINT);
    if (!st->persist || !st->known || !st->multi || !st->recv || !st->pull || !st->outcomes || !st->cluster)
        goto fail;
    zsock_set_rcvhwm(st->pull, 0);
    for (size_t i = 0; i < st->nrecv; i++)
        if (!(st->recv[i] = nt_receiver_new(&st->ac->receivers[i])))
            goto fail;
    if (!cfg->storage_dsn && st->ac->receiver_count)
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

int notify_reload(notify_t *self, const agg_config_t *cfg)
{
    return self ? actor_reload(self->actor, cfg) : -1;
}
