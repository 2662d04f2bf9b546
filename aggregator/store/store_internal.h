/*
 * store_internal.h — the store actor's state, shared by store.c (the actor:
 * batches, spool, marks) and store_conn.c (its connection and the upkeep of
 * partitions and rollups). Owned by the store thread only; the counters are
 * atomics read by store_stats() from any thread.
 */
#ifndef PGVIGIL_STORE_INTERNAL_H
#define PGVIGIL_STORE_INTERNAL_H

#include <czmq.h>
#include <libpq-fe.h>
#include <stdatomic.h>

#include "store.h"
#include "store_durable.h"
#include "store_spool.h"
#include "store_write.h"

#define STORE_ENDPOINT "inproc://pgvigil-store"
#define STORE_TAKE_MAX 100000 /* records taken from the socket per round */
#define STORE_FULL_RETRY_US 1000000     /* a full spool is tried again after this */
#define STORE_FULL_LOG_US 60000000      /* and said at most once a minute */

typedef struct {
    atomic_bool connected;
    atomic_uint_fast64_t received, written, buffered, spooled, expired, batches, errors, created,
        dropped, quarantined, durable, direct, conflicts;
    atomic_bool backpressure;
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
    int64_t next_connect_us, next_maintenance_us, next_rollup_us;
    unsigned attempts;
    zlistx_t *memory;        /* zframe_t * records, oldest first */
    int64_t memory_since_us; /* when memory last became non-empty; 0 when empty */
    store_spool_t *spool;    /* older than memory when not empty */
    zhashx_t *days;          /* days whose partitions exist, "%d" */
    store_durable_t *durable; /* marks and backpressure, towards ingest */
    bool paused;              /* ingest asked to stop taking samples */
    int64_t spool_full_until_us, full_logged_us;
    uint64_t full_rows_held; /* rows kept in memory because the spool was full */
    int64_t quarantine_logged_us;
    store_write_path_t path; /* COPY straight or staged (store_write.h) */
} store_state_t;

/* store_conn.c: the connection, partitions and rollups. */
int store_partitions_for(store_state_t *st, int32_t day);
int store_maintain(store_state_t *st);
void store_rollup(store_state_t *st);
void store_disconnect(store_state_t *st, const char *why);
void store_connect(store_state_t *st);

#endif
