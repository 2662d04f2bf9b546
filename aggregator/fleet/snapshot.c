/*
 * snapshot.c — publication of immutable fleet views (see snapshot.h).
 */
#include "snapshot.h"

#include <pthread.h>
#include <stdlib.h>

struct snapshot_holder {
    pthread_mutex_t lock;
    snapshot_t *current;
};

snapshot_t *snapshot_new(void)
{
    snapshot_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->status = "empty";
    atomic_init(&s->refs, 1);
    return s;
}

static void snapshot_free(snapshot_t *s)
{
    frag_set_unref(&s->node_frags);
    frag_set_unref(&s->cluster_frags);
    json_decref(atomic_load(&s->clusters_cache));
    json_decref(s->events);
    json_decref(s->alerts);
    json_decref(s->silences);
    json_decref(s->peak_regions);
    json_decref(s->diag);
    json_decref(s->maintenance);
    free(s);
}

static void snapshot_unref(snapshot_t *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snapshot_free(s);
}

snapshot_holder_t *snapshot_holder_new(void)
{
    snapshot_holder_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->current = snapshot_new();
    if (self->current) {
        self->current->node_frags = frag_set_new(0);
        self->current->cluster_frags = frag_set_new(0);
        self->current->events = json_array();
    }
    return self;
}

void snapshot_holder_destroy(snapshot_holder_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    snapshot_unref((*self_p)->current);
    pthread_mutex_destroy(&(*self_p)->lock);
    free(*self_p);
    *self_p = NULL;
}

void snapshot_publish(snapshot_holder_t *self, snapshot_t *snap)
{
    pthread_mutex_lock(&self->lock);
    snapshot_t *old = self->current;
    self->current = snap;
    pthread_mutex_unlock(&self->lock);
    snapshot_unref(old); /* freed now or by its last reader */
}

const snapshot_t *snapshot_acquire(snapshot_holder_t *self)
{
    pthread_mutex_lock(&self->lock);
    snapshot_t *s = self->current;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&self->lock);
    return s;
}

void snapshot_release(snapshot_holder_t *self, const snapshot_t *snap)
{
    (void)self;
    snapshot_unref((snapshot_t *)snap);
}

const json_t *snapshot_clusters(const snapshot_t *snap)
{
    snapshot_t *s = (snapshot_t *)snap;
    json_t *have = atomic_load(&s->clusters_cache);
    if (have)
        return have;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    frag_query_t all = {0};
    frag_page_t page;
    fputc('[', f);
    if (s->cluster_frags)
        frag_set_write_json(s->cluster_frags, true, &all, f, &page);
    fputc(']', f);
    fclose(f);
    json_t *parsed = text ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    /* Another reader may have won the race: keep the first. */
    if (parsed && !atomic_compare_exchange_strong(&s->clusters_cache, &have, parsed)) {
        json_decref(parsed);
        return have;
    }
    return parsed;
}

json_t *snapshot_node(const snapshot_t *snap, const char *name)
{
    frag_t *f = frag_set_find_node(snap->node_frags, name);
    return f ? frag_node_detail(f) : NULL;
}

void snapshot_lag_to(json_t *node, int64_t now_us)
{
    json_t *lag = json_object_get(node, "lag");
    json_t *at = json_object_get(lag, "as_of_us");
    if (!json_is_true(json_object_get(lag, "moving")) || !json_is_integer(at) || now_us <= json_integer_value(at))
        return;
    int64_t ahead = now_us - json_integer_value(at);
    if (ahead > SNAPSHOT_LAG_AHEAD_MAX_US)
        ahead = SNAPSHOT_LAG_AHEAD_MAX_US;
    double dt = (double)ahead / 1e6, rate = json_number_value(json_object_get(lag, "write_rate_bytes_per_s"));
    static const char *const seconds[] = {"seconds", "receive_seconds"};
    for (size_t i = 0; i < 2; i++) {
        double s = json_number_value(json_object_get(lag, seconds[i]));
        if (s > 0)
            json_object_set_new(lag, seconds[i], json_real(s + dt));
    }
    json_int_t grow = rate > 0 ? (json_int_t)(rate * dt) : 0;
    json_int_t bytes = json_integer_value(json_object_get(lag, "bytes"));
    if (grow > 0 && bytes > 0) {
        json_object_set_new(lag, "bytes", json_integer(bytes + grow));
        json_object_set_new(lag, "receive_bytes",
                            json_integer(json_integer_value(json_object_get(lag, "receive_bytes")) + grow));
    }
    json_object_set_new(lag, "as_of_us", json_integer((json_int_t)(json_integer_value(at) + ahead)));
}

void snapshot_write_prom(const snapshot_t *snap, FILE *f) { frag_set_write_prom(snap->node_frags, f); }
