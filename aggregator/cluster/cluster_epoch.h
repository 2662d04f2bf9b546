/*
 * cluster_epoch.h — what the coordination actor reads from and writes to
 * the history database: the durable floor of fencing epochs (table
 * cluster_epochs, sql/006_cluster_epochs.sql), and the open alerts a new
 * owner takes over (table alerts, written by the previous owner).
 *
 * Every acquisition is recorded (only ever upwards); on start and whenever
 * Redis is found to have lost its data, the cluster actor reads the floors
 * back and raises the Redis counters above them. Blocking libpq calls with
 * short timeouts, made on the cluster actor's thread only; a database that
 * is down is retried at most every few seconds and never stalls the actor
 * for longer than one connect timeout.
 */
#ifndef PGVIGIL_CLUSTER_EPOCH_H
#define PGVIGIL_CLUSTER_EPOCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cluster_epoch cluster_epoch_t;

/* dsn may be NULL (no history database: no durable floor, logged once). */
cluster_epoch_t *cluster_epoch_new(const char *dsn);
void cluster_epoch_destroy(cluster_epoch_t **self_p);

/* Called for each recorded cluster by cluster_epoch_load. */
typedef void(cluster_epoch_fn)(uint64_t cluster_id, uint64_t epoch, void *arg);

/* Read every floor. Returns the number of rows (0 without a database), or
 * -1 if the database could not be asked (fn not called). */
int cluster_epoch_load(cluster_epoch_t *self, cluster_epoch_fn *fn, void *arg);

/* Record that owner acquired cluster_id under epoch (kept if higher).
 * 0, or -1 when the database is unavailable. */
int cluster_epoch_record(cluster_epoch_t *self, uint64_t cluster_id, uint64_t epoch, const char *owner);

/* The open alerts (pending, firing, nodata) as stored, of every cluster (a
 * placement pass reads them once, whatever it acquires): an array of alert
 * documents (a new reference), or NULL when the database is unavailable
 * (a new owner then starts from what it evaluates). */
json_t *cluster_epoch_open_alerts(cluster_epoch_t *self);

#endif
