/*
 * ingest_acks.h — acknowledgements gathered, then sent one per collector
 * process.
 *
 * Accepted (no history) or durable (history) samples are acknowledged by
 * their collector process's sequence numbers (pgvigil.Ack). A burst of
 * samples from many nodes arrives interleaved; rather than one Ack message
 * per sample, ingest adds each (node, process, sequence) here and, at the end
 * of the burst, flushes: one call of send per node and process, with its
 * sequences in ascending order.
 *
 * Owned and used by the ingest thread only. Pure logic: no sockets.
 */
#ifndef PGVIGIL_INGEST_ACKS_H
#define PGVIGIL_INGEST_ACKS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct ingest_acks ingest_acks_t;

/* Sends one Ack: sequences[0..n) of node's process started_at_us. */
typedef void (*ingest_acks_send_fn)(void *arg, const char *node, int64_t started_at_us, uint64_t *sequences,
                                    size_t n);

ingest_acks_t *ingest_acks_new(void);
void ingest_acks_destroy(ingest_acks_t **self_p);

/* -1 when out of memory (that acknowledgement is lost: the collector sends
 * the sample again, and the aggregator recognises it as a duplicate). */
int ingest_acks_add(ingest_acks_t *self, const store_mark_t *mark);
size_t ingest_acks_count(const ingest_acks_t *self);
/* Everything added since the last flush, grouped; then empty. */
void ingest_acks_flush(ingest_acks_t *self, ingest_acks_send_fn send, void *arg);

#endif
