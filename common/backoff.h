/*
 * backoff.h — reconnect delays: exponential, capped, with jitter, so a fleet
 * of collectors whose server went away does not reconnect in lockstep.
 */
#ifndef PGVIGIL_BACKOFF_H
#define PGVIGIL_BACKOFF_H

#include <stdint.h>

/* Delay before attempt number `attempt` (0 = the first retry): the ceiling
 * min(cap, base * 2^attempt), then "equal jitter": half of the ceiling plus
 * a random share (random01 in [0, 1)) of the other half, so a retry never
 * comes immediately and never later than the cap. */
uint64_t backoff_delay_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, double random01);

#endif
