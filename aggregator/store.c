/*
 * store.c — the store actor (see store.h).
 *
 * The store thread owns one blocking libpq connection (it is the store's own
 * thread; statement_timeout bounds every call) and drains its PULL socket
 * between batches, so submitters never wait for the database.
 */
#include "store.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "partition.h"

#define STORE_ENDPOINT "inproc://pgvigil-store"
#define STORE_LOCK_KEY 0x70677667 /* "pgvg": serializes migrations */
#define STORE_HEADER 5            /* table byte + day */

static const char *const store_tables[STORE_TABLE_COUNT] = {"node_samples", "replication_lag",
                                                              "node_status_transitions", "events"};

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
    zlistx_t *memory;   /* zframe_t *, oldest first */
    FILE *spool;        /* append + read */
    long spool_read;    /* offset of the next record to write */
    uint64_t spool_rows;
    zhashx_t *days;     /* days whose partitions exist, "%d" */
} store_state_t;

/* ---- writers ---- */

store_writer_t *store_writer_new(store_t *store)
{
    (void)store;
    store_writer_t *w = calloc(1, sizeof *w);
    if (w && !(w->push = zsock_new_push(STORE_ENDPOINT))) {
        free(w);
        return NULL;
    }
    if (w) {
        zsock_set_sndhwm(w->push, 0);  /* never drop: the store buffers */
        zsock_set_linger(w->push, -1); /* rows queued at shutdown reach the store */
    }
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
    zframe_t *f = zframe_new(NULL, STORE_HEADER + n);
    if (!f)
        return -1;
    uint8_t *d = zframe_data(f);
    int32_t day = partition_day(at_us);
    d[0] = (uint8_t)table;
    memcpy(d + 1, &day, sizeof day);
    memcpy(d + STORE_HEADER, line, n);
    return zframe_send(&f, w->push, 0);
}

/* ---- migrations and partitions ---- */

static int store_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

static int store_by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int store_apply_file(PGconn *conn, const char *dir, const char *file, char *err, size_t errlen)
{
    char path[1024], *text = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    size_t len = 0;
    if (!f || getdelim(&text, &len, '\0', f) < 0) {
        snprintf(err, errlen, "could not read migration \"%s\"", path);
        if (f)
            fclose(f);
        free(text);
        return -1;
    }
    fclose(f);
    const char *params[1] = {file};
    int rc = store_exec(conn, "BEGIN", err, errlen);
    if (rc == 0 && (rc = store_exec(conn, text, err, errlen)) != 0)
        snprintf(err + strlen(err), errlen - strlen(err), " (in %s)", path);
    if (rc == 0) {
        PGresult *r = PQexecParams(conn,
                                   "INSERT INTO schema_migrations (version, name) VALUES (split_part($1, '_', 1)::int, $1)",
                                   1, NULL, params, NULL, NULL, 0);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc != 0)
            snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
    }
    store_exec(conn, rc == 0 ? "COMMIT" : "ROLLBACK", err + strlen(err), rc == 0 ? errlen - strlen(err) : 1);
    free(text);
    if (rc == 0)
        log_info("applied history migration %s", file);
    return rc;
}

static bool store_applied(PGconn *conn, const char *file)
{
    const char *params[1] = {file};
    PGresult *r = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, NULL, params,
                               NULL, NULL, 0);
    bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    return yes;
}

int store_migrate(void *pgconn, const char *sql_dir, char *err, size_t errlen)
{
    PGconn *conn = pgconn;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%d)", STORE_LOCK_KEY);
    if (store_exec(conn, lock, err, errlen) != 0 ||
        store_exec(conn, "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                         " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                   err, errlen) != 0)
        return -1;
    DIR *d = opendir(sql_dir);
    char *files[256];
    size_t n = 0;
    int rc = 0;
    for (struct dirent *e = d ? readdir(d) : NULL; e && n < 256; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".sql") == 0 && e->d_name[0] >= '0' && e->d_name[0] <= '9')
            files[n++] = strdup(e->d_name);
    }
    if (!d) {
        snprintf(err, errlen, "could not open the migrations directory \"%s\"", sql_dir);
        rc = -1;
    } else {
        closedir(d);
    }
    qsort(files, n, sizeof *files, store_by_name);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!store_applied(conn, files[i]))
            rc = store_apply_file(conn, sql_dir, files[i], err, errlen);
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    char unlock[96], ignored[8];
    snprintf(unlock, sizeof unlock, "SELECT pg_advisory_unlock(%d)", STORE_LOCK_KEY);
    store_exec(conn, unlock, ignored, sizeof ignored);
    return rc;
}

static int store_partitions_for(store_state_t *st, int32_t day)
{
    char key[16];
    snprintf(key, sizeof key, "%d", day);
    if (zhashx_lookup(st->days, key))
        return 0;
    char from[11], to[11], name[PARTITION_NAME_MAX], sql[512], err[256];
    partition_date(day, from);
    partition_date(day + 1, to);
    for (int t = 0; t < STORE_TABLE_COUNT; t++) {
        partition_name(store_tables[t], day, name, sizeof name);
        snprintf(sql, sizeof sql,
                 "CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')", name,
                 store_tables[t], from, to);
        if (store_exec(st->conn, sql, err, sizeof err) != 0) {
            log_warning("could not create partition %s: %s", name, err);
            return -1;
        }
    }
    atomic_fetch_add(&st->store->c.created, 1);
    zhashx_insert(st->days, key, (void *)1);
    return 0;
}

static void store_drop_expired(store_state_t *st, int32_t today)
{
    PGresult *r = PQexec(st->conn,
                         "SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                         " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('node_samples',"
                         " 'replication_lag', 'node_status_transitions', 'events')");
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        int32_t day;
        const char *parent = PQgetvalue(r, i, 0), *child = PQgetvalue(r, i, 1);
        if (partition_parse(parent, child, &day) != 0 ||
            !partition_expired(day, today, st->store->opt.retention_days))
            continue;
        char sql[256], err[256];
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", child);
        if (store_exec(st->conn, sql, err, sizeof err) == 0) {
            atomic_fetch_add(&st->store->c.dropped, 1);
            log_info("dropped expired history partition %s", child);
            char key[16];
            snprintf(key, sizeof key, "%d", day);
            zhashx_delete(st->days, key);
        }
    }
    PQclear(r);
}

static void store_maintain(store_state_t *st)
{
    int32_t today = partition_day(clock_wall_us());
    for (int32_t d = today - 1; d <= today + (int32_t)st->store->opt.partitions_ahead_days; d++)
        store_partitions_for(st, d);
    store_drop_expired(st, today);
    st->next_maintenance_us = clock_wall_us() + (int64_t)st->store->opt.maintenance_interval_ms * 1000;
}

/* ---- connection ---- */

static void store_disconnect(store_state_t *st, const char *why)
{
    if (st->conn) {
        log_warning("history database connection lost: %s; buffering", why);
        PQfinish(st->conn);
        st->conn = NULL;
    }
    atomic_store(&st->store->c.connected, false);
    int64_t delay = 250000LL << (st->attempts < 5 ? st->attempts : 5);
    st->next_connect_us = clock_wall_us() + (delay > 5000000 ? 5000000 : delay);
    st->attempts++;
    zhashx_purge(st->days);
}

static void store_connect(store_state_t *st)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", NULL};
    const char *vals[] = {st->store->opt.dsn, "pgvigil-aggregator", "2", "-c statement_timeout=30000", NULL};
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
    for (int t = 0; t < STORE_TABLE_COUNT; t++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "CREATE TEMP TABLE IF NOT EXISTS stage_%s (LIKE %s) ON COMMIT DELETE ROWS",
                 store_tables[t], store_tables[t]);
        if (store_exec(st->conn, sql, err, sizeof err) != 0) {
            store_disconnect(st, err);
            return;
        }
    }
    if (st->attempts)
        log_info("history database is back; catching up");
    st->attempts = 0;
    atomic_store(&st->store->c.connected, true);
    store_maintain(st);
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
    snprintf(sql, sizeof sql, "COPY stage_%s FROM STDIN", store_tables[t]);
    PGresult *r = PQexec(conn, sql);
    bool ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok || PQputCopyData(conn, data, (int)len) != 1 || PQputCopyEnd(conn, NULL) != 1) {
        snprintf(err, errlen, "COPY into stage_%s failed: %s", store_tables[t], PQerrorMessage(conn));
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

static const char *store_insert_sql(int t)
{
    switch (t) {
    case STORE_STATUS:
        return "INSERT INTO node_status_transitions SELECT * FROM stage_node_status_transitions"
               " ON CONFLICT DO NOTHING;"
               "INSERT INTO node_status (node, state, since, cluster_id, region, role, timeline, reason)"
               " SELECT DISTINCT ON (node) node, state, at, cluster_id, region, role, timeline, reason"
               " FROM stage_node_status_transitions ORDER BY node, at DESC"
               " ON CONFLICT (node) DO UPDATE SET state = EXCLUDED.state, since = EXCLUDED.since,"
               " cluster_id = EXCLUDED.cluster_id, region = EXCLUDED.region, role = EXCLUDED.role,"
               " timeline = EXCLUDED.timeline, reason = EXCLUDED.reason"
               " WHERE node_status.since <= EXCLUDED.since";
    case STORE_NODE_SAMPLES:
        return "INSERT INTO node_samples SELECT * FROM stage_node_samples ON CONFLICT DO NOTHING";
    case STORE_REPLICATION_LAG:
        return "INSERT INTO replication_lag SELECT * FROM stage_replication_lag ON CONFLICT DO NOTHING";
    default:
        return "INSERT INTO events SELECT * FROM stage_events ON CONFLICT DO NOTHING";
    }
}

/* Write one batch in one transaction. 0 written, -1 connection trouble. */
static int store_write(store_state_t *st, store_batch_t *b)
{
    char err[1024] = "";
    int rc = store_exec(st->conn, "BEGIN", err, sizeof err);
    for (int t = 0; rc == 0 && t < STORE_TABLE_COUNT; t++) {
        if (!b->len[t])
            continue;
        rc = store_copy(st->conn, t, b->buf[t], b->len[t], err, sizeof err);
        if (rc == 0)
            rc = store_exec(st->conn, store_insert_sql(t), err, sizeof err);
    }
    if (rc == 0)
        rc = store_exec(st->conn, "COMMIT", err, sizeof err);
    if (rc != 0) {
        atomic_fetch_add(&st->store->c.errors, 1);
        char ignored[8];
        store_exec(st->conn, "ROLLBACK", ignored, sizeof ignored);
        if (PQstatus(st->conn) == CONNECTION_OK)
            log_warning("could not write %zu history rows: %s", b->rows, err);
        store_disconnect(st, err); /* reconnect; the batch is retried, idempotently */
        return -1;
    }
    atomic_fetch_add(&st->store->c.written, b->rows);
    atomic_fetch_add(&st->store->c.batches, 1);
    return 0;
}

/* Add one record (header + line) to the batch, creating its day's
 * partitions first; records past the retention are counted and skipped. */
static int store_batch_add(store_state_t *st, store_batch_t *b, const uint8_t *rec, size_t len)
{
    int32_t day;
    memcpy(&day, rec + 1, sizeof day);
    int t = rec[0];
    if (t >= STORE_TABLE_COUNT || len < STORE_HEADER)
        return 0; /* cannot happen: written by store_put */
    if (partition_expired(day, partition_day(clock_wall_us()), st->store->opt.retention_days)) {
        atomic_fetch_add(&st->store->c.expired, 1);
        return 0;
    }
    if (store_partitions_for(st, day) != 0)
        return -1;
    if (!b->mem[t] && !(b->mem[t] = open_memstream(&b->buf[t], &b->len[t])))
        return -1;
    fwrite(rec + STORE_HEADER, 1, len - STORE_HEADER, b->mem[t]);
    b->rows++;
    return 0;
}

static void store_batch_close(store_batch_t *b)
{
    for (int t = 0; t < STORE_TABLE_COUNT; t++)
        if (b->mem[t])
            fclose(b->mem[t]), b->mem[t] = NULL;
}

static void store_batch_free(store_batch_t *b)
{
    store_batch_close(b);
    for (int t = 0; t < STORE_TABLE_COUNT; t++)
        free(b->buf[t]);
    memset(b, 0, sizeof *b);
}

/* ---- spool: records [u32 length][record], appended, read in order ---- */

static int store_spool_append(store_state_t *st, zframe_t *f)
{
    uint32_t n = (uint32_t)zframe_size(f);
    if (fseek(st->spool, 0, SEEK_END) != 0 || fwrite(&n, sizeof n, 1, st->spool) != 1 ||
        fwrite(zframe_data(f), 1, n, st->spool) != n) {
        log_error("could not write the spool file %s; keeping rows in memory", st->store->opt.spool_path);
        return -1;
    }
    st->spool_rows++;
    atomic_store(&st->store->c.spooled, st->spool_rows);
    return 0;
}

/* Move memory to the spool (at shutdown, or when memory is full). */
static void store_spool_memory(store_state_t *st)
{
    zframe_t *f;
    while ((f = zlistx_first(st->memory))) {
        if (store_spool_append(st, f) != 0)
            break;
        zlistx_delete(st->memory, zlistx_cursor(st->memory));
    }
    fflush(st->spool);
    fsync(fileno(st->spool));
    atomic_store(&st->store->c.buffered, zlistx_size(st->memory));
}

static int store_flush_spool(store_state_t *st)
{
    store_batch_t b = {0};
    long pos = st->spool_read;
    uint64_t taken = 0;
    uint8_t *rec = NULL;
    if (fseek(st->spool, pos, SEEK_SET) != 0)
        return -1;
    uint32_t n;
    while (b.rows < st->store->opt.batch_rows && fread(&n, sizeof n, 1, st->spool) == 1) {
        uint8_t *r = realloc(rec, n ? n : 1);
        if (!r || fread(r, 1, n, st->spool) != n) {
            rec = r;
            break;
        }
        rec = r;
        if (store_batch_add(st, &b, rec, n) != 0)
            break;
        taken++;
        pos = ftell(st->spool);
    }
    free(rec);
    store_batch_close(&b);
    int rc = b.rows ? store_write(st, &b) : 0;
    store_batch_free(&b);
    if (rc != 0)
        return -1;
    st->spool_read = pos;
    st->spool_rows -= taken < st->spool_rows ? taken : st->spool_rows;
    if (taken == 0 || st->spool_rows == 0) { /* drained */
        if (ftruncate(fileno(st->spool), 0) != 0)
            log_warning("could not truncate the spool file");
        st->spool_read = 0;
        st->spool_rows = 0;
    }
    atomic_store(&st->store->c.spooled, st->spool_rows);
    return 0;
}

static int store_flush_memory(store_state_t *st)
{
    store_batch_t b = {0};
    size_t taken = 0;
    for (zframe_t *f = zlistx_first(st->memory); f && b.rows < st->store->opt.batch_rows;
         f = zlistx_next(st->memory)) {
        if (store_batch_add(st, &b, zframe_data(f), zframe_size(f)) != 0)
            break;
        taken++;
    }
    store_batch_close(&b);
    int rc = b.rows ? store_write(st, &b) : 0;
    store_batch_free(&b);
    if (rc != 0)
        return -1;
    for (size_t i = 0; i < taken; i++) {
        zlistx_first(st->memory);
        zlistx_delete(st->memory, zlistx_cursor(st->memory));
    }
    atomic_store(&st->store->c.buffered, zlistx_size(st->memory));
    return 0;
}

/* ---- the actor ---- */

static void store_take(store_state_t *st)
{
    for (int i = 0; i < 100000 && (zsock_events(st->pull) & ZMQ_POLLIN); i++) {
        zframe_t *f = zframe_recv(st->pull);
        if (!f)
            return;
        atomic_fetch_add(&st->store->c.received, 1);
        /* Keep order: once rows go to the spool, later ones follow them. */
        if (st->spool_rows || zlistx_size(st->memory) >= st->store->opt.memory_rows) {
            if (store_spool_append(st, f) == 0) {
                zframe_destroy(&f);
                continue;
            }
        }
        zlistx_add_end(st->memory, f);
    }
    atomic_store(&st->store->c.buffered, zlistx_size(st->memory));
}

static void store_work(store_state_t *st)
{
    int64_t now = clock_wall_us();
    if (!st->conn && now >= st->next_connect_us)
        store_connect(st);
    if (!st->conn)
        return;
    if (now >= st->next_maintenance_us)
        store_maintain(st);
    fflush(st->spool);
    while (st->conn && st->spool_rows && store_flush_spool(st) == 0 && !(zsock_events(st->pull) & ZMQ_POLLIN))
        ;
    if (st->conn && !st->spool_rows)
        while (st->conn && zlistx_size(st->memory) && store_flush_memory(st) == 0 &&
               !(zsock_events(st->pull) & ZMQ_POLLIN))
            ;
}

static void store_actor(zsock_t *pipe, void *arg)
{
    store_state_t *st = arg;
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, st->pull, NULL);
    zpoller_set_nonstop(poller, true); /* ends on $TERM only, after the core */
    while (true) {
        void *which = zpoller_wait(poller, 200);
        if (which == pipe || zpoller_terminated(poller))
            break;
        store_take(st);
        store_work(st);
    }
    /* Shutdown: a last attempt for a few seconds, then spool the rest. */
    int64_t deadline = clock_wall_us() + 3000000;
    store_take(st);
    while (st->conn && (st->spool_rows || zlistx_size(st->memory)) && clock_wall_us() < deadline)
        store_work(st);
    store_spool_memory(st);
    zpoller_destroy(&poller);
    if (st->conn)
        PQfinish(st->conn);
}

store_t *store_new(const store_options_t *opt)
{
    store_t *self = calloc(1, sizeof *self);
    store_state_t *st = calloc(1, sizeof *st);
    if (!self || !st)
        goto fail;
    self->opt = *opt;
    if (!self->opt.batch_rows)
        self->opt.batch_rows = 5000;
    st->store = self;
    st->memory = zlistx_new();
    st->days = zhashx_new();
    st->pull = zsock_new_pull("@" STORE_ENDPOINT);
    st->spool = fopen(opt->spool_path, "a+b");
    if (!st->spool) {
        log_report(LOG_LEVEL_ERROR, NULL, "Create the directory or set storage.spool_dir.",
                   "could not open the spool file \"%s\": %s", opt->spool_path, strerror(errno));
        goto fail;
    }
    if (!st->memory || !st->days || !st->pull) {
        log_error("could not start the history store: out of memory");
        goto fail;
    }
    zlistx_set_destructor(st->memory, (zlistx_destructor_fn *)zframe_destroy);
    zsock_set_rcvhwm(st->pull, 0);
    /* Rows spooled by an earlier run are written first. */
    uint32_t n;
    while (fread(&n, sizeof n, 1, st->spool) == 1 && fseek(st->spool, n, SEEK_CUR) == 0)
        st->spool_rows++;
    if (st->spool_rows)
        log_info("%" PRIu64 " history rows spooled by an earlier run will be written first", st->spool_rows);
    atomic_store(&self->c.spooled, st->spool_rows);
    self->state = st;
    if (!(self->actor = zactor_new(store_actor, st)))
        goto fail;
    return self;
fail:
    free(self);
    if (st) {
        zsock_destroy(&st->pull);
        zlistx_destroy(&st->memory);
        zhashx_destroy(&st->days);
        if (st->spool)
            fclose(st->spool);
        free(st);
    }
    return NULL;
}

void store_destroy(store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    store_state_t *st = self->state;
    zactor_destroy(&self->actor); /* $TERM: last flush, then spool */
    zsock_destroy(&st->pull);
    zlistx_destroy(&st->memory);
    zhashx_destroy(&st->days);
    fclose(st->spool);
    free(st);
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
