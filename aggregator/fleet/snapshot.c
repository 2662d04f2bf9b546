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
    json_decref(s->clusters);
    json_decref(s->nodes);
    json_decref(s->events);
    json_decref(s->alerts);
    json_decref(s->silences);
    json_decref(s->peak_regions);
    json_decref(s->diag);
    json_decref(s->maintenance);
    free(s->clusters_json);
    free(s->metrics_text);
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
        self->current->clusters = json_array();
        self->current->nodes = json_object();
        self->current->events = json_array();
        json_t *empty = json_pack("{s:[]}", "clusters");
        self->current->clusters_json = empty ? json_dumps(empty, JSON_COMPACT) : NULL;
        json_decref(empty);
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
