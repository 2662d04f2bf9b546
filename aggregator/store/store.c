/*
 * store/ — the history database, one concern per file:
 *   store.c          the store actor: batches rows and writes them with COPY
 *   store_conn.c     its connection, partitions and rollups upkeep
 *   store_rows.c     the fleet observer that renders rows from node views
 *   store_line.c     one row in COPY text format
 *   store_spool.c    the spool file while the database is away
 *   store_schema.c   migrations (sql/), partitions, staging tables
 *   partition.c      partition names and expiry (pure)
 *   history.c        history reads for the API (series by catalogue slot)
 *
 * store.c — the store actor (see store.h).
 *
 * The store thread owns one blocking libpq connection (it is the store's own
 * thread; statement_timeout and connect_timeout bound every call) and drains
 * its PULL socket between batches, so submitters never wait for the
 * database: rows queue in memory, then in the spool file (store_spool.c).
 *
 * Order: rows are written in the order they arrived. Rows go to the spool
 * whenever the database is away, memory is full or the spool is not empty
 * (memory is moved there first), so the spool always holds the oldest rows
 * and memory the newest; the spool is written first. Marks ride in memory
 * between the rows and are sent to ingest once the rows before them are
 * committed, or at once after the fsync when they would enter the spool.
 */
#include "store.h"
#include "store_internal.h"

#include <czmq.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "partition.h"
#include "store_rollup.h"
#include "store_durable.h"
#include "store_schema.h"
#include "store_spool.h"
#include "store_write.h"

/* ---- writers ---- */

store_writer_t *store_writer_new(store_t *store)
{
    (void)store;
    store_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    if (!(w->push = zsock_new_push(STORE_ENDPOINT))) {
        log_error("could not connect a writer to the history store");
        free(w);
        return NULL;
    }
    zsock_set_sndhwm(w->push, 0);  /* never drop or block: the store buffers */
    zsock_set_linger(w->push, -1); /* rows queued at shutdown reach the store */
    return w;
}

void store_writer_destroy(store_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->push);
    free(*self_p);
    *self_p = NULL;
}

int store_put(store_writer_t *w, store_table_t table, int64_t at_us, const char *line)
{
    size_t n = strlen(line);
    zframe_t *f = zframe_new(NULL, STORE_SPOOL_HEADER + n);
    if (!f)
        return -1;
    store_spool_encode(zframe_data(f), table, partition_day(at_us), line, n);
    return zframe_send(&f, w->push, 0);
}

int store_mark(store_writer_t *w, const char *node, int64_t started_at_us, uint64_t sequence)
{
    zframe_t *f = zframe_new(NULL, 1 + sizeof(store_mark_t));
    if (!f)
        return -1;
    store_mark_t m = {.started_at_us = started_at_us, .sequence = sequence};
    snprintf(m.node, sizeof m.node, "%s", node);
    zframe_data(f)[0] = STORE_MARK_TAG;
    memcpy(zframe_data(f) + 1, &m, sizeof m);
    return zframe_send(&f, w->push, 0);
}

static void store_ack(store_state_t *st, zframe_t *mark) { store_durable_add(st->durable, mark); }

static void store_acks_flush(store_state_t *st)
{
    atomic_fetch_add(&st->store->c.durable, store_durable_flush(st->durable));
}

static void store_backpressure(store_state_t *st)
{
    bool paused = store_durable_pressure(st->durable, zlistx_size(st->memory), st->store->opt.memory_rows);
    st->paused = paused;
    atomic_store(&st->store->c.backpressure, paused);
}

/* ---- batches ---- */

/* Whether a row record goes into a batch: 1 yes, 0 skip it (malformed or
 * past the retention: counted), -1 its partitions could not be created
 * (disconnected). */
static int store_row_ready(store_state_t *st, const uint8_t *buf, size_t len)
{
    store_spool_record_t rec;
    if (store_spool_decode(buf, len, STORE_TABLE_COUNT, &rec) != 0) {
        log_warning("skipping a malformed history record of %zu bytes", len);
        return 0;
    }
    bool raw = rec.table == STORE_NODE_SAMPLES || rec.table == STORE_REPLICATION_LAG;
    if (partition_expired(rec.day, partition_day(clock_wall_us()),
                          raw ? st->store->opt.retention_raw_days : st->store->opt.retention_days)) {
        atomic_fetch_add(&st->store->c.expired, 1);
        return 0;
    }
    if (store_partitions_for(st, rec.day) != 0) {
        store_disconnect(st, "could not create partitions");
        return -1;
    }
    return 1;
}

/* Write recs; 0 written (refused rows quarantined), -1 disconnected. */
static int store_write(store_state_t *st, const store_rec_t *recs, size_t n)
{
    store_write_result_t res = {0};
    int rc = store_write_recs(st->conn, recs, n, &st->path, &res);
    store_counters_t *c = &st->store->c;
    atomic_fetch_add(&c->written, res.written);
    atomic_fetch_add(&c->batches, res.batches);
    atomic_fetch_add(&c->errors, res.failures);
    atomic_fetch_add(&c->quarantined, res.quarantined);
    atomic_store(&c->direct, st->path.direct);
    atomic_store(&c->conflicts, st->path.conflicts);
    int64_t now = clock_wall_us();
    if (res.quarantined && now - st->quarantine_logged_us >= STORE_FULL_LOG_US) {
        log_report(LOG_LEVEL_WARNING, NULL, "See the table history_quarantine.",
                   "the history database refused %" PRIu64 " row(s); they were set aside and the"
                   " rest written: %s",
                   res.quarantined, res.error);
        st->quarantine_logged_us = now;
    }
    if (rc != 0) {
        if (PQstatus(st->conn) == CONNECTION_OK)
            log_warning("could not write %zu history rows: %s", n, res.error);
        store_disconnect(st, res.error);
    }
    return rc;
}

/* ---- sources: the spool, then memory ---- */

static void store_gauges(store_state_t *st)
{
    atomic_store(&st->store->c.buffered, zlistx_size(st->memory));
    atomic_store(&st->store->c.spooled, store_spool_rows(st->spool));
}

/* Append one row record to the spool unless it is known to be full. */
static int store_spool_try(store_state_t *st, const uint8_t *buf, size_t len)
{
    int64_t now = clock_wall_us();
    if (now < st->spool_full_until_us)
        return -1;
    if (store_spool_append(st->spool, buf, len) == 0)
        return 0;
    st->spool_full_until_us = now + STORE_FULL_RETRY_US;
    return -1;
}

/* Move memory to the end of the spool, oldest first, as far as it goes;
 * marks passed are durable once the spool is synced. -1 if some stayed. */
static int store_spool_memory(store_state_t *st)
{
    int rc = 0;
    bool appended = false;
    zframe_t *f;
    zlistx_t *passed = zlistx_new();
    while ((f = zlistx_first(st->memory))) {
        if (!store_durable_is_mark(f)) {
            if ((rc = store_spool_try(st, zframe_data(f), zframe_size(f))) != 0)
                break;
            appended = true;
            zlistx_delete(st->memory, zlistx_cursor(st->memory));
        } else if (passed) {
            zlistx_add_end(passed, zlistx_detach_cur(st->memory));
        } else {
            zlistx_delete(st->memory, zlistx_cursor(st->memory)); /* out of memory: resent */
        }
    }
    /* Marks passed are acknowledged only once the rows before them (some
     * perhaps appended earlier in this round) are on disk. */
    if ((appended || (passed && zlistx_size(passed))) && store_spool_sync(st->spool) != 0)
        rc = -1;
    else
        for (f = passed ? zlistx_first(passed) : NULL; f; f = zlistx_next(passed))
            store_ack(st, f);
    if (passed) {
        zlistx_set_destructor(passed, (zlistx_destructor_fn *)zframe_destroy);
        zlistx_destroy(&passed);
    }
    if (!zlistx_size(st->memory))
        st->memory_since_us = 0;
    store_gauges(st);
    return rc;
}

/* Write one batch from the spool. 1 wrote, 0 nothing left, -1 failed. */
static int store_flush_spool(store_state_t *st)
{
    size_t max = st->store->opt.batch_rows, n = 0;
    store_rec_t *recs = calloc(max, sizeof *recs);
    uint64_t cursor = store_spool_cursor(st->spool), next = cursor, taken = 0;
    uint8_t *rec = NULL;
    size_t cap = 0, len = 0;
    int got = 0, rc = recs ? 0 : -1;
    while (rc == 0 && n < max && (got = store_spool_next(st->spool, &next, &rec, &cap, &len)) == 1) {
        int ready = store_row_ready(st, rec, len);
        if (ready < 0) {
            rc = -1;
            break;
        }
        if (ready) {
            recs[n].buf = rec; /* owned by recs from here */
            recs[n++].len = len;
            rec = NULL;
            cap = 0;
        }
        taken++;
        cursor = next;
    }
    free(rec);
    if (got < 0)
        rc = -1;
    if (rc == 0 && n)
        rc = store_write(st, recs, n);
    for (size_t i = 0; recs && i < n; i++)
        free((void *)recs[i].buf);
    free(recs);
    if (rc != 0)
        return -1;
    /* At the end of the file every record has been read: consume all. */
    store_spool_consume(st->spool, cursor, got == 0 ? UINT64_MAX : taken);
    store_gauges(st);
    return taken > 0 ? 1 : 0;
}

/* Write one batch from memory, marks included. 1 wrote, 0 nothing left,
 * -1 failed. */
static int store_flush_memory(store_state_t *st)
{
    size_t max = st->store->opt.batch_rows, n = 0, taken = 0;
    store_rec_t *recs = calloc(max, sizeof *recs);
    int rc = recs ? 0 : -1;
    for (zframe_t *f = zlistx_first(st->memory); rc == 0 && f && n < max;
         f = zlistx_next(st->memory)) {
        int ready = store_durable_is_mark(f) ? 0 : store_row_ready(st, zframe_data(f), zframe_size(f));
        if (ready < 0)
            rc = -1;
        else if (ready)
            recs[n++] = (store_rec_t){zframe_data(f), zframe_size(f)};
        taken += ready >= 0;
    }
    if (rc == 0 && n)
        rc = store_write(st, recs, n);
    free(recs);
    if (rc != 0)
        return -1;
    for (size_t i = 0; i < taken; i++) {
        zframe_t *f = zlistx_first(st->memory);
        if (store_durable_is_mark(f))
            store_ack(st, f);
        zlistx_delete(st->memory, zlistx_cursor(st->memory));
    }
    store_gauges(st);
    return taken > 0 ? 1 : 0;
}

/* ---- the actor ---- */

/* Say once a minute that the spool is full and rows wait in memory. */
static void store_full_log(store_state_t *st)
{
    int64_t now = clock_wall_us();
    if (now - st->full_logged_us < STORE_FULL_LOG_US)
        return;
    st->full_logged_us = now;
    log_report(LOG_LEVEL_WARNING, NULL,
               "Free space for the spool (storage.spool_dir) or bring the history database back.",
               "the history spool cannot grow: %zu rows wait in memory%s; samples are"
               " acknowledged to collectors only once stored, so nothing is lost",
               zlistx_size(st->memory),
               st->paused ? " (at storage.memory_rows: new samples are refused, collectors keep them)" : "");
}

/* One record from a writer: into memory or (keeping order) the spool.
 * Returns true when it was appended to the spool (sync due). */
static bool store_take_one(store_state_t *st, zframe_t *f, zlistx_t *after_sync)
{
    bool want_spool = !st->conn || store_spool_rows(st->spool) ||
                      zlistx_size(st->memory) >= st->store->opt.memory_rows;
    if (want_spool && zlistx_size(st->memory))
        store_spool_memory(st); /* older rows first */
    if (want_spool && !zlistx_size(st->memory)) {
        if (store_durable_is_mark(f)) { /* durable at the next sync */
            zlistx_add_end(after_sync, f);
            return false;
        }
        if (store_spool_try(st, zframe_data(f), zframe_size(f)) == 0) {
            zframe_destroy(&f);
            return true;
        }
    }
    if (!zlistx_size(st->memory)) {
        if (store_durable_is_mark(f) && !store_spool_rows(st->spool)) { /* nothing before it waits */
            store_ack(st, f);
            zframe_destroy(&f);
            return false;
        }
        st->memory_since_us = clock_wall_us();
    }
    if (want_spool)
        store_full_log(st);
    zlistx_add_end(st->memory, f); /* (or the spool is full: memory rather than loss) */
    return false;
}

/* Take what the writers sent. */
static void store_take(store_state_t *st)
{
    bool spooled = false;
    zlistx_t *after_sync = zlistx_new();
    if (!after_sync)
        return;
    zlistx_set_destructor(after_sync, (zlistx_destructor_fn *)zframe_destroy);
    for (int i = 0; i < STORE_TAKE_MAX && (zsock_events(st->pull) & ZMQ_POLLIN); i++) {
        zframe_t *f = zframe_recv(st->pull);
        if (!f)
            break;
        if (!store_durable_is_mark(f))
            atomic_fetch_add(&st->store->c.received, 1);
        spooled |= store_take_one(st, f, after_sync);
    }
    if (!spooled || store_spool_sync(st->spool) == 0)
        for (zframe_t *m = zlistx_first(after_sync); m; m = zlistx_next(after_sync))
            store_ack(st, m);
    zlistx_destroy(&after_sync);
    store_acks_flush(st);
    store_backpressure(st);
    store_gauges(st);
}

static bool store_pending(store_state_t *st)
{
    return zsock_events(st->pull) & ZMQ_POLLIN;
}

/* Milliseconds until memory is due to be written (a full batch, or the
 * oldest row has waited the flush interval), at most max_ms. */
static int store_flush_wait_ms(store_state_t *st, int max_ms)
{
    if (!zlistx_size(st->memory))
        return max_ms;
    if (zlistx_size(st->memory) >= st->store->opt.batch_rows)
        return 0;
    int64_t due = st->memory_since_us + (int64_t)st->store->opt.flush_interval_ms * 1000;
    int64_t wait_ms = (due - clock_wall_us() + 999) / 1000;
    return wait_ms <= 0 ? 0 : wait_ms < max_ms ? (int)wait_ms : max_ms;
}

/* Connect if due, maintain partitions if due, write the spool, then memory
 * when it is due (or force), until both are empty or rows are waiting on
 * the socket. */
static void store_work(store_state_t *st, bool force)
{
    int64_t now = clock_wall_us();
    if (!st->conn && now >= st->next_connect_us)
        store_connect(st);
    if (st->conn && now >= st->next_maintenance_us && store_maintain(st) != 0)
        store_disconnect(st, "partition maintenance failed");
    if (st->conn && now >= st->next_rollup_us)
        store_rollup(st);
    while (st->conn && store_spool_rows(st->spool) && store_flush_spool(st) > 0 &&
           !store_pending(st))
        ;
    if (store_spool_rows(st->spool) || (!force && store_flush_wait_ms(st, 1) > 0)) {
        store_acks_flush(st);
        store_backpressure(st);
        return;
    }
    while (st->conn && zlistx_size(st->memory) && store_flush_memory(st) > 0 && !store_pending(st))
        ;
    if (!st->conn && zlistx_size(st->memory))
        store_spool_memory(st); /* the database went away: make them durable now */
    if (!zlistx_size(st->memory))
        st->memory_since_us = 0;
    store_acks_flush(st);
    store_backpressure(st);
}

static void store_actor(zsock_t *pipe, void *arg)
{
    store_state_t *st = arg;
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, st->pull, NULL);
    if (poller)
        zpoller_set_nonstop(poller, true); /* ends on $TERM only, after the core */
    while (poller) {
        /* Wake up when memory is due, unless it cannot be written now. */
        bool writable = st->conn && !store_spool_rows(st->spool);
        void *which = zpoller_wait(poller, writable ? store_flush_wait_ms(st, 200) : 200);
        if (which == pipe || zpoller_terminated(poller))
            break;
        store_take(st);
        store_work(st, false);
    }
    /* Shutdown: a last attempt for a few seconds, then spool the rest. */
    int64_t deadline = clock_wall_us() + 3000000;
    store_take(st);
    while (st->conn && (store_spool_rows(st->spool) || zlistx_size(st->memory)) &&
           clock_wall_us() < deadline)
        store_work(st, true);
    if (zlistx_size(st->memory)) {
        st->spool_full_until_us = 0;
        store_spool_memory(st);
    }
    store_acks_flush(st);
    if (zlistx_size(st->memory))
        log_report(LOG_LEVEL_WARNING, NULL, "Free space for the spool (storage.spool_dir).",
                   "%zu history records could not be written or spooled at shutdown; the samples"
                   " behind them were never acknowledged, so their collectors send them again",
                   zlistx_size(st->memory));
    zpoller_destroy(&poller);
    if (st->conn)
        PQfinish(st->conn);
    st->conn = NULL;
}

static void store_state_destroy(store_state_t **st_p)
{
    store_state_t *st = *st_p;
    if (!st)
        return;
    zsock_destroy(&st->pull);
    store_durable_destroy(&st->durable);
    zlistx_destroy(&st->memory);
    zhashx_destroy(&st->days);
    store_spool_destroy(&st->spool);
    free(st);
    *st_p = NULL;
}

store_t *store_new(const store_options_t *opt)
{
    store_t *self = calloc(1, sizeof *self);
    store_state_t *st = calloc(1, sizeof *st);
    if (!self || !st) {
        log_error("could not start the history store: out of memory");
        goto fail;
    }
    self->opt = *opt;
    if (!self->opt.batch_rows)
        self->opt.batch_rows = 5000;
    if (!self->opt.flush_interval_ms)
        self->opt.flush_interval_ms = 250;
    if (!self->opt.maintenance_interval_ms)
        self->opt.maintenance_interval_ms = 3600000; /* hourly */
    if (!self->opt.rollup_interval_ms)
        self->opt.rollup_interval_ms = 60000;
    if (!self->opt.retention_raw_days)
        self->opt.retention_raw_days = 2;
    if (!self->opt.retention_1m_days)
        self->opt.retention_1m_days = 60;
    if (!self->opt.retention_1h_days)
        self->opt.retention_1h_days = 730;
    st->store = self;
    if (!(st->spool = store_spool_new(opt->spool_path)))
        goto fail;
    st->memory = zlistx_new();
    st->days = zhashx_new();
    st->pull = zsock_new_pull("@" STORE_ENDPOINT);
    st->durable = store_durable_new();
    if (!st->memory || !st->days || !st->pull || !st->durable) {
        log_error("could not start the history store: out of memory or %s in use", STORE_ENDPOINT);
        goto fail;
    }
    zlistx_set_destructor(st->memory, (zlistx_destructor_fn *)zframe_destroy);
    zsock_set_rcvhwm(st->pull, 0);
    if (store_spool_rows(st->spool))
        log_info("%" PRIu64 " history rows spooled by an earlier run will be written first",
                 store_spool_rows(st->spool));
    store_gauges(st);
    self->state = st;
    if (!(self->actor = zactor_new(store_actor, st)))
        goto fail;
    return self;
fail:
    store_state_destroy(&st);
    free(self);
    return NULL;
}

void store_destroy(store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    store_state_t *st = self->state;
    zactor_destroy(&self->actor); /* $TERM: last flush, then spool */
    store_state_destroy(&st);
    free(self);
    *self_p = NULL;
}

void store_stats(store_t *self, store_stats_t *out)
{
    store_counters_t *c = &self->c;
    out->connected = atomic_load(&c->connected);
    out->rows_received = atomic_load(&c->received);
    out->rows_written = atomic_load(&c->written);
    out->rows_buffered = atomic_load(&c->buffered);
    out->rows_spooled = atomic_load(&c->spooled);
    out->rows_expired = atomic_load(&c->expired);
    out->batches = atomic_load(&c->batches);
    out->write_errors = atomic_load(&c->errors);
    out->partitions_created = atomic_load(&c->created);
    out->partitions_dropped = atomic_load(&c->dropped);
    out->rows_quarantined = atomic_load(&c->quarantined);
    out->marks_durable = atomic_load(&c->durable);
    out->batches_direct = atomic_load(&c->direct);
    out->batch_conflicts = atomic_load(&c->conflicts);
    out->backpressure = atomic_load(&c->backpressure);
}
