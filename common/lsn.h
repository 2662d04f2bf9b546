/*
 * lsn.h — PostgreSQL WAL positions (LSNs): text conversion and arithmetic.
 *
 * An LSN is a 64-bit byte position in the WAL. PostgreSQL prints it as two
 * hexadecimal 32-bit halves, "16/B374D848". The arithmetic here never wraps:
 * a 64-bit WAL position does not overflow in the life of any server.
 */
#ifndef PGVIGIL_LSN_H
#define PGVIGIL_LSN_H

#include <stdint.h>

/* "FFFFFFFF/FFFFFFFF" and the terminating NUL. */
#define LSN_TEXT_MAX 18

/* Parse "X/Y" (hex halves, 1 to 8 digits each). Returns 0, or -1 if malformed. */
int lsn_parse(const char *text, uint64_t *out);

/* Format as PostgreSQL does ("0/3000060"). buf must hold LSN_TEXT_MAX bytes. Returns buf. */
char *lsn_format(uint64_t lsn, char *buf);

/* a - b when a >= b, else 0: "how far is b behind a", never negative. */
static inline uint64_t lsn_behind(uint64_t a, uint64_t b) { return a >= b ? a - b : 0; }

#endif
