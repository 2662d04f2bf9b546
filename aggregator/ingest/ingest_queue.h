/*
 * ingest_queue.h — the coalescing queue between ingest and the core.
 *
 * When the core falls behind, the inproc hand-off to it fills (its
 * high-water mark is part of the inbound budget) and accepted samples wait
 * here instead of piling up without end. The queue holds at most one sample
 * per node: a newer sample of a node replaces the one waiting (the newest
 * wins, "coalesced"), keeping the node's place in line so no node starves.
 * Sections the newer sample lacks (a slow section collected every 15 s or
 * 60 s: databases, tables, statements...) are moved over from the older one,
 * so cumulative counters and slow data are not lost, only superseded fast
 * values. The handed-over sample says how many older ones it replaced, so the
 * core does not count them as sequence gaps.
 *
 * Memory is bounded by a byte budget (an estimate of each decoded sample's
 * size): when a new node's sample does not fit, the oldest waiting samples
 * are dropped and counted. Every sample put is eventually taken, coalesced or
 * dropped: put = taken + coalesced + dropped + waiting.
 *
 * Owned by the ingest thread; pure (no sockets), unit-tested.
 */
#ifndef PGVIGIL_INGEST_QUEUE_H
#define PGVIGIL_INGEST_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgvigil.pb-c.h"

typedef struct ingest_queue ingest_queue_t;

typedef struct {
    uint64_t coalesced; /* replaced by a newer sample of the same node */
    uint64_t dropped;   /* evicted to stay within the budget */
} ingest_queue_counts_t;

ingest_queue_t *ingest_queue_new(size_t budget_bytes);
/* Frees the waiting samples (counted as dropped). */
void ingest_queue_destroy(ingest_queue_t **self_p);

/* Estimated memory of a sample decoded from body_len bytes: protobuf-c
 * allocates every submessage and string apart and every optional scalar at
 * full width. */
size_t ingest_queue_cost(size_t body_len);

/* Take ownership of s (received at received_at_us, cost from
 * ingest_queue_cost). Returns false when it was dropped itself (larger than
 * the whole budget). Counts in *counts. */
bool ingest_queue_put(ingest_queue_t *self, Pgvigil__Sample *s, size_t cost, int64_t received_at_us,
                      ingest_queue_counts_t *counts);

/* The oldest waiting sample, left in the queue (NULL when empty); its
 * received time and how many older samples it replaced. */
Pgvigil__Sample *ingest_queue_peek(const ingest_queue_t *self, int64_t *received_at_us, uint32_t *coalesced);
/* Remove the peeked sample: ownership passes to the caller. */
void ingest_queue_pop(ingest_queue_t *self);

size_t ingest_queue_count(const ingest_queue_t *self);
size_t ingest_queue_bytes(const ingest_queue_t *self);

/* Copies into newer every optional section (submessage) it lacks and older
 * has (both from pbarena_unpack; a section that does not fit in memory is
 * left out). Exposed for the unit tests. */
void ingest_queue_merge(Pgvigil__Sample *newer, Pgvigil__Sample *older);

#endif
