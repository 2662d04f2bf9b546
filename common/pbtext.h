/*
 * pbtext.h — text hygiene for protobuf-c messages and for single strings.
 *
 * Every string that crosses the wire must be valid UTF-8, free of control
 * characters other than tab and newline, and bounded, before it reaches a
 * log line, a JSON document or a COPY into a UTF8 database. The checks walk
 * the message descriptors, so a field added to pgvigil.proto later is
 * covered without touching this file. Pure functions; no allocation except
 * pbtext_repair's replacement strings.
 */
#ifndef PGVIGIL_PBTEXT_H
#define PGVIGIL_PBTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef enum {
    PBTEXT_OK = 0,
    PBTEXT_BAD_UTF8,    /* not valid UTF-8 (overlong, surrogate, truncated...) */
    PBTEXT_CONTROL,     /* a control character other than tab or newline */
    PBTEXT_TOO_LONG,    /* longer than the limit */
    PBTEXT_TOO_DEEP,    /* nested deeper than PBTEXT_DEPTH_MAX */
} pbtext_result_t;

#define PBTEXT_DEPTH_MAX 8

/* Checks len bytes of s: valid UTF-8 and no control character except tab,
 * newline and carriage return (U+0000-U+001F, U+007F-U+009F refused). */
pbtext_result_t pbtext_check_str(const char *s, size_t len);

/* Checks every string field of m at any depth against pbtext_check_str
 * and max_len bytes. On failure the dotted path of the field ("tables.name")
 * goes to where (if not NULL). */
pbtext_result_t pbtext_check_message(const ProtobufCMessage *m, size_t max_len, char *where,
                                     size_t wherelen);

/* Makes text valid: s is returned unchanged (a copy) if it passes
 * pbtext_check_str; otherwise each byte that is not part of a valid UTF-8
 * sequence is read as LATIN1 (what a server localized in ISO-8859-1 sends
 * before the client encoding is set) and control characters become '?'.
 * The result (malloc'ed, NUL-terminated) is cut at max_len bytes on a
 * character boundary. NULL only when out of memory. */
char *pbtext_to_utf8(const char *s, size_t max_len);

/* Replaces, in place, every string field of m that fails pbtext_check_str
 * or is longer than max_len with its pbtext_to_utf8 form. Returns how many
 * fields were changed, or -1 when out of memory. m must have been built
 * with malloc'ed strings (the collector's samples are). */
int pbtext_repair_message(ProtobufCMessage *m, size_t max_len);

const char *pbtext_result_name(pbtext_result_t r);

#endif
