/*
 * notify_rows.h — one row writer per durable operation the alerting engine,
 * the audit trail, maintenance and backup checks hand to the notify actor.
 *
 * An operation is a JSON object {"op": "<name>", ...} (alerting.h documents
 * the shapes). notify_rows_write() looks its name up in a table of
 * {name, writer} and runs that writer's one parameterised statement.
 */
#ifndef PGVIGIL_NOTIFY_ROWS_H
#define PGVIGIL_NOTIFY_ROWS_H

#include <jansson.h>
#include <libpq-fe.h>

/* Write op. 0 done (or dropped: an unknown op is logged), -1 the statement
 * failed (logged; the op is not retried), -2 the connection is lost (keep
 * the op and retry). */
int notify_rows_write(PGconn *db, const json_t *op);

#endif
