/*
 * cluster_client.c — requests to the coordination actor from any thread
 * (cluster.h): one PUSH socket per client, never blocking the caller.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <czmq.h>

#include "cluster.h"

struct cluster_client {
    zsock_t *push;
};

cluster_client_t *cluster_client_new(cluster_t *cluster)
{
    cluster_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (!(self->push = zsock_new_push(cluster_requests_endpoint(cluster)))) {
        free(self);
        return NULL;
    }
    zsock_set_sndtimeo(self->push, 0); /* never block the caller: drop when the actor lags */
    return self;
}

void cluster_client_destroy(cluster_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->push);
    free(*self_p);
    *self_p = NULL;
}

static int cluster_client_send(cluster_client_t *self, const char *cmd, uint64_t id, const char *payload)
{
    char cid[24];
    snprintf(cid, sizeof cid, "%" PRIu64, id);
    return zsock_send(self->push, "sss", cmd, cid, payload ? payload : "") == 0 ? 0 : -1;
}

int cluster_client_observe(cluster_client_t *self, uint64_t cluster_id)
{
    return cluster_client_send(self, "observe", cluster_id, NULL);
}

int cluster_client_forget(cluster_client_t *self, uint64_t cluster_id)
{
    return cluster_client_send(self, "forget", cluster_id, NULL);
}

int cluster_client_publish(cluster_client_t *self, uint64_t cluster_id, const char *json)
{
    return cluster_client_send(self, "publish", cluster_id, json);
}

int cluster_client_route(cluster_client_t *self, uint64_t cluster_id, const char *json)
{
    return cluster_client_send(self, "route", cluster_id, json);
}

int cluster_client_broadcast(cluster_client_t *self, const char *json)
{
    return cluster_client_send(self, "broadcast", 0, json);
}
