/*
 * notify_cluster.c — claims of notifications among aggregators
 * (notify_cluster.h).
 */
#include "notify_cluster.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "cluster_once.h"
#include "log.h"

typedef struct {
    uint64_t cluster_id, epoch;
    char what[400];
} notify_claim_t;

struct notify_cluster {
    cluster_once_t *once;  /* NULL: a lone aggregator */
    zhashx_t *claims;      /* delivery id -> notify_claim_t, until delivered */
};

static void notify_cluster_claim_free(void **item)
{
    free(*item);
    *item = NULL;
}

notify_cluster_t *notify_cluster_new(const cluster_config_t *cfg, cluster_fence_t *fence)
{
    notify_cluster_t *self = calloc(1, sizeof *self);
    if (!self || !fence)
        return self;
    self->once = cluster_once_new(cfg, fence);
    self->claims = zhashx_new();
    if (!self->once || !self->claims) {
        notify_cluster_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->claims, notify_cluster_claim_free);
    return self;
}

void notify_cluster_destroy(notify_cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cluster_once_destroy(&(*self_p)->once);
    zhashx_destroy(&(*self_p)->claims);
    free(*self_p);
    *self_p = NULL;
}

static const char *notify_cluster_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

bool notify_cluster_claim(notify_cluster_t *self, const json_t *msg)
{
    if (!self->once)
        return true;
    const json_t *alert = json_object_get(json_object_get(msg, "payload"), "alert");
    notify_claim_t c = {0};
    char *end = NULL;
    const char *id_text = notify_cluster_str(msg, "cluster_id");
    c.cluster_id = strtoull(id_text, &end, 10);
    c.epoch = (uint64_t)json_integer_value(json_object_get(msg, "epoch"));
    /* one transition of one alert to one receiver: a severity change or a
     * new tier is another transition */
    snprintf(c.what, sizeof c.what, "alert/%" JSON_INTEGER_FORMAT "/%s/%s/t%" JSON_INTEGER_FORMAT "/%s",
             json_integer_value(json_object_get(msg, "alert_id")), notify_cluster_str(msg, "kind"),
             notify_cluster_str(alert, "severity"), json_integer_value(json_object_get(alert, "tier")),
             notify_cluster_str(msg, "receiver"));
    cluster_once_result_t r = cluster_once_claim(self->once, c.cluster_id, c.epoch, c.what);
    if (r != CLUSTER_ONCE_GO) {
        log_info("notification %s of cluster %s not sent: %s", c.what, id_text,
                 r == CLUSTER_ONCE_DONE ? "already sent" : "this aggregator no longer owns the cluster");
        return false;
    }
    notify_claim_t *kept = malloc(sizeof *kept);
    char key[24];
    snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(msg, "id")));
    if (kept) {
        *kept = c;
        zhashx_update(self->claims, key, kept);
    }
    return true;
}

void notify_cluster_delivered(notify_cluster_t *self, uint64_t id)
{
    if (!self->once)
        return;
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, id);
    notify_claim_t *c = zhashx_lookup(self->claims, key);
    if (!c)
        return;
    cluster_once_done(self->once, c->cluster_id, c->epoch, c->what);
    zhashx_delete(self->claims, key);
}
