/*
 * ingest.h — the bound ZeroMQ socket(s) where collectors deliver samples.
 *
 * The ingest actor binds a ROUTER on every listen.ingest endpoint (CURVE with
 * a zauth allow-list when configured), receives [routing id][envelope][body],
 * decodes and validates, and hands each accepted sample to the core over an
 * inproc PUSH socket as one ingest_handoff_t per message: ownership of the
 * sample passes to the core (it keeps it as the node's latest sample, shared
 * with that node's fragments, frag.h, until the last of them lets it go).
 * Acknowledgements are gathered over a burst and sent one per collector
 * process (ingest_acks.h). Memory is budgeted
 * (inbound_budget_mb, ingest_budget()): the hand-off has a bounded queue at
 * both ends; when the core falls behind and it is full, ingest keeps reading
 * and accepted samples wait in a coalescing queue (ingest_queue.h: one per
 * node, the newest wins), every coalesced or dropped sample counted and
 * logged once per interval, so samples never pile up without end.
 * With history nothing is coalesced away: an acknowledgement says a sample
 * is durable, so while one waits for the core, or the store asks for
 * backpressure, new samples are refused (the Ack's resend_from) and wait
 * on their collectors, which send them again a second later; the ROUTER
 * is read all the time (ingest.c says why).
 * Everything malformed is counted and dropped; nothing a peer sends can make
 * it exit. Counters are atomics, read lock-free by HTTP.
 *
 * Before a sample is handed over, its text is checked (UTF-8, no control
 * characters, lengths, name charsets), its node is checked against the
 * CURVE key's "nodes" metadata and its sequence against a believable window
 * (ingest_ident.h). Acknowledgements: with a history database, the store
 * tells ingest (STORE_DURABLE_ENDPOINT) which samples are durable and ingest
 * sends each collector an ACK (pgvigil.Ack) on the connection that last
 * delivered an accepted sample of its node; without one, a sample is
 * acknowledged when accepted.
 */
#ifndef PGVIGIL_INGEST_H
#define PGVIGIL_INGEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg_config.h"
#include "envelope.h"
#include "pgvigil.pb-c.h"

/* How the inbound budget is spent (bytes estimated per decoded sample,
 * ingest_queue_cost()): a quarter for the hand-off queue (its send and
 * receive ends, pointers to decoded samples), half for the coalescing queue,
 * and the ROUTER's queue of each collector connection unbounded inside
 * libzmq (a bound there can abort the process, ingest.c says why) but kept
 * short by ingest, which reads continuously and sheds when it cannot keep
 * up. */
typedef struct {
    int handoff_hwm;     /* ZMQ_SNDHWM of ingest's PUSH and ZMQ_RCVHWM of the core's PULL */
    size_t queue_bytes;  /* the coalescing queue */
} ingest_budget_t;

void ingest_budget(const agg_config_t *cfg, ingest_budget_t *out);

/* Exactly one of sample and result is set; the core frees it. */
typedef struct {
    Pgvigil__Sample *sample;
    int64_t received_at_us; /* aggregator wall clock */
    uint32_t coalesced;     /* older samples of the node this one replaced (not gaps) */
    Pgvigil__CommandResult *result; /* a maintenance result from collector `node` */
    char node[ENVELOPE_NODE_MAX + 1];
} ingest_handoff_t;

/* The core binds a PUSH here; ingest forwards each [node][packed Command]
 * to that node's collector over the ROUTER, and answers a command for a
 * collector that is not connected with a failed result of its own. */
#define INGEST_COMMANDS_ENDPOINT "inproc://pgvigil-collector-commands"

typedef enum {
    INGEST_OK = 0,
    INGEST_BAD_FRAMES,      /* not [id][envelope][body] */
    INGEST_BAD_ENVELOPE,
    INGEST_OVERSIZED,
    INGEST_BAD_BODY,        /* protobuf did not unpack */
    INGEST_INVALID,         /* unpacked but failed validation */
    INGEST_NAME_MISMATCH,   /* envelope node differs from sample node */
    INGEST_BAD_TEXT,        /* a string is not UTF-8, holds control characters or is too long */
    INGEST_KEY_NOT_ALLOWED, /* the CURVE key may not speak for this node (allow-list metadata) */
    INGEST_SEQUENCE_JUMP,   /* sequence far beyond what the collector can have produced */
    INGEST_REASON_COUNT
} ingest_reject_t;

typedef struct {
    atomic_uint_fast64_t received;
    atomic_uint_fast64_t accepted;
    atomic_uint_fast64_t rejected[INGEST_REASON_COUNT]; /* [INGEST_OK] unused */
    atomic_uint_fast64_t unauthenticated;               /* CURVE handshakes refused */
    atomic_uint_fast64_t bytes;
    atomic_uint_fast64_t acked; /* samples acknowledged to their collectors */
    atomic_uint_fast64_t refused; /* with history: not taken now, the collector sends them again */
    atomic_uint_fast64_t shed;    /* read undecoded and discarded while ingest could not keep up */
    atomic_bool paused;         /* the store asked for backpressure */
    atomic_uint_fast64_t coalesced; /* replaced by a newer sample of their node */
    atomic_uint_fast64_t dropped;   /* accepted, then evicted to stay within the budget */
    atomic_uint_fast64_t queued;    /* waiting in the coalescing queue now */
    atomic_uint_fast64_t queued_bytes; /* their estimated memory (ingest_queue_cost) */
} ingest_counters_t;

/* Short lowercase name of a reason, for metric labels ("bad_envelope"). */
const char *ingest_reject_name(ingest_reject_t why);

/* Pure: check ranges and required fields of an unpacked sample. Returns 0,
 * or -1 and a reason in why. */
int ingest_validate(const Pgvigil__Sample *s, char *why, size_t whylen);

/* Pure: check the text of an unpacked sample (INGEST_BAD_TEXT). Every string
 * at any depth is valid UTF-8 without control characters (tab, CR and
 * newline allowed) and at most INGEST_TEXT_MAX bytes; the region is 1..63
 * characters of [A-Za-z0-9._ -] (names reach calendars, labels and paths).
 * The node name is checked by ingest_validate (envelope_node_name_valid).
 * Returns 0, or -1 and the offending field in why. */
#define INGEST_TEXT_MAX 65536
int ingest_validate_text(const Pgvigil__Sample *s, char *why, size_t whylen);

/* Pure: decode envelope + body and validate. On success returns the sample
 * (caller frees with pgvigil__sample__free_unpacked) and fills env; on
 * failure returns NULL and sets *reject. This is the fuzz target. */
Pgvigil__Sample *ingest_decode(const uint8_t *env_buf, size_t env_len, const uint8_t *body,
                               size_t body_len, envelope_t *env, ingest_reject_t *reject);

typedef struct ingest ingest_t;

/* Bind every endpoint and start the actor; samples go to core_endpoint
 * (an inproc PULL the core binds). NULL with err set if a bind fails. */
ingest_t *ingest_new(const agg_config_t *cfg, const char *core_endpoint,
                     ingest_counters_t *counters, char *err, size_t errlen);
void ingest_destroy(ingest_t **self_p);

#endif
