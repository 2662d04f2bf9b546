/*
 * ingest_acks.c — acknowledgements grouped per collector process (see
 * ingest_acks.h).
 */
#include "ingest_acks.h"

#include <stdlib.h>
#include <string.h>

struct ingest_acks {
    store_mark_t *marks;
    size_t count, cap;
    uint64_t *sequences; /* one group's, handed to send */
    size_t seq_cap;
};

ingest_acks_t *ingest_acks_new(void) { return calloc(1, sizeof(ingest_acks_t)); }

void ingest_acks_destroy(ingest_acks_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->marks);
    free((*self_p)->sequences);
    free(*self_p);
    *self_p = NULL;
}

int ingest_acks_add(ingest_acks_t *self, const store_mark_t *mark)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        store_mark_t *grown = realloc(self->marks, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->marks = grown;
        self->cap = cap;
    }
    self->marks[self->count] = *mark;
    self->marks[self->count].node[sizeof mark->node - 1] = '\0';
    self->count++;
    return 0;
}

size_t ingest_acks_count(const ingest_acks_t *self) { return self->count; }

static int ingest_acks_order(const void *a, const void *b)
{
    const store_mark_t *x = a, *y = b;
    int c = strcmp(x->node, y->node);
    if (c)
        return c;
    if (x->started_at_us != y->started_at_us)
        return x->started_at_us < y->started_at_us ? -1 : 1;
    return x->sequence < y->sequence ? -1 : x->sequence > y->sequence;
}

void ingest_acks_flush(ingest_acks_t *self, ingest_acks_send_fn send, void *arg)
{
    if (!self->count)
        return;
    if (self->seq_cap < self->count) {
        uint64_t *grown = realloc(self->sequences, self->count * sizeof *grown);
        if (grown) {
            self->sequences = grown;
            self->seq_cap = self->count;
        }
    }
    qsort(self->marks, self->count, sizeof *self->marks, ingest_acks_order);
    size_t from = 0;
    for (size_t i = 1; i <= self->count; i++) {
        const store_mark_t *a = &self->marks[from];
        if (i < self->count && strcmp(self->marks[i].node, a->node) == 0 &&
            self->marks[i].started_at_us == a->started_at_us)
            continue;
        size_t n = i - from;
        uint64_t one, *seqs = self->seq_cap >= n ? self->sequences : NULL;
        for (size_t k = 0; seqs && k < n; k++)
            seqs[k] = self->marks[from + k].sequence;
        if (seqs) {
            send(arg, a->node, a->started_at_us, seqs, n);
        } else { /* out of memory: one by one */
            for (size_t k = 0; k < n; k++) {
                one = self->marks[from + k].sequence;
                send(arg, a->node, a->started_at_us, &one, 1);
            }
        }
        from = i;
    }
    self->count = 0;
}
