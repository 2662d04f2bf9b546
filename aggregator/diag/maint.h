/*
 * maint.h — maintenance operations requested through the API (core thread).
 *
 * POST /api/v1/maintenance becomes a "maintenance" core command. Before
 * anything is sent, maint checks:
 *   - the operation is VACUUM, VACUUM FULL, ANALYZE or REINDEX, with the
 *     options that make sense for it (concurrently: REINDEX only; analyze:
 *     VACUUM only);
 *   - the node is known, up and a primary (a replica is read-only);
 *   - the table (or index) is in the node's latest table (index) statistics:
 *     names are compared, never spliced, so a name carrying SQL is simply not
 *     found (404);
 *   - no other operation on the same table is queued or running (409);
 *   - heavy operations (VACUUM FULL, REINDEX without CONCURRENTLY take
 *     ACCESS EXCLUSIVE locks) need the admin role (403), and during the
 *     node's region's peak hours also "force": true (409 without).
 * Then the operation is "queued", sent to the node's collector as a
 * Command (proto), and stored; the collector checks the catalog again, runs
 * it on its own connection and reports running -> completed | failed. An
 * operation the collector does not take within MAINT_TAKE_TIMEOUT_US fails.
 *
 * Operation JSON: {"id","node","operation","database","schema","table",
 *   "index","concurrently","verbose","analyze","force","peak","state",
 *   "requested_by","role","comment","requested_at","started_at",
 *   "finished_at","duration_ms","statement","error","output"}
 */
#ifndef PGVIGIL_MAINT_H
#define PGVIGIL_MAINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "pgvigil.pb-c.h"

#define MAINT_TAKE_TIMEOUT_US (30LL * 1000000)
#define MAINT_KEEP 500

typedef struct maint maint_t;

/* emit: durable messages ({"op":"maintenance","operation":{...}}) for the
 * notify actor's store; send: a packed Command for a node's collector. */
typedef void(maint_emit_fn)(void *arg, json_t *msg);
typedef void(maint_send_fn)(void *arg, const char *node, const Pgvigil__Command *cmd);

maint_t *maint_new(maint_emit_fn *emit, maint_send_fn *send, void *arg);
void maint_destroy(maint_t **self_p);

/* What the core knows about the target node. */
typedef struct {
    bool known, up, primary, peak;
    const json_t *diag; /* the node's diagnostics document, or NULL */
} maint_node_t;

/* Check and queue a request. Returns the HTTP status; *body the answer. */
int maint_request(maint_t *self, const json_t *cmd, const maint_node_t *node, int64_t now_us, json_t **body);
/* A result from node's collector; true if an operation changed. */
bool maint_result(maint_t *self, const char *node, const Pgvigil__CommandResult *r, int64_t now_us);
/* node's collector restarted: what it had queued or running is lost with
 * the process (its connection closed, the server cancelled the statement);
 * true if any operation changed. */
bool maint_collector_restarted(maint_t *self, const char *node, int64_t now_us);
/* Fail operations no collector took in time; true if any changed. */
bool maint_tick(maint_t *self, int64_t now_us);
/* Operations, newest first (new reference). */
json_t *maint_view(maint_t *self);

#endif
