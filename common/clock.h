/*
 * clock.h — the two clocks pgvigil uses: wall time for what is sent and
 * stored, monotonic time for cadences, deadlines and durations.
 */
#ifndef PGVIGIL_CLOCK_H
#define PGVIGIL_CLOCK_H

#include <stdint.h>

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_us(void);

/* Microseconds on CLOCK_MONOTONIC: only differences mean anything. */
int64_t clock_mono_us(void);

/* CPU time the calling thread has used, microseconds: what work cost, not
 * how long it waited for a core. */
int64_t clock_thread_cpu_us(void);

/* Format a wall time in µs as RFC 3339 UTC with milliseconds,
 * "2026-11-22T10:15:30.123Z". buf should hold 32 bytes. Returns buf. */
char *clock_format_rfc3339(int64_t wall_us, char *buf, unsigned buflen);
/* "2026-11-23T10:00:00Z", fractions and +hh:mm offsets allowed. Returns 0,
 * or -1 if malformed. */
int clock_parse_rfc3339(const char *text, int64_t *wall_us);

#endif
