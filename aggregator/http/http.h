/*
 * http.h — the aggregator's HTTP server (civetweb). See http.c for routes.
 */
#ifndef PGVIGIL_HTTP_H
#define PGVIGIL_HTTP_H

#include "agg_config.h"
#include "cluster_fence.h"
#include "ingest.h"
#include "notify.h"
#include "snapshot.h"
#include "store.h"

typedef struct http http_t;

/* Listen on cfg->http_listen. NULL with err set when it cannot. fence
 * (NULL: a lone aggregator) says whether coordination through Redis works:
 * /readyz and /metrics report it. */
http_t *http_new(const agg_config_t *cfg, snapshot_holder_t *snapshots, ingest_counters_t *counters,
                 store_t *store, notify_stats_t *notify_stats, cluster_fence_t *fence, char *err, size_t errlen);
void http_destroy(http_t **self_p);
/* SIGHUP: the API tokens and roles in force from the next request on (any
 * thread; auth must stay alive until exit). Rate limits, TLS and CORS keep
 * their values until a restart. */
void http_set_auth(http_t *self, const auth_config_t *auth);

#endif
