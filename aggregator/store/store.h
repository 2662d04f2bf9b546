/*
 * store.h — the store actor: history writes to PostgreSQL.
 *
 * Other threads hand rows over through a store_writer_t (one per thread: a
 * PUSH socket to the store's inproc PULL, so no locks), each row already
 * rendered as a COPY text line (store_line.h) with its table and UTC day.
 * The store thread batches rows (up to batch_rows, or every flush interval)
 * and writes each batch in one transaction: COPY into per-session staging
 * tables, then INSERT ... ON CONFLICT DO NOTHING into the partitioned
 * tables, so a row written twice (two aggregators, a replay after an outage)
 * is stored once; node_status is upserted from the transitions.
 *
 * On (re)connect it applies the migrations of sql_dir under an advisory lock
 * (two aggregators never race), then keeps daily partitions created ahead
 * and drops those past the retention, at start and every maintenance
 * interval. While the database is unreachable rows go to a spool file,
 * fsynced once per batch taken from the socket; when the database returns
 * it writes the spool, then memory, in order. At shutdown what could not be
 * written goes to the spool, which the next start writes first.
 *
 * Durability marks: after the rows of a sample the core puts a mark
 * (store_mark). Once every record before a mark is committed or fsynced in
 * the spool, the store sends the mark to STORE_DURABLE_ENDPOINT, where
 * ingest binds a PULL and acknowledges the sample to its collector; a
 * collector keeps a sample until then, so a kill -9 loses nothing. When the
 * spool cannot grow (disk full) rows wait in memory; at memory_rows the
 * store asks ingest to stop taking samples (backpressure: collectors keep
 * them) until memory is half empty. A row the database refuses is
 * quarantined (store_write.h), never retried forever.
 */
#ifndef PGVIGIL_STORE_H
#define PGVIGIL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    STORE_NODE_SAMPLES,
    STORE_REPLICATION_LAG,
    STORE_STATUS, /* node_status_transitions, and node_status */
    STORE_EVENTS,
    STORE_TABLE_COUNT
} store_table_t;

typedef struct store store_t;
typedef struct store_writer store_writer_t;

typedef struct {
    const char *dsn;
    const char *sql_dir;
    const char *spool_path;
    uint32_t retention_days;      /* transitions and events */
    uint32_t retention_raw_days;  /* node_samples, replication_lag; 0: 2 */
    uint32_t retention_1m_days;   /* node_samples_1m; 0: 60 */
    uint32_t retention_1h_days;   /* node_samples_1h; 0: 730 */
    uint64_t rollup_interval_ms;  /* rollup passes; 0: 60 s */
    uint32_t partitions_ahead_days;
    uint64_t memory_rows;
    uint32_t batch_rows;
    uint64_t maintenance_interval_ms;
    uint32_t flush_interval_ms; /* longest a row waits for a fuller batch; 0: 250 */
} store_options_t;

/* Start the actor. It does not need the database to be up. */
store_t *store_new(const store_options_t *opt);
/* Write what the database accepts within a few seconds; spool the rest. */
void store_destroy(store_t **self_p);

typedef struct {
    bool connected;
    uint64_t rows_received, rows_written, rows_buffered, rows_spooled;
    uint64_t rows_expired, batches, write_errors, partitions_created, partitions_dropped;
    uint64_t rows_quarantined, marks_durable;
    uint64_t batches_direct;    /* committed by COPY straight into their tables */
    uint64_t batch_conflicts;   /* found a row stored already: staged + ON CONFLICT for a while */
    bool backpressure; /* spool full and memory at memory_rows: new samples refused */
} store_stats_t;
void store_stats(store_t *self, store_stats_t *out);

store_writer_t *store_writer_new(store_t *store);
void store_writer_destroy(store_writer_t **self_p);
/* Hand over one COPY line (newline-terminated) for table, dated at_us. */
int store_put(store_writer_t *w, store_table_t table, int64_t at_us, const char *line);

/* Messages on STORE_DURABLE_ENDPOINT: one byte of kind, then for
 * STORE_DURABLE_MARKS an array of store_mark_t. */
#define STORE_DURABLE_ENDPOINT "inproc://pgvigil-durable"
#define STORE_DURABLE_MARKS 'M'  /* these samples are durable */
#define STORE_DURABLE_PAUSE 'P'  /* stop taking samples: history cannot keep them */
#define STORE_DURABLE_RESUME 'R' /* take samples again */
#define STORE_MARK_NODE_MAX 64

typedef struct {
    char node[STORE_MARK_NODE_MAX];
    int64_t started_at_us; /* the collector process */
    uint64_t sequence;
} store_mark_t;

/* After the rows of one sample: ask to be told when they are durable. */
int store_mark(store_writer_t *w, const char *node, int64_t started_at_us, uint64_t sequence);

/* Apply pending migrations now (used at start and by tests). */
int store_migrate(void *pgconn, const char *sql_dir, char *err, size_t errlen);

#endif
