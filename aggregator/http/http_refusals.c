/*
 * http_refusals.c — refusals counted per client, token and status per
 * window (see http_refusals.h). The table owns its entries; the mutex
 * guards the table.
 */
#include "http_refusals.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    http_refusal_t r;
    bool used;
} hr_entry_t;

struct http_refusals {
    pthread_mutex_t lock;
    int64_t window_us;
    hr_entry_t entries[HTTP_REFUSALS_KEYS];
};

http_refusals_t *http_refusals_new(int64_t window_us)
{
    http_refusals_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->window_us = window_us;
    return self;
}

void http_refusals_destroy(http_refusals_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->lock);
    free(*self_p);
    *self_p = NULL;
}

/* Windows that ended: their summaries into due (the entry is freed when it
 * counted nothing more, or once its summary is handed out). */
static size_t hr_expire(http_refusals_t *self, int64_t now_us, http_refusal_t *due, size_t due_max)
{
    size_t n = 0;
    for (size_t i = 0; i < HTTP_REFUSALS_KEYS; i++) {
        hr_entry_t *e = &self->entries[i];
        if (!e->used || now_us - e->r.since_us < self->window_us)
            continue;
        if (e->r.count > 0) {
            if (n == due_max)
                continue; /* the next call hands it out */
            due[n++] = e->r;
        }
        e->used = false;
    }
    return n;
}

static hr_entry_t *hr_find(http_refusals_t *self, const char *client, const char *who, int status)
{
    hr_entry_t *free_slot = NULL;
    for (size_t i = 0; i < HTTP_REFUSALS_KEYS; i++) {
        hr_entry_t *e = &self->entries[i];
        if (!e->used) {
            free_slot = free_slot ? free_slot : e;
            continue;
        }
        if (e->r.status == status && strcmp(e->r.client, client) == 0 && strcmp(e->r.who, who) == 0)
            return e;
    }
    return free_slot;
}

bool http_refusals_note(http_refusals_t *self, const char *client, const char *who, const char *role,
                        int status, int64_t now_us, http_refusal_t *due, size_t due_max, size_t *n_due)
{
    pthread_mutex_lock(&self->lock);
    *n_due = hr_expire(self, now_us, due, due_max);
    hr_entry_t *e = hr_find(self, client, who, status);
    if (!e) /* the table is full: one shared key, so the count stays bounded */
        e = hr_find(self, "*", "*", status);
    bool first = false;
    if (e && !e->used) {
        memset(e, 0, sizeof *e);
        e->used = true;
        snprintf(e->r.client, sizeof e->r.client, "%s", client);
        snprintf(e->r.who, sizeof e->r.who, "%s", who);
        snprintf(e->r.role, sizeof e->r.role, "%s", role);
        e->r.status = status;
        e->r.since_us = now_us;
        first = true;
    } else if (e) {
        e->r.count++;
    }
    pthread_mutex_unlock(&self->lock);
    return first;
}

size_t http_refusals_drain(http_refusals_t *self, http_refusal_t *due, size_t due_max)
{
    pthread_mutex_lock(&self->lock);
    size_t n = hr_expire(self, INT64_MAX / 2, due, due_max);
    pthread_mutex_unlock(&self->lock);
    return n;
}
