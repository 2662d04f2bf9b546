/*
 * store_durable.c — marks made durable, sent to ingest in batches, and the
 * backpressure switch (see store_durable.h).
 */
#include "store_durable.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct store_durable {
    zsock_t *push;
    store_mark_t *marks; /* durable, not yet sent */
    size_t n, cap;
    bool paused;
};

store_durable_t *store_durable_new(void)
{
    store_durable_t *self = calloc(1, sizeof *self);
    if (!self || !(self->push = zsock_new(ZMQ_PUSH))) {
        free(self);
        return NULL;
    }
    zsock_set_sndhwm(self->push, 100000);
    zsock_set_linger(self->push, 0);
    if (zsock_connect(self->push, "%s", STORE_DURABLE_ENDPOINT) != 0) {
        store_durable_destroy(&self);
        return NULL;
    }
    return self;
}

void store_durable_destroy(store_durable_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->push);
    free((*self_p)->marks);
    free(*self_p);
    *self_p = NULL;
}

bool store_durable_is_mark(zframe_t *f)
{
    return zframe_size(f) == 1 + sizeof(store_mark_t) && zframe_data(f)[0] == STORE_MARK_TAG;
}

void store_durable_add(store_durable_t *self, zframe_t *mark)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 256;
        store_mark_t *grown = realloc(self->marks, cap * sizeof *grown);
        if (!grown)
            return; /* not acknowledged: the collector sends it again */
        self->marks = grown;
        self->cap = cap;
    }
    memcpy(&self->marks[self->n++], zframe_data(mark) + 1, sizeof(store_mark_t));
}

static void store_durable_send(store_durable_t *self, char kind, const void *data, size_t len)
{
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, 1 + len) != 0)
        return;
    ((char *)zmq_msg_data(&m))[0] = kind;
    if (len)
        memcpy((char *)zmq_msg_data(&m) + 1, data, len);
    /* No reader (ingest gone at shutdown): the collector sends it again. */
    if (zmq_msg_send(&m, zsock_resolve(self->push), ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&m);
}

size_t store_durable_flush(store_durable_t *self)
{
    size_t n = self->n;
    if (n)
        store_durable_send(self, STORE_DURABLE_MARKS, self->marks, n * sizeof *self->marks);
    self->n = 0;
    return n;
}

bool store_durable_pressure(store_durable_t *self, size_t held, uint64_t budget)
{
    if (!self->paused && held >= budget) {
        self->paused = true;
        store_durable_send(self, STORE_DURABLE_PAUSE, NULL, 0);
    } else if (self->paused && held < budget / 2) {
        self->paused = false;
        store_durable_send(self, STORE_DURABLE_RESUME, NULL, 0);
    }
    return self->paused;
}
