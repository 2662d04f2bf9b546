/*
 * store/ — the history database, one concern per file:
 *   store.c          the store actor: batches rows and writes them with COPY
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
 * Order: rows are written in the order they arrived. Once memory is full it
 * is moved to the spool and later rows follow them there until the spool has
 * been written, so the spool always holds the oldest rows and memory the
 * newest; the spool is written first.
 */
#include "store.h"

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
#include "store_schema.h"
#include "store_spool.h"

#define STORE_ENDPOINT "inproc://pgvigil-store"
#define STORE_TAKE_MAX 100000 /* records taken from the socket per round */

typedef struct {
    atomic_bool connected;
    atomic_uint_fast64_t received, written, buffered, spooled, expired, batches, errors, created,
        dropped;
} store_counters_t;

struct store {
    zactor_t *actor;
    store_options_t opt;
    store_counters_t c;
    void *state;
};

struct store_writer {
    zsock_t *push;
};

typedef struct {
    store_t *store;
    zsock_t *pull;
    PGconn *conn;
    int64_t next_connect_us, next_maintenance_us;
    unsigned attempts;
    zlistx_t *memory;        /* zframe_t * records, oldest first */
    int64_t memory_since_us; /* when memory last became non-empty; 0 when empty */
    store_spool_t *spool;    /* older than memory when not empty */
    zhashx_t *days;          /* days whose partitions exist, "%d" */
} store_state_t;

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

/* ---- partitions ---- */

/* Make sure the partitions of day exist (once per connection and day). */
static int store_partitions_for(store_state_t *st, int32_t day)
{
    char key[16], err[512];
    snprintf(key, sizeof key, "%d", day);
    if (zhashx_lookup(st->days, key))
        return 0;
    int created = store_schema_partitions(st->conn, day, err, sizeof err);
    if (created < 0) {
        log_warning("could not create the history partitions of day %d: %s", day, err);
        return -1;
    }
    atomic_fetch_add(&st->store->c.created, (uint64_t)created);
    return zhashx_insert(st->days, key, (void *)1) == 0 || zhashx_lookup(st->days, key) ? 0 : -1;
}

/* Create today - 1 .. today + ahead, drop what is past the retention. */
static int store_maintain(store_state_t *st)
{
    int32_t today = partition_day(clock_wall_us());
    st->next_maintenance_us =
        clock_wall_us() + (int64_t)st->store->opt.maintenance_interval_ms * 1000;
    for (int32_t d = today - 1; d <= today + (int32_t)st->store->opt.partitions_ahead_days; d++)
        if (store_partitions_for(st, d) != 0)
            return -1;
    int dropped = store_schema_drop_expired(st->conn, today, st->store->opt.retention_days);
    if (dropped > 0) {
        atomic_fetch_add(&st->store->c.dropped, (uint64_t)dropped);
        zhashx_purge(st->days); /* re-checked against the catalog on next use */
    }
    return dropped < 0 ? -1 : 0;
}

/* ---- connection ---- */

static void store_disconnect(store_state_t *st, const char *why)
{
    if (st->conn) {
        log_warning("history database connection lost: %s; buffering rows", why);
        PQfinish(st->conn);
        st->conn = NULL;
    }
    atomic_store(&st->store->c.connected, false);
    int64_t delay = 250000LL << (st->attempts < 5 ? st->attempts : 5);
    st->next_connect_us = clock_wall_us() + (delay > 5000000 ? 5000000 : delay);
    st->attempts++;
    zhashx_purge(st->days);
}

/* Connect, migrate, create the staging tables and maintain partitions. */
static void store_connect(store_state_t *st)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", NULL};
    const char *vals[] = {st->store->opt.dsn, "pgvigil-aggregator", "2",
                          "-c statement_timeout=15000", NULL};
    char err[1024];
    st->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(st->conn) != CONNECTION_OK) {
        if (st->attempts == 0)
            log_warning("could not connect to the history database: %s", PQerrorMessage(st->conn));
        PQfinish(st->conn);
        st->conn = NULL;
        store_disconnect(st, "");
        return;
    }
    if (store_migrate(st->conn, st->store->opt.sql_dir, err, sizeof err) != 0) {
        log_error("could not apply history migrations: %s", err);
        store_disconnect(st, err);
        return;
    }
    if (store_schema_staging(st->conn, err, sizeof err) != 0) {
        store_disconnect(st, err);
        return;
    }
    if (st->attempts)
        log_info("history database is back; catching up");
    st->attempts = 0;
    atomic_store(&st->store->c.connected, true);
    if (store_maintain(st) != 0)
        store_disconnect(st, "partition maintenance failed");
}

/* ---- batches ---- */

typedef struct {
    char *buf[STORE_TABLE_COUNT];
    size_t len[STORE_TABLE_COUNT];
    FILE *mem[STORE_TABLE_COUNT];
    size_t rows;
} store_batch_t;

static int store_copy(PGconn *conn, int t, const char *data, size_t len, char *err, size_t errlen)
{
    char sql[160];
    snprintf(sql, sizeof sql, "COPY stage_%s FROM STDIN", store_schema_table(t));
    PGresult *r = PQexec(conn, sql);
    bool ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok || PQputCopyData(conn, data, (int)len) != 1 || PQputCopyEnd(conn, NULL) != 1) {
        snprintf(err, errlen, "COPY into stage_%s failed: %s", store_schema_table(t),
                 PQerrorMessage(conn));
        while ((r = PQgetResult(conn)))
            PQclear(r);
        return -1;
    }
    int rc = 0;
    while ((r = PQgetResult(conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            snprintf(err, errlen, "%s", PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    return rc;
}

/* Write one batch in one transaction. 0 written, -1 failed (disconnected:
 * the batch is retried after reconnecting, idempotently). */
static int store_write(store_state_t *st, store_batch_t *b)
{
    char err[1024] = "";
    int rc = store_schema_exec(st->conn, "BEGIN", err, sizeof err);
    for (int t = 0; rc == 0 && t < STORE_TABLE_COUNT; t++) {
        if (!b->len[t])
            continue;
        rc = store_copy(st->conn, t, b->buf[t], b->len[t], err, sizeof err);
        if (rc == 0)
            rc = store_schema_exec(st->conn, store_schema_insert_sql(t), err, sizeof err);
    }
    if (rc == 0)
        rc = store_schema_exec(st->conn, "COMMIT", err, sizeof err);
    if (rc != 0) {
        atomic_fetch_add(&st->store->c.errors, 1);
        store_schema_exec(st->conn, "ROLLBACK", NULL, 0);
        if (PQstatus(st->conn) == CONNECTION_OK)
            log_warning("could not write %zu history rows: %s", b->rows, err);
        store_disconnect(st, err);
        return -1;
    }
    atomic_fetch_add(&st->store->c.written, b->rows);
    atomic_fetch_add(&st->store->c.batches, 1);
    return 0;
}

/* Add one record to the batch, creating its day's partitions first; records
 * past the retention are counted and skipped. -1 (disconnected or out of
 * memory): the record was not taken. */
static int store_batch_add(store_state_t *st, store_batch_t *b, const uint8_t *buf, size_t len)
{
    store_spool_record_t rec;
    if (store_spool_decode(buf, len, STORE_TABLE_COUNT, &rec) != 0) {
        log_warning("skipping a malformed history record of %zu bytes", len);
        return 0;
    }
    if (partition_expired(rec.day, partition_day(clock_wall_us()), st->store->opt.retention_days)) {
        atomic_fetch_add(&st->store->c.expired, 1);
        return 0;
    }
    if (store_partitions_for(st, rec.day) != 0) {
        store_disconnect(st, "could not create partitions");
        return -1;
    }
    int t = rec.table;
    if (!b->mem[t] && !(b->mem[t] = open_memstream(&b->buf[t], &b->len[t])))
        return -1;
    if (fwrite(rec.line, 1, rec.line_len, b->mem[t]) != rec.line_len)
        return -1;
    b->rows++;
    return 0;
}

/* Finish the batch's buffers; -1 if one could not be completed. */
static int store_batch_close(store_batch_t *b)
{
    int rc = 0;
    for (int t = 0; t < STORE_TABLE_COUNT; t++)
        if (b->mem[t]) {
            rc |= fclose(b->mem[t]) != 0 ? -1 : 0;
            b->mem[t] = NULL;
        }
    return rc;
}

static void store_batch_free(store_batch_t *b)
{
    store_batch_close(b);
    for (int t = 0; t < STORE_TABLE_COUNT; t++)
        free(b->buf[t]);
    memset(b, 0, sizeof *b);
}

/* ---- sources: the spool, then memory ---- */

static void store_gauges(store_state_t *st)
{
    atomic_store(&st->store->c.buffered, zlistx_size(st->memory));
    atomic_store(&st->store->c.spooled, store_spool_rows(st->spool));
}

/* Move memory to the end of the spool (memory full, or shutdown). */
static int store_spool_memory(store_state_t *st)
{
    int rc = 0;
    zframe_t *f;
    while ((f = zlistx_first(st->memory))) {
        if ((rc = store_spool_append(st->spool, zframe_data(f), zframe_size(f))) != 0)
            break;
        zlistx_delete(st->memory, zlistx_cursor(st->memory));
    }
    if (store_spool_sync(st->spool) != 0)
        rc = -1;
    store_gauges(st);
    return rc;
}

/* Write one batch from the spool. 1 wrote, 0 nothing left, -1 failed. */
static int store_flush_spool(store_state_t *st)
{
    store_batch_t b = {0};
    uint64_t cursor = store_spool_cursor(st->spool), next = cursor, taken = 0;
    uint8_t *rec = NULL;
    size_t cap = 0, len = 0;
    int got = 0, rc = 0;
    while (b.rows < st->store->opt.batch_rows &&
           (got = store_spool_next(st->spool, &next, &rec, &cap, &len)) == 1) {
        if ((rc = store_batch_add(st, &b, rec, len)) != 0)
            break;
        taken++;
        cursor = next;
    }
    free(rec);
    if (got < 0 || store_batch_close(&b) != 0)
        rc = -1;
    if (rc == 0 && b.rows)
        rc = store_write(st, &b);
    store_batch_free(&b);
    if (rc != 0)
        return -1;
    /* At the end of the file every record has been read: consume all. */
    store_spool_consume(st->spool, cursor, got == 0 ? UINT64_MAX : taken);
    store_gauges(st);
    return taken > 0 ? 1 : 0;
}

/* Write one batch from memory. 1 wrote, 0 nothing left, -1 failed. */
static int store_flush_memory(store_state_t *st)
{
    store_batch_t b = {0};
    size_t taken = 0;
    int rc = 0;
    for (zframe_t *f = zlistx_first(st->memory); f && b.rows < st->store->opt.batch_rows;
         f = zlistx_next(st->memory)) {
        if ((rc = store_batch_add(st, &b, zframe_data(f), zframe_size(f))) != 0)
            break;
        taken++;
    }
    if (store_batch_close(&b) != 0)
        rc = -1;
    if (rc == 0 && b.rows)
        rc = store_write(st, &b);
    store_batch_free(&b);
    if (rc != 0)
        return -1;
    for (size_t i = 0; i < taken; i++) {
        zlistx_first(st->memory);
        zlistx_delete(st->memory, zlistx_cursor(st->memory));
    }
    store_gauges(st);
    return taken > 0 ? 1 : 0;
}

/* ---- the actor ---- */

/* Take what the writers sent, into memory or (keeping order) the spool. */
static void store_take(store_state_t *st)
{
    bool spooled = false;
    for (int i = 0; i < STORE_TAKE_MAX && (zsock_events(st->pull) & ZMQ_POLLIN); i++) {
        zframe_t *f = zframe_recv(st->pull);
        if (!f)
            break;
        atomic_fetch_add(&st->store->c.received, 1);
        if (!store_spool_rows(st->spool) && zlistx_size(st->memory) >= st->store->opt.memory_rows)
            store_spool_memory(st);
        if (store_spool_rows(st->spool) &&
            store_spool_append(st->spool, zframe_data(f), zframe_size(f)) == 0) {
            spooled = true;
            zframe_destroy(&f);
            continue;
        }
        if (!zlistx_size(st->memory))
            st->memory_since_us = clock_wall_us();
        zlistx_add_end(st->memory, f); /* (or the spool failed: memory rather than loss) */
    }
    if (spooled)
        store_spool_sync(st->spool);
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
    while (st->conn && store_spool_rows(st->spool) && store_flush_spool(st) > 0 &&
           !store_pending(st))
        ;
    if (store_spool_rows(st->spool) || (!force && store_flush_wait_ms(st, 1) > 0))
        return;
    while (st->conn && zlistx_size(st->memory) && store_flush_memory(st) > 0 && !store_pending(st))
        ;
    if (!zlistx_size(st->memory))
        st->memory_since_us = 0;
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
    if (zlistx_size(st->memory) && store_spool_memory(st) != 0)
        log_error("%zu history rows could not be spooled at shutdown and are lost",
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
    st->store = self;
    if (!(st->spool = store_spool_new(opt->spool_path)))
        goto fail;
    st->memory = zlistx_new();
    st->days = zhashx_new();
    st->pull = zsock_new_pull("@" STORE_ENDPOINT);
    if (!st->memory || !st->days || !st->pull) {
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
}
