/*
 * backoff.c — see backoff.h.
 */
#include "backoff.h"

uint64_t backoff_delay_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, double random01)
{
    uint64_t ceiling = base_ms;
    for (unsigned i = 0; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    if (random01 < 0)
        random01 = 0;
    if (random01 >= 1)
        random01 = 0.999999;
    uint64_t half = ceiling / 2;
    return half + (uint64_t)((double)(ceiling - half) * random01);
}
