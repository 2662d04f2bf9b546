/*
 * notify.h — the notify actor: makes alerting durable and delivers
 * notifications (DESIGN 4.2).
 *
 * The core hands over the alerting engine's messages (alerting.h) as json_t
 * pointers on NOTIFY_ENDPOINT. The actor
 *   - writes them, in order, to the alerts, alert_events, silences and
 *     notification_outbox tables (when storage is configured); while the
 *     database is away they wait in memory, and at shutdown whatever is
 *     still unwritten goes to a spool file that the next start replays;
 *   - delivers each notification through libcurl's multi interface, one
 *     request in flight per receiver so a receiver sees an alert's
 *     notifications in order; failures are retried with capped exponential
 *     backoff and jitter until give_up_after; a circuit breaker per receiver
 *     stops trying for breaker_cooldown after breaker_failures failures in a
 *     row; every attempt is recorded in notification_attempts;
 *   - on start, loads the outbox's pending notifications, so nothing waiting
 *     for a receiver is lost across a restart. Each notification has a
 *     unique id (X-Pgvigil-Delivery for webhooks): a receiver can
 *     de-duplicate if a restart fell between its answer and our record.
 *
 * Receiver URLs and secrets never appear in logs: failures name the
 * receiver and the error.
 *
 * Files: notify.c (the actor and delivery), notify_persist.c (the ordered
 * durable writes, the spool, the state read at start), notify_rows.c (one
 * row writer per operation, in a table), notify_render.c (the request each
 * receiver type gets).
 */
#ifndef PGVIGIL_NOTIFY_H
#define PGVIGIL_NOTIFY_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "agg_config.h"
#include "cluster_fence.h"

#define NOTIFY_ENDPOINT "inproc://pgvigil-notify"
/* PUB: one message per test notification (kind "test", tried once, never
 * retried) when its attempt ends, JSON text: {"id","receiver","delivered",
 * "status","error","duration_ms","attempts"}. Subscribe before asking the
 * core for the test (POST /api/v1/receivers/{name}/test does). */
#define NOTIFY_OUTCOMES_ENDPOINT "inproc://pgvigil-notify-outcomes"

typedef struct {
    atomic_uint_fast64_t queued, delivered, failed, attempts, retries;
    atomic_uint_fast64_t db_pending;   /* durable writes waiting for the database */
    atomic_uint breakers_open;
} notify_stats_t;

typedef struct notify notify_t;

/* Binds NOTIFY_ENDPOINT and starts the actor. dsn may be NULL (nothing
 * durable; a warning is logged). fence (NULL: a lone aggregator) makes each
 * notification claimed among aggregators first (notify_cluster.h). */
notify_t *notify_new(const agg_config_t *cfg, const char *sql_dir, const char *spool_path, notify_stats_t *stats,
                     cluster_fence_t *fence);
void notify_destroy(notify_t **self_p);
/* Swap in a new configuration's receivers and delivery policy (SIGHUP);
 * cfg must stay alive until exit. Receivers kept by name keep their queue
 * and breaker. Blocks until the actor has taken it. */
int notify_reload(notify_t *self, const agg_config_t *cfg);

/* Open alerts, the 200 most recently closed ones, and live silences from the database (and a spool file left by
 * the previous run), for alerting_restore(). Sets empty arrays when there is
 * no database. Returns 0, or -1 if the database could not be read (the
 * arrays then hold what the spool file had). */
int notify_load_state(const char *dsn, const char *sql_dir, const char *spool_path, json_t **alerts,
                      json_t **silences);

#endif
