/*
 * pbarena.h — a decoded protobuf-c message in one allocation.
 *
 * protobuf-c's unpack allocates every sub-message, repeated array and string
 * on its own, and free_unpacked frees them one by one: a sample is dozens of
 * mallocs. The aggregator decodes samples on its ingest thread and frees
 * them on the core thread (or on whichever thread drops a fragment's last
 * reference), so every one of those frees also takes the allocating
 * thread's malloc arena lock; at tens of thousands of samples a second that
 * was the largest single cost of both threads. Here a message is unpacked
 * into chunks this module hands out by bumping a pointer: one malloc for
 * almost every message, one free for all of it.
 *
 * Every allocation is preceded by a pointer to its arena, so pbarena_free
 * finds the arena from the message alone, whatever order protobuf-c
 * allocates in. The first chunk is sized from the wire length by the ratio
 * of decoded to wire bytes this thread has seen lately; a message that does
 * not fit gets further chunks. Under AddressSanitizer the unused parts of
 * each chunk are poisoned, so an overflow of one field is still reported.
 *
 * A message from pbarena_unpack must be freed with pbarena_free, never with
 * protobuf_c_message_free_unpacked, and must not take ownership of parts of
 * another message: copy them in with pbarena_copy. No shared state; any
 * thread may free a message another one decoded.
 */
#ifndef PGVIGIL_PBARENA_H
#define PGVIGIL_PBARENA_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Decodes len bytes of data as a d; NULL when they are not one (or out of
 * memory). */
ProtobufCMessage *pbarena_unpack(const ProtobufCMessageDescriptor *d, size_t len, const uint8_t *data);

/* Frees m and everything decoded with it; NULL is a no-op. */
void pbarena_free(ProtobufCMessage *m);

/* A deep copy of m (from any allocator) allocated with owner, freed with
 * it; NULL when out of memory. */
ProtobufCMessage *pbarena_copy(ProtobufCMessage *owner, const ProtobufCMessage *m);

/* Bytes owner holds (chunks and headers), for memory budgets. */
size_t pbarena_bytes(const ProtobufCMessage *owner);

#endif
