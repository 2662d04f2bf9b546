/*
 * store_durable.h — the store's side of acknowledged delivery: mark records
 * and the channel that tells ingest which samples are durable, and when to
 * stop taking samples (see store.h). Owned by the store thread.
 *
 * A mark is a record like a row, [0xFF][store_mark_t], put by the core after
 * the rows of a sample; the store holds it in order among the rows and hands
 * it to store_durable_add once every row before it is committed or fsynced.
 */
#ifndef PGVIGIL_STORE_DURABLE_H
#define PGVIGIL_STORE_DURABLE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_MARK_TAG 0xFF /* first byte of a mark record (tables are below) */

typedef struct store_durable store_durable_t;

/* Connects a PUSH to STORE_DURABLE_ENDPOINT (nobody may be listening). */
store_durable_t *store_durable_new(void);
void store_durable_destroy(store_durable_t **self_p);

/* Whether a record taken from the writers is a mark. */
bool store_durable_is_mark(zframe_t *f);
/* The rows before this mark are durable. */
void store_durable_add(store_durable_t *self, zframe_t *mark);
/* Send what was added since the last flush; returns how many. */
size_t store_durable_flush(store_durable_t *self);
/* Pause ingest once held reaches budget, resume below half of it; returns
 * whether ingest is paused. */
bool store_durable_pressure(store_durable_t *self, size_t held, uint64_t budget);

#endif
