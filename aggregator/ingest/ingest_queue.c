/*
 * ingest_queue.c — the coalescing queue between ingest and the core (see
 * ingest_queue.h): a hash of node name -> entry for coalescing, and a doubly
 * linked list of entries in the order their nodes started waiting.
 */
#include "ingest_queue.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "pbarena.h"

typedef struct ingest_entry {
    struct ingest_entry *prev, *next;
    Pgvigil__Sample *sample;
    int64_t received_at_us;
    uint32_t coalesced;
    size_t cost;
    char node[]; /* hash key */
} ingest_entry_t;

struct ingest_queue {
    zhashx_t *by_node; /* node -> entry, not owning */
    ingest_entry_t *head, *tail;
    size_t count, bytes, budget;
};

ingest_queue_t *ingest_queue_new(size_t budget_bytes)
{
    ingest_queue_t *self = calloc(1, sizeof *self);
    if (!self || !(self->by_node = zhashx_new())) {
        free(self);
        return NULL;
    }
    self->budget = budget_bytes;
    return self;
}

size_t ingest_queue_cost(size_t body_len) { return 4 * body_len + 512; }

static void ingest_queue_unlink(ingest_queue_t *self, ingest_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        self->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        self->tail = e->prev;
    zhashx_delete(self->by_node, e->node);
    self->count--;
    self->bytes -= e->cost;
}

static void ingest_queue_drop(ingest_queue_t *self, ingest_entry_t *e)
{
    ingest_queue_unlink(self, e);
    pbarena_free(&e->sample->base);
    free(e);
}

void ingest_queue_destroy(ingest_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ingest_queue_t *self = *self_p;
    while (self->head)
        ingest_queue_drop(self, self->head);
    zhashx_destroy(&self->by_node);
    free(self);
    *self_p = NULL;
}

void ingest_queue_merge(Pgvigil__Sample *newer, Pgvigil__Sample *older)
{
    const ProtobufCMessageDescriptor *d = &pgvigil__sample__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
            continue;
        ProtobufCMessage **to = (ProtobufCMessage **)((char *)newer + f->offset);
        ProtobufCMessage **from = (ProtobufCMessage **)((char *)older + f->offset);
        if (!*to && *from) /* copied: each sample frees all it holds at once */
            *to = pbarena_copy(&newer->base, *from);
    }
}

/* A newer sample of a node already waiting: it takes the older one's place. */
static void ingest_queue_coalesce(ingest_queue_t *self, ingest_entry_t *e, Pgvigil__Sample *s, size_t cost,
                                  int64_t received_at_us, ingest_queue_counts_t *counts)
{
    ingest_queue_merge(s, e->sample);
    pbarena_free(&e->sample->base);
    self->bytes -= e->cost;
    e->sample = s;
    e->received_at_us = received_at_us;
    e->coalesced++;
    e->cost = cost;
    self->bytes += e->cost;
    counts->coalesced++;
}

bool ingest_queue_put(ingest_queue_t *self, Pgvigil__Sample *s, size_t cost, int64_t received_at_us,
                      ingest_queue_counts_t *counts)
{
    ingest_entry_t *e = zhashx_lookup(self->by_node, s->node);
    if (e) {
        ingest_queue_coalesce(self, e, s, cost, received_at_us, counts);
    } else {
        size_t len = strlen(s->node);
        if (cost > self->budget || !(e = calloc(1, sizeof *e + len + 1))) {
            pbarena_free(&s->base);
            counts->dropped++;
            return false;
        }
        *e = (ingest_entry_t){.prev = self->tail, .sample = s, .received_at_us = received_at_us, .cost = cost};
        memcpy(e->node, s->node, len + 1);
        if (self->tail)
            self->tail->next = e;
        else
            self->head = e;
        self->tail = e;
        zhashx_insert(self->by_node, e->node, e);
        self->count++;
        self->bytes += cost;
    }
    /* Over budget: the oldest waiting go first, never the one just put (it
     * alone fits). */
    while (self->bytes > self->budget) {
        ingest_entry_t *victim = self->head != e ? self->head : e->next;
        if (!victim)
            break;
        ingest_queue_drop(self, victim);
        counts->dropped++;
    }
    return true;
}

Pgvigil__Sample *ingest_queue_peek(const ingest_queue_t *self, int64_t *received_at_us, uint32_t *coalesced)
{
    if (!self->head)
        return NULL;
    *received_at_us = self->head->received_at_us;
    *coalesced = self->head->coalesced;
    return self->head->sample;
}

void ingest_queue_pop(ingest_queue_t *self)
{
    ingest_entry_t *e = self->head;
    if (!e)
        return;
    ingest_queue_unlink(self, e);
    free(e);
}

size_t ingest_queue_count(const ingest_queue_t *self) { return self->count; }

size_t ingest_queue_bytes(const ingest_queue_t *self) { return self->bytes; }
