/*
 * maintenance.h — maintenance operations the aggregator asks for.
 *
 * Off unless the collector's config says maintenance: {enabled: true}; a
 * command that arrives while it is off fails at once with that reason.
 * Each operation runs on a connection of its own (application_name
 * pgvigil-maintenance, the configured statement and lock timeouts), driven
 * by the collector's loop without blocking it:
 *   1. look the table (or index) up in pg_class by schema and name, passed
 *      as query parameters, and check that no VACUUM, ANALYZE, CLUSTER or
 *      CREATE INDEX / REINDEX is in progress on the table (pg_stat_progress_*)
 *      and no operation of this collector is either;
 *   2. build the statement from the catalog's names, quoted with
 *      PQescapeIdentifier, and run it;
 *   3. report running, then completed or failed with the server's error,
 *      the duration and the VERBOSE output, to the aggregator that asked.
 */
#ifndef PGVIGIL_MAINTENANCE_H
#define PGVIGIL_MAINTENANCE_H

#include <czmq.h>

#include "col_config.h"
#include "pgvigil.pb-c.h"

typedef struct maintenance maintenance_t;

/* reply: sends a result to the aggregator on sock (publish_reply). */
typedef void(maintenance_reply_fn)(zsock_t *sock, const Pgvigil__CommandResult *r);

maintenance_t *maintenance_new(zloop_t *loop, const col_config_t *cfg, maintenance_reply_fn *reply);
/* Cancels what runs (the connections are closed). */
void maintenance_destroy(maintenance_t **self_p);
/* A command from the aggregator behind sock. */
void maintenance_command(maintenance_t *self, zsock_t *sock, const Pgvigil__Command *cmd);

#endif
