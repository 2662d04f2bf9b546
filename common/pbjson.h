/*
 * pbjson.h — render any protobuf-c message as a jansson object, generically,
 * from its descriptor.
 *
 * Only present fields appear (proto2 presence: has_* flags, non-NULL strings
 * and submessages, non-empty repeated fields). Conventions:
 *   - fields whose name ends in "_lsn" are LSNs: rendered as PostgreSQL's
 *     "X/Y" text;
 *   - "system_identifier" is rendered as a decimal string (it uses all 64
 *     bits and JSON numbers lose precision above 2^53);
 *   - enums as their short lowercase name: ROLE_PRIMARY -> "primary";
 *   - bytes fields as their length only ({"bytes": N}), never the content.
 */
#ifndef PGVIGIL_PBJSON_H
#define PGVIGIL_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* A new reference, or NULL if out of memory. */
json_t *pbjson_from_message(const ProtobufCMessage *msg);

#endif
