/*
 * collector.h — the collector's event loop: one libpq connection driven
 * asynchronously inside a czmq zloop, one round of sections per interval,
 * one Sample per round.
 */
#ifndef PGVIGIL_COLLECTOR_H
#define PGVIGIL_COLLECTOR_H

#include <jansson.h>

#include "col_config.h"
#include "pgvigil.pb-c.h"

#define COLLECTOR_VERSION PGVIGIL_VERSION

/* Run until SIGINT/SIGTERM, publishing to the configured aggregators.
 * Returns the process exit status. */
int collector_run(const col_config_t *cfg);

/* Collect one round of every section and return it as JSON (pbjson plus the
 * top-level conveniences wal_lsn, receive_lsn, replay_lsn). *up tells
 * whether the server was reached. */
json_t *collector_once(const col_config_t *cfg, bool *up);

/* The JSON form of a sample used by --print. */
json_t *collector_sample_json(const Pgvigil__Sample *s);

#endif
