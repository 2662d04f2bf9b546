/*
 * cluster_fence.c — ownership, lease and fleet state shared between the
 * cluster actor and its readers (cluster_fence.h).
 */
#include "cluster_fence.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "clock.h"
#include "cluster_config.h"
#include "cluster_hrw.h"

struct cluster_fence {
    pthread_mutex_t lock;
    char self[CLUSTER_NAME_MAX + 1];
    cluster_state_t state;
    int64_t lease_expiry_mono_us;   /* 0: no lease held */
    zhashx_t *owned;                /* "<cluster id>" -> (uintptr_t) epoch */
    char **members;
    size_t member_count;
    char master[CLUSTER_HOST_MAX + 8];
    unsigned master_generation;
    json_t *fleet;
    unsigned fleet_version;
    uint64_t acquired_total, released_total, state_changes_total, fenced_total, duplicates_total;
};

static void cluster_fence_key(uint64_t cluster_id, char key[24])
{
    snprintf(key, 24, "%" PRIu64, cluster_id);
}

cluster_fence_t *cluster_fence_new(const char *self_name)
{
    cluster_fence_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        free(f);
        return NULL;
    }
    snprintf(f->self, sizeof f->self, "%s", self_name);
    f->owned = zhashx_new();
    f->fleet = json_object();
    if (!f->owned || !f->fleet) {
        cluster_fence_destroy(&f);
        return NULL;
    }
    return f;
}

static void cluster_fence_free_members(cluster_fence_t *f)
{
    for (size_t i = 0; i < f->member_count; i++)
        free(f->members[i]);
    free(f->members);
    f->members = NULL;
    f->member_count = 0;
}

void cluster_fence_destroy(cluster_fence_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cluster_fence_t *f = *self_p;
    zhashx_destroy(&f->owned);
    cluster_fence_free_members(f);
    json_decref(f->fleet);
    pthread_mutex_destroy(&f->lock);
    free(f);
    *self_p = NULL;
}

/* Failing open: Redis is unreachable. (While starting, before the first
 * answer, nothing is owned: that lasts at most one connect timeout.) */
static bool cluster_fence_open(const cluster_fence_t *f)
{
    return f->state == CLUSTER_STATE_DEGRADED;
}

bool cluster_may_act(cluster_fence_t *f, uint64_t cluster_id, uint64_t epoch)
{
    if (!f)
        return true;
    char key[24];
    cluster_fence_key(cluster_id, key);
    pthread_mutex_lock(&f->lock);
    bool ok;
    if (cluster_fence_open(f)) {
        ok = true;
    } else {
        uintptr_t held = (uintptr_t)zhashx_lookup(f->owned, key);
        ok = held != 0 && held == epoch && clock_mono_us() < f->lease_expiry_mono_us;
    }
    if (!ok)
        f->fenced_total++;
    pthread_mutex_unlock(&f->lock);
    return ok;
}

bool cluster_owns(cluster_fence_t *f, uint64_t cluster_id, uint64_t *epoch)
{
    if (epoch)
        *epoch = 0;
    if (!f)
        return true;
    char key[24];
    cluster_fence_key(cluster_id, key);
    pthread_mutex_lock(&f->lock);
    uintptr_t held = (uintptr_t)zhashx_lookup(f->owned, key);
    bool owns = cluster_fence_open(f) || held != 0;
    if (epoch && !cluster_fence_open(f))
        *epoch = held;
    pthread_mutex_unlock(&f->lock);
    return owns;
}

void cluster_owner_of(cluster_fence_t *f, uint64_t cluster_id, char *buf, size_t buflen)
{
    if (!buflen)
        return;
    buf[0] = '\0';
    if (!f)
        return;
    char key[24];
    cluster_fence_key(cluster_id, key);
    pthread_mutex_lock(&f->lock);
    if (cluster_fence_open(f) || zhashx_lookup(f->owned, key)) {
        snprintf(buf, buflen, "%s", f->self);
    } else {
        int i = cluster_hrw_owner((const char *const *)f->members, f->member_count, cluster_id);
        if (i >= 0)
            snprintf(buf, buflen, "%s", f->members[i]);
    }
    pthread_mutex_unlock(&f->lock);
}

bool cluster_is_heir(cluster_fence_t *f, uint64_t cluster_id)
{
    if (!f)
        return false;
    pthread_mutex_lock(&f->lock);
    int i = cluster_hrw_heir((const char *const *)f->members, f->member_count, cluster_id);
    bool heir = i >= 0 && strcmp(f->members[i], f->self) == 0;
    pthread_mutex_unlock(&f->lock);
    return heir;
}

cluster_state_t cluster_fence_state(cluster_fence_t *f)
{
    if (!f)
        return CLUSTER_STATE_OK;
    pthread_mutex_lock(&f->lock);
    cluster_state_t s = f->state;
    pthread_mutex_unlock(&f->lock);
    return s;
}

const char *cluster_fence_name(const cluster_fence_t *f)
{
    return f ? f->self : ""; /* immutable after cluster_fence_new */
}

const char *cluster_state_name(cluster_state_t state)
{
    switch (state) {
    case CLUSTER_STATE_STARTING: return "starting";
    case CLUSTER_STATE_OK: return "ok";
    case CLUSTER_STATE_DEGRADED: return "degraded";
    }
    return "unknown";
}

json_t *cluster_fence_fleet(cluster_fence_t *f)
{
    if (!f)
        return json_object();
    pthread_mutex_lock(&f->lock);
    json_t *fleet = json_incref(f->fleet);
    pthread_mutex_unlock(&f->lock);
    return fleet;
}

unsigned cluster_fence_fleet_version(cluster_fence_t *f)
{
    if (!f)
        return 0;
    pthread_mutex_lock(&f->lock);
    unsigned v = f->fleet_version;
    pthread_mutex_unlock(&f->lock);
    return v;
}

unsigned cluster_fence_master(cluster_fence_t *f, char *buf, size_t buflen)
{
    pthread_mutex_lock(&f->lock);
    snprintf(buf, buflen, "%s", f->master);
    unsigned g = f->master_generation;
    pthread_mutex_unlock(&f->lock);
    return g;
}

void cluster_fence_count_refused(cluster_fence_t *f, bool fenced)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    if (fenced)
        f->fenced_total++;
    else
        f->duplicates_total++;
    pthread_mutex_unlock(&f->lock);
}

void cluster_fence_set_state(cluster_fence_t *f, cluster_state_t state)
{
    pthread_mutex_lock(&f->lock);
    if (f->state != state)
        f->state_changes_total++;
    f->state = state;
    pthread_mutex_unlock(&f->lock);
}

void cluster_fence_set_lease(cluster_fence_t *f, int64_t expiry_mono_us)
{
    pthread_mutex_lock(&f->lock);
    f->lease_expiry_mono_us = expiry_mono_us;
    pthread_mutex_unlock(&f->lock);
}

void cluster_fence_acquire(cluster_fence_t *f, uint64_t cluster_id, uint64_t epoch)
{
    char key[24];
    cluster_fence_key(cluster_id, key);
    pthread_mutex_lock(&f->lock);
    zhashx_update(f->owned, key, (void *)(uintptr_t)epoch);
    f->acquired_total++;
    pthread_mutex_unlock(&f->lock);
}

void cluster_fence_release(cluster_fence_t *f, uint64_t cluster_id)
{
    char key[24];
    cluster_fence_key(cluster_id, key);
    pthread_mutex_lock(&f->lock);
    if (zhashx_lookup(f->owned, key)) {
        zhashx_delete(f->owned, key);
        f->released_total++;
    }
    pthread_mutex_unlock(&f->lock);
}

size_t cluster_fence_release_all(cluster_fence_t *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = zhashx_size(f->owned);
    zhashx_purge(f->owned);
    f->released_total += n;
    pthread_mutex_unlock(&f->lock);
    return n;
}

void cluster_fence_set_members(cluster_fence_t *f, const char *const *names, size_t count)
{
    char **copy = calloc(count ? count : 1, sizeof *copy);
    size_t n = 0;
    for (; copy && n < count; n++)
        if (!(copy[n] = strdup(names[n])))
            break;
    pthread_mutex_lock(&f->lock);
    cluster_fence_free_members(f);
    f->members = copy;
    f->member_count = copy ? n : 0;
    pthread_mutex_unlock(&f->lock);
}

void cluster_fence_set_master(cluster_fence_t *f, const char *hostport)
{
    pthread_mutex_lock(&f->lock);
    if (strcmp(f->master, hostport) != 0 || f->master_generation == 0) {
        snprintf(f->master, sizeof f->master, "%s", hostport);
        f->master_generation++;
    }
    pthread_mutex_unlock(&f->lock);
}

void cluster_fence_set_fleet(cluster_fence_t *f, json_t *fleet)
{
    if (!fleet)
        return;
    pthread_mutex_lock(&f->lock);
    json_t *old = f->fleet;
    f->fleet = fleet;
    if (!json_equal(old, fleet))
        f->fleet_version++;
    pthread_mutex_unlock(&f->lock);
    json_decref(old);
}

char *cluster_fence_metrics(cluster_fence_t *f)
{
    if (!f)
        return strdup("");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    pthread_mutex_lock(&f->lock);
    fprintf(out,
            "# HELP pgvigil_cluster_degraded 1 while Redis is unreachable and this aggregator owns "
            "everything it hears.\n# TYPE pgvigil_cluster_degraded gauge\npgvigil_cluster_degraded %d\n"
            "# HELP pgvigil_cluster_members Live aggregators holding a membership lease.\n"
            "# TYPE pgvigil_cluster_members gauge\npgvigil_cluster_members %zu\n"
            "# HELP pgvigil_cluster_owned_clusters Clusters this aggregator owns.\n"
            "# TYPE pgvigil_cluster_owned_clusters gauge\npgvigil_cluster_owned_clusters %zu\n"
            "# TYPE pgvigil_cluster_acquired_total counter\npgvigil_cluster_acquired_total %" PRIu64 "\n"
            "# TYPE pgvigil_cluster_released_total counter\npgvigil_cluster_released_total %" PRIu64 "\n"
            "# TYPE pgvigil_cluster_state_changes_total counter\npgvigil_cluster_state_changes_total %" PRIu64 "\n"
            "# HELP pgvigil_cluster_fenced_total Effects refused because this aggregator no longer owned the cluster.\n"
            "# TYPE pgvigil_cluster_fenced_total counter\npgvigil_cluster_fenced_total %" PRIu64 "\n"
            "# HELP pgvigil_cluster_duplicates_total Effects skipped because they had already happened.\n"
            "# TYPE pgvigil_cluster_duplicates_total counter\npgvigil_cluster_duplicates_total %" PRIu64 "\n"
            "# HELP pgvigil_cluster_redis_master The Redis master coordination uses (1 while connected to it).\n"
            "# TYPE pgvigil_cluster_redis_master gauge\npgvigil_cluster_redis_master{address=\"%s\"} %d\n"
            "# HELP pgvigil_cluster_owner_epoch Epoch under which this aggregator owns a cluster.\n"
            "# TYPE pgvigil_cluster_owner_epoch gauge\n",
            f->state == CLUSTER_STATE_DEGRADED ? 1 : 0, f->member_count, zhashx_size(f->owned),
            f->acquired_total, f->released_total, f->state_changes_total, f->fenced_total,
            f->duplicates_total, f->master, f->state == CLUSTER_STATE_OK ? 1 : 0);
    for (void *v = zhashx_first(f->owned); v; v = zhashx_next(f->owned))
        fprintf(out, "pgvigil_cluster_owner_epoch{cluster=\"%s\",owner=\"%s\"} %" PRIuPTR "\n",
                (const char *)zhashx_cursor(f->owned), f->self, (uintptr_t)v);
    pthread_mutex_unlock(&f->lock);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
