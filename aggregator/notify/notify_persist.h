/*
 * notify_persist.h — the durable side of the notify actor: the ordered
 * queue of writes (alerts, alert events, outbox, attempts, silences,
 * audit, maintenance, backup checks) to the history database, the spool
 * file that keeps them across a restart while the database is away, and
 * the state read back at start.
 *
 * Runs on the notify actor's thread only (notify.c owns the one instance);
 * notify_load_state() (notify.h) runs in main before the actors start.
 * Rows are written by notify_rows.c.
 */
#ifndef PGVIGIL_NOTIFY_PERSIST_H
#define PGVIGIL_NOTIFY_PERSIST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "notify.h"

typedef struct notify_persist notify_persist_t;

/* A notification that is still to be delivered, found in the outbox or the
 * spool: the delivery side queues it (payload is borrowed). */
typedef void (*notify_pending_fn)(void *arg, uint64_t id, uint64_t alert_id, const char *receiver,
                                  const char *kind, json_t *payload, int attempts, int64_t created_us);

/* dsn NULL: nothing is durable, writes are dropped. spool_path may be NULL. */
notify_persist_t *notify_persist_new(const char *dsn, const char *sql_dir, const char *spool_path,
                                     notify_stats_t *stats, notify_pending_fn pending, void *pending_arg);
void notify_persist_destroy(notify_persist_t **self_p);

/* Queue op (taken) to be written in order. */
void notify_persist_add(notify_persist_t *self, json_t *op);
/* Write what is queued, connecting (and reading the outbox once) first. */
void notify_persist_flush(notify_persist_t *self);
/* Writes waiting. */
size_t notify_persist_pending(const notify_persist_t *self);
/* Has the outbox been read (or is there none)? Until then delivery ids
 * must be remembered, or the read would queue them again. */
bool notify_persist_loaded(const notify_persist_t *self);
/* At start: queue what the last run left in the spool file (its undelivered
 * notifications go to pending). */
void notify_persist_replay(notify_persist_t *self);
/* At shutdown: a last flush, then what is still unwritten goes to the spool. */
void notify_persist_close(notify_persist_t *self);

#endif
