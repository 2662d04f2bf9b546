/*
 * clock.c — wall and monotonic clocks in microseconds.
 */
#include "clock.h"

#include <stdio.h>
#include <time.h>

static int64_t clock_read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_wall_us(void) { return clock_read_us(CLOCK_REALTIME); }

int64_t clock_mono_us(void) { return clock_read_us(CLOCK_MONOTONIC); }

char *clock_format_rfc3339(int64_t wall_us, char *buf, unsigned buflen)
{
    time_t secs = (time_t)(wall_us / 1000000);
    int64_t rem = wall_us % 1000000;
    if (rem < 0) {
        rem += 1000000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000));
    return buf;
}
