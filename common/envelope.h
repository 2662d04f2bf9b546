/*
 * envelope.h — the first frame of every pgvigil ZeroMQ message.
 *
 * A message is [envelope][body]. The envelope is a few bytes: the magic
 * "PV", the format version, the message type, and the sender's node name
 * (length-prefixed), so a receiver can route or drop a message before it
 * unpacks the protobuf body.
 *
 *   byte 0-1  'P' 'V'
 *   byte 2    format version (ENVELOPE_VERSION)
 *   byte 3    message type (envelope_type_t)
 *   byte 4    node name length n (1..ENVELOPE_NODE_MAX)
 *   byte 5..  node name, n bytes, [A-Za-z0-9._-], starting with a letter
 *             or digit and never containing ".." (a node name becomes a
 *             URL path segment, a metric label and a file name)
 */
#ifndef PGVIGIL_ENVELOPE_H
#define PGVIGIL_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENVELOPE_VERSION 1
#define ENVELOPE_NODE_MAX 63
#define ENVELOPE_MAX_BYTES (5 + ENVELOPE_NODE_MAX)
/* Upper bound of a message body; sockets set ZMQ_MAXMSGSIZE to this. */
#define ENVELOPE_BODY_MAX_BYTES (16 * 1024 * 1024)

typedef enum {
    ENVELOPE_SAMPLE = 1,         /* body: pgvigil.Sample */
    ENVELOPE_COMMAND = 2,        /* aggregator -> collector */
    ENVELOPE_COMMAND_RESULT = 3, /* collector -> aggregator */
    ENVELOPE_ACK = 4,            /* aggregator -> collector, body: pgvigil.Ack */
} envelope_type_t;

typedef struct {
    uint8_t version;
    uint8_t type;
    char node[ENVELOPE_NODE_MAX + 1];
} envelope_t;

/* True if name is 1..63 characters of [A-Za-z0-9._-], the first a letter
 * or digit, with no "..". */
bool envelope_node_name_valid(const char *name);

/* Encode into buf (cap >= ENVELOPE_MAX_BYTES). Returns the length, or 0 if
 * the envelope is invalid (bad node name or type). */
size_t envelope_encode(const envelope_t *env, uint8_t *buf, size_t cap);

/* Decode and validate. Returns 0, or -1 if the frame is malformed or of an
 * unknown version or type. */
int envelope_decode(const uint8_t *buf, size_t len, envelope_t *out);

#endif
