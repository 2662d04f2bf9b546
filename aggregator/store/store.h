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
 * interval. While the database is unreachable it keeps accepting rows: in
 * memory up to memory_rows, then appended to a spool file; when the database
 * returns it writes the spool, then memory, in order. At shutdown what could
 * not be written goes to the spool, which the next start writes first.
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
    uint32_t retention_days;
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
} store_stats_t;
void store_stats(store_t *self, store_stats_t *out);

store_writer_t *store_writer_new(store_t *store);
void store_writer_destroy(store_writer_t **self_p);
/* Hand over one COPY line (newline-terminated) for table, dated at_us. */
int store_put(store_writer_t *w, store_table_t table, int64_t at_us, const char *line);

/* Apply pending migrations now (used at start and by tests). */
int store_migrate(void *pgconn, const char *sql_dir, char *err, size_t errlen);

#endif
