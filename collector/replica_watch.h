/*
 * replica_watch.h — between rounds, on a replica, a tiny query every
 * watch_interval: is replay paused, what is the WAL receiver doing, where
 * are receive and replay. When that state differs from what was last seen,
 * the round loop (collector.c) starts a round at once, so a pause or a
 * receiver change reaches the aggregator within about watch_interval instead
 * of up to a whole interval later.
 *
 * This module owns the watched state and the query (SQL, sending, reading
 * its answer); the round loop (collector.c) owns the connection and decides
 * when the watch may use it: only while no round does.
 */
#ifndef PGVIGIL_REPLICA_WATCH_H
#define PGVIGIL_REPLICA_WATCH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgvigil.pb-c.h"

/* One reading of the watched state. */
typedef struct {
    bool in_recovery;
    bool paused;               /* a pause was requested or is in effect */
    char receiver_status[32];  /* pg_stat_wal_receiver.status, or "no receiver" */
    bool has_receive_lsn, has_replay_lsn;
    uint64_t receive_lsn, replay_lsn;
    int64_t read_at_us;        /* monotonic clock */
} replica_watch_reading_t;

/* The watched state as last seen, by a watch or a round. */
typedef struct {
    bool known;          /* the fields below hold a previous reading */
    bool in_recovery, paused;
    bool stalled;        /* replay did not move while receive was ahead of it */
    char receiver_status[32];
    bool has_replay_lsn, has_receive_lsn;
    uint64_t replay_lsn, receive_lsn; /* the stall baseline, read at replay_read_at_us */
    int64_t replay_read_at_us;
} replica_watch_state_t;

typedef struct {
    replica_watch_state_t state;
    bool active;   /* the query is in flight: the connection is busy */
    bool changed;  /* its answer changed the state */
    int64_t sent_us; /* monotonic */
} replica_watch_t;

/* Readings closer together than this do not judge a stall: replay may well
 * not move in a few milliseconds. */
#define REPLICA_WATCH_STALL_MIN_US 100000

/* Forget everything, the query in flight too (the connection was dropped,
 * or the server is no replica): the next reading is a baseline. */
void replica_watch_reset(replica_watch_t *self);

/* Send the watch query on conn (idle). Returns 0, or -1 (PQerrorMessage). */
int replica_watch_send(replica_watch_t *self, PGconn *conn, int server_version);

/* Read what has arrived of the answer (after PQconsumeInput). Returns true
 * once it is complete and the connection free again; self->changed then
 * tells whether the state changed. A failed query changes nothing (logged
 * at debug level, naming node). */
bool replica_watch_consume(replica_watch_t *self, PGconn *conn, const char *node);

/* A round of a replica was sent: its sample (r: its replica_replication,
 * NULL when absent) is what later watches compare with. */
void replica_watch_round(replica_watch_t *self, const Pgvigil__ReplicaReplication *r);

/* The watch query for this server version. */
const char *replica_watch_sql(int server_version);

/* Read a PGRES_TUPLES_OK result of replica_watch_sql, received at
 * read_at_us. Returns 0, or -1 with a message in err when the result has
 * another shape. */
int replica_watch_decode(const PGresult *res, int64_t read_at_us, replica_watch_reading_t *out,
                         char *err, size_t errlen);

/* The reading of a round's sample (in_recovery from its identity section,
 * r its replica_replication, NULL when absent), taken at read_at_us. */
void replica_watch_from_sample(bool in_recovery, const Pgvigil__ReplicaReplication *r,
                               int64_t read_at_us, replica_watch_reading_t *out);

/* Take a reading; true when the watched state (recovery, pause, receiver
 * status, stalled) differs from the previous reading's. A replay position
 * that stays put (for at least REPLICA_WATCH_STALL_MIN_US) although WAL
 * beyond it had already been received at the earlier reading, with no pause
 * to explain it, is the state "stalled": it changes the state once, not at
 * every reading. (WAL that arrived just now and is being replayed is no
 * stall.) The first reading after a
 * reset changes nothing. */
bool replica_watch_update(replica_watch_state_t *self, const replica_watch_reading_t *now);

#endif
