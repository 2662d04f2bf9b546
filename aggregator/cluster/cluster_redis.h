/*
 * cluster_redis.h — one connection to the Redis master, found directly or
 * through Redis Sentinel, for the cluster actor's thread (and one per
 * fencing client).
 *
 * hiredis has no Sentinel support, so this asks the sentinels in turn with
 * plain commands (SENTINEL get-master-addr-by-name), checks with ROLE that the
 * answer really is a master, and keeps a second connection subscribed to
 * "+switch-master" on one sentinel so a failover is followed as soon as it
 * is announced, not only at the next failed command. Every call is bounded
 * by the configured timeout; a failed command closes the connection and the
 * next cluster_redis_connect() looks for the master again.
 *
 * Not thread-safe: a cluster_redis_t belongs to the thread that made it.
 */
#ifndef PGVIGIL_CLUSTER_REDIS_H
#define PGVIGIL_CLUSTER_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "cluster_config.h"

typedef struct cluster_redis cluster_redis_t;

/* cfg must outlive the object. */
cluster_redis_t *cluster_redis_new(const cluster_config_t *cfg);
void cluster_redis_destroy(cluster_redis_t **self_p);

/* Connect to the master unless connected: AUTH, SELECT, ROLE checked.
 * Returns 0, or -1 with the reason in err. */
int cluster_redis_connect(cluster_redis_t *self, char *err, size_t errlen);
bool cluster_redis_connected(const cluster_redis_t *self);
/* Connect to the given "host:port" (a master someone else found), closing
 * any current connection first. 0, or -1 with err. */
int cluster_redis_connect_addr(cluster_redis_t *self, const char *hostport, char *err, size_t errlen);
/* Close the data connection (the next connect looks for the master again). */
void cluster_redis_close(cluster_redis_t *self);

/* Run one command given as argv (binary-safe through lens, or NULL for C
 * strings). Returns the reply (freeReplyObject it), or NULL after closing the
 * connection on an I/O error, a timeout, or an error reply that means the
 * server is not a usable master (READONLY, LOADING, NOAUTH, MASTERDOWN).
 * Other error replies are returned as REDIS_REPLY_ERROR. */
redisReply *cluster_redis_argv(cluster_redis_t *self, int argc, const char **argv, const size_t *lens);

/* "host:port" of the master last connected to ("" when never). */
const char *cluster_redis_master(const cluster_redis_t *self);
/* Increases by one on every new connection to a master. */
unsigned cluster_redis_generation(const cluster_redis_t *self);

/* Sentinel announcements. cluster_redis_watch() (re)subscribes to
 * "+switch-master" on the first sentinel that answers (no-op without
 * sentinels or when subscribed); cluster_redis_watch_fd() is the socket to
 * poll (-1 when none). cluster_redis_watch_read() consumes what arrived:
 * returns 1 when our master switched (the data connection is closed, so the
 * caller reconnects now), 0 otherwise, -1 when the subscription broke. */
int cluster_redis_watch(cluster_redis_t *self);
int cluster_redis_watch_fd(const cluster_redis_t *self);
int cluster_redis_watch_read(cluster_redis_t *self);

#endif
