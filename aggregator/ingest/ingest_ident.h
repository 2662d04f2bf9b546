/*
 * ingest_ident.h — who may speak for a node, and whether what it says about
 * its sequence is believable. Owned by the ingest thread; pure logic apart
 * from its table, unit-tested without sockets.
 *
 * Binding: with CURVE, each public key in curve.allow_dir carries a "nodes"
 * metadata entry (zcert metadata, written by `pgvigil-aggregator keygen PATH
 * NODES`): space-separated node names or fnmatch(3) patterns ("db-eu-*").
 * zauth hands the entry of the authenticated key to every message of that
 * connection; a sample for a node the entry does not cover is refused, and
 * so is any sample from a key without the entry.
 *
 * Identity: a sample's source is (key, collector_started_at_us) for its node.
 * Within one source a sequence may not run further ahead than the collector
 * can have produced: last + 1000 + 4 x (time since the last sample /
 * interval). A new source is held to the same bound counted from its claimed
 * start. A forged sample with sequence 2^62 is therefore refused instead of
 * turning every later real sample into a "duplicate".
 *
 * Refusal: with history, a sample ingest cannot take now is refused, and
 * so is every later sample of its source (taking one would let its
 * acknowledgement cover the refused one), until the collector goes back
 * and sends the refused one again: a sample at or below the highest
 * sequence seen since the refusal, or one from a new process, ends it.
 *
 * Routes: the ROUTER id of the connection that last delivered an accepted
 * message for a node, so acknowledgements and commands reach the collector
 * that really speaks for it (not whoever claims its name as an identity).
 */
#ifndef PGVIGIL_INGEST_IDENT_H
#define PGVIGIL_INGEST_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"

#define INGEST_IDENT_NODES_MAX 100000 /* table bound: more distinct nodes are refused */
#define INGEST_IDENT_ROUTE_MAX 255

typedef struct ingest_ident ingest_ident_t;

ingest_ident_t *ingest_ident_new(void);
void ingest_ident_destroy(ingest_ident_t **self_p);

/* Pure: whether the "nodes" entry of a key covers node. NULL or empty
 * covers nothing. */
bool ingest_ident_key_allows(const char *nodes, const char *node);

/* Check and, when believable, remember a sample's (source, sequence). key
 * names the source's key ("" without CURVE). now_us is the aggregator's
 * clock. Returns INGEST_OK or INGEST_SEQUENCE_JUMP (or
 * INGEST_INVALID when the table is full). */
ingest_reject_t ingest_ident_check(ingest_ident_t *self, const char *node, const char *key,
                                   int64_t started_at_us, uint64_t sequence, uint32_t interval_ms,
                                   int64_t now_us);

/* Refuse sequence of a source of node and everything after it; the
 * collector was told to send again from resend_from (sequence, or 0 for
 * everything it has not had acknowledged). */
void ingest_ident_refuse(ingest_ident_t *self, const char *node, int64_t started_at_us, uint64_t sequence,
                         uint64_t resend_from, int64_t now_us);

/* Whether an admitted sample falls under a refusal of its source (drop it);
 * a sample that went back ends the refusal. *remind says whether the
 * refusal was last told to the collector more than INGEST_IDENT_REMIND_US
 * ago (tell it again: send again from *resend_from). */
#define INGEST_IDENT_REMIND_US 5000000
bool ingest_ident_refusing(ingest_ident_t *self, const char *node, int64_t started_at_us, uint64_t sequence,
                           int64_t now_us, bool *remind, uint64_t *resend_from);

/* A message of node was shed unread (a known node only); the next call of
 * take_shed says so once. */
void ingest_ident_shed(ingest_ident_t *self, const char *node);
bool ingest_ident_take_shed(ingest_ident_t *self, const char *node);

/* Remember / look up the route (ROUTER id) of a node's collector. */
void ingest_ident_set_route(ingest_ident_t *self, const char *node, const void *id, size_t len);
const uint8_t *ingest_ident_route(ingest_ident_t *self, const char *node, size_t *len);

#endif
