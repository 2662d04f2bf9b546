/*
 * replica_watch.h — between rounds, a tiny query every watch_interval: on a
 * replica, is replay paused, what is the WAL receiver doing, where are
 * receive and replay; on a primary, where its WAL is. When that state
 * differs from what was last seen (on a primary: WAL moves again after
 * standing still), the round loop (collector.c) starts a round at once, so
 * a pause, a receiver change or the first write after an idle spell reaches
 * the aggregator within about watch_interval instead of up to a whole
 * interval later. On a primary the round also carries the latest spell the
 * watch saw the WAL stand still (still_wal_lsn), which places the moment
 * writing resumed within a watch interval.
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
    bool has_current_lsn;      /* pg_current_wal_lsn(), out of recovery */
    uint64_t current_lsn;
    int64_t read_at_us;        /* monotonic clock */
    int64_t read_wall_us;      /* wall clock, as the round's measured_at_us */
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
    /* a primary's WAL: the position at the last reading, first read at
     * wal_since_us (wall); whether it stood still between the last two
     * readings; the latest still spell watches saw since the last round */
    bool has_wal, wal_still, has_still;
    uint64_t wal_lsn, still_lsn;
    int64_t wal_since_us, still_from_us, still_until_us;
} replica_watch_state_t;

typedef struct {
    replica_watch_state_t state;
    bool active;   /* the query is in flight: the connection is busy */
    bool changed;  /* its answer changed the state */
    int64_t sent_us; /* monotonic */
    int64_t sent_wall_us;
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

/* A round of a primary is about to be sent (p: its primary_replication,
 * NULL when absent): p gets the still spell watches saw since the previous
 * round (when it lies before p's reading), and p's position is what later
 * watches compare with. */
void replica_watch_primary_round(replica_watch_t *self, Pgvigil__PrimaryReplication *p);

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

/* Take a reading; true when the watched state (recovery; on a replica
 * pause, receiver status, stalled) differs from the previous reading's, or
 * when a primary's WAL moved after the previous two readings found it
 * standing still (a reading that finds it still records the spell). A replay position
 * that stays put (for at least REPLICA_WATCH_STALL_MIN_US) although WAL
 * beyond it had already been received at the earlier reading, with no pause
 * to explain it, is the state "stalled": it changes the state once, not at
 * every reading. (WAL that arrived just now and is being replayed is no
 * stall.) The first reading after a
 * reset changes nothing. */
bool replica_watch_update(replica_watch_state_t *self, const replica_watch_reading_t *now);

#endif
