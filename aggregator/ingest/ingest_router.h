/*
 * ingest_router.h — the ingest ROUTER: bound on every listen.ingest
 * endpoint, CURVE with a zauth allow-list when configured, no receive
 * high-water mark, TCP keepalive. Used by the ingest actor (ingest.c).
 */
#ifndef PGVIGIL_INGEST_ROUTER_H
#define PGVIGIL_INGEST_ROUTER_H

#include <czmq.h>

#include "agg_config.h"

/* The bound socket; *auth is the zauth actor when CURVE is configured
 * (the caller destroys both). NULL with err set when a certificate does
 * not load or an endpoint cannot be bound. */
zsock_t *ingest_router_new(const agg_config_t *cfg, zactor_t **auth, char *err, size_t errlen);

#endif
