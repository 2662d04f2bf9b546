/*
 * cluster_once.c — once-only effects, fenced by epoch (cluster_once.h).
 */
#include "cluster_once.h"

#include <stdlib.h>

#include "cluster_ops.h"
#include "cluster_redis.h"
#include "log.h"

#define CLUSTER_ONCE_KEEP_MS (24ULL * 3600 * 1000) /* far longer than any hand-over */

struct cluster_once {
    cluster_fence_t *fence;
    cluster_redis_t *redis;
    unsigned generation; /* of the fence's master when we connected */
};

cluster_once_t *cluster_once_new(const cluster_config_t *cfg, cluster_fence_t *fence)
{
    cluster_once_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fence = fence;
    if (fence && !(self->redis = cluster_redis_new(cfg))) {
        free(self);
        return NULL;
    }
    return self;
}

void cluster_once_destroy(cluster_once_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cluster_redis_destroy(&(*self_p)->redis);
    free(*self_p);
    *self_p = NULL;
}

/* Connected to the master the actor uses now, or -1. */
static int cluster_once_connect(cluster_once_t *self)
{
    char master[CLUSTER_HOST_MAX + 8], err[512];
    unsigned g = cluster_fence_master(self->fence, master, sizeof master);
    if (cluster_redis_connected(self->redis) && g == self->generation)
        return 0;
    if (cluster_redis_connect_addr(self->redis, master, err, sizeof err) != 0) {
        log_warning("cluster: could not check a notification with Redis (%s); sending it anyway", err);
        return -1;
    }
    self->generation = g;
    return 0;
}

cluster_once_result_t cluster_once_claim(cluster_once_t *self, uint64_t cluster_id, uint64_t epoch,
                                         const char *what)
{
    if (!self->fence)
        return CLUSTER_ONCE_GO;
    if (!cluster_may_act(self->fence, cluster_id, epoch))
        return CLUSTER_ONCE_FENCED;
    if (cluster_fence_state(self->fence) == CLUSTER_STATE_DEGRADED || cluster_once_connect(self) != 0)
        return CLUSTER_ONCE_GO;
    int rc = cluster_ops_once(self->redis, cluster_id, epoch, what, CLUSTER_ONCE_KEEP_MS);
    if (rc == -2) {
        cluster_fence_count_refused(self->fence, true);
        return CLUSTER_ONCE_FENCED;
    }
    if (rc == 0) {
        cluster_fence_count_refused(self->fence, false);
        return CLUSTER_ONCE_DONE;
    }
    return CLUSTER_ONCE_GO; /* claimed, or Redis failed: fail open */
}

void cluster_once_done(cluster_once_t *self, uint64_t cluster_id, uint64_t epoch, const char *what)
{
    if (!self->fence || cluster_fence_state(self->fence) == CLUSTER_STATE_DEGRADED ||
        cluster_once_connect(self) != 0)
        return;
    if (cluster_ops_once_done(self->redis, cluster_id, epoch, what, CLUSTER_ONCE_KEEP_MS) != 0)
        log_warning("cluster: could not mark a notification of cluster %llu delivered; a new owner "
                    "may send it again", (unsigned long long)cluster_id);
}
