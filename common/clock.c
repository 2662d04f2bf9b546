/*
 * clock.c — wall and monotonic clocks in microseconds.
 */
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t clock_read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_wall_us(void) { return clock_read_us(CLOCK_REALTIME); }

int64_t clock_mono_us(void) { return clock_read_us(CLOCK_MONOTONIC); }

int64_t clock_thread_cpu_us(void) { return clock_read_us(CLOCK_THREAD_CPUTIME_ID); }

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

int clock_parse_rfc3339(const char *text, int64_t *wall_us)
{
    int y, mo, d, h, mi, n = 0;
    double s;
    if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || s < 0 || s >= 61)
        return -1;
    const char *tz = text + n;
    int off_min = 0;
    if (strcmp(tz, "Z") == 0 || strcmp(tz, "z") == 0) {
        off_min = 0;
    } else {
        int oh, om, m = 0;
        if ((tz[0] != '+' && tz[0] != '-') || sscanf(tz + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || tz[1 + m] != '\0')
            return -1;
        off_min = (tz[0] == '-' ? -1 : 1) * (oh * 60 + om);
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    time_t secs = timegm(&tm);
    *wall_us = ((int64_t)secs - (int64_t)off_min * 60) * 1000000 + (int64_t)(s * 1e6);
    return 0;
}
