/*
 * store.h — history writer (the store actor).
 *
 * The store owns the connection to the history database. Other actors hand it
 * rows through a store_writer_t (one per thread: a PUSH socket to the store's
 * inproc PULL, so no locks), and it writes them in batches with COPY, one
 * transaction per batch, into staging tables whose rows are moved with
 * INSERT ... ON CONFLICT DO NOTHING, so a row written twice (two aggregators,
 * a replay after an outage) is stored once. It keeps daily partitions created
 * ahead and drops those past retention. While the database is unreachable it
 * keeps accepting rows: in memory up to memory_rows, then appended to a spool
 * file; when the database returns it writes the spool, then memory, in order.
 *
 * All strings passed to store_put_* are copied; callers keep ownership.
 * Times are microseconds since the Unix epoch (UTC).
 */
#ifndef PGVIGIL_STORE_H
#define PGVIGIL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;
typedef struct store_writer store_writer_t;

typedef struct {
    const char *dsn;                /* libpq connection string (required) */
    uint32_t retention_days;        /* partitions older than this are dropped */
    uint32_t partitions_ahead_days; /* partitions created ahead of today */
    const char *spool_dir;          /* spool file lives here */
    uint64_t memory_rows;           /* rows held in memory before spooling */
    uint32_t batch_rows;            /* rows per COPY batch, default 5000 */
    uint32_t flush_interval_ms;     /* longest a row waits, default 200 */
} store_options_t;

/* Apply the migrations of sql_dir (files NNN_name.sql, in order) that are not
 * yet in schema_migrations, each in its own transaction, serialized across
 * aggregators with an advisory lock. Returns 0, or -1 with err set. */
int store_migrate(const char *dsn, const char *sql_dir, char *err, size_t errlen);

/* Start the store actor. Does not fail when the database is down: it starts
 * buffering and keeps retrying. NULL only on bad options or out of memory. */
store_t *store_new(const store_options_t *opt);
/* Flush what the database accepts within a few seconds, spool the rest. */
void store_destroy(store_t **self_p);

/* Counters, read lock-free from any thread (HTTP /metrics, /readyz). */
typedef struct {
    bool connected;             /* last attempt to reach the database worked */
    uint64_t rows_received;
    uint64_t rows_written;      /* committed (duplicates included) */
    uint64_t rows_buffered;     /* waiting in memory now */
    uint64_t rows_spooled;      /* waiting in the spool file now */
    uint64_t batches_written;
    uint64_t write_errors;
    uint64_t partitions_created;
    uint64_t partitions_dropped;
} store_stats_t;
void store_stats(store_t *self, store_stats_t *out);

/* One writer per thread that submits rows. */
store_writer_t *store_writer_new(store_t *store);
void store_writer_destroy(store_writer_t **self_p);

/* Table node_samples: one row per accepted sample. metrics_json is the
 * sample rendered by pbjson_from_message() (stored as jsonb). */
typedef struct {
    uint64_t cluster_id;        /* system identifier (0 if the node is down and unknown) */
    const char *node;
    const char *region;
    const char *role;           /* "primary" | "replica" | "unknown" */
    bool up;
    uint32_t timeline;
    uint64_t sequence;
    int64_t collected_at_us;    /* collector clock, as sent */
    int64_t received_at_us;     /* aggregator clock */
    const char *metrics_json;
} store_sample_t;
int store_put_sample(store_writer_t *w, const store_sample_t *row);

/* Table replication_lag: one row per replica sample with a lag computed. */
typedef struct {
    uint64_t cluster_id;
    const char *node;           /* the replica */
    int64_t at_us;              /* the replica sample's time on the aggregator clock */
    int64_t lag_bytes;          /* primary LSN at t minus replay LSN, >= 0 */
    double lag_seconds;         /* t minus the time the primary reached replay LSN */
    int64_t receive_lag_bytes;  /* primary LSN at t minus receive LSN, >= 0 */
    int64_t apply_lag_bytes;    /* receive LSN minus replay LSN, >= 0 */
    bool replay_paused;
    double primary_replay_lag_s; /* pg_stat_replication.replay_lag; NAN if unknown */
    double clock_offset_s;      /* collector clock minus aggregator clock */
} store_lag_t;
int store_put_lag(store_writer_t *w, const store_lag_t *row);

/* Tables node_status (current, upserted) and node_status_transitions
 * (appended): written on every change of state. */
typedef struct {
    uint64_t cluster_id;
    const char *node;
    const char *region;
    const char *role;
    const char *state;          /* "up" | "down" | "stale" */
    uint32_t timeline;
    int64_t at_us;
    const char *reason;         /* sanitized error or why; may be NULL */
} store_status_t;
int store_put_status(store_writer_t *w, const store_status_t *row);

/* Table events: failover, split brain, replica disconnected, ... */
typedef struct {
    uint64_t cluster_id;
    const char *node;           /* may be NULL for cluster-wide events */
    int64_t at_us;
    const char *kind;           /* "failover", "split_brain", "replica_disconnected",
                                   "replay_paused", "slot_inactive", "timeline_change",
                                   "node_down", "node_up", "node_stale", "collector_restart" */
    const char *severity;       /* "info" | "warning" | "critical" */
    const char *message;        /* one line, for people */
    const char *details_json;   /* may be NULL */
} store_event_t;
int store_put_event(store_writer_t *w, const store_event_t *row);

#endif
