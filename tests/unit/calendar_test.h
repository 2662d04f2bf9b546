/*
 * calendar_test.h — shared by the calendar's unit tests.
 */
#ifndef PGVIGIL_CALENDAR_TEST_H
#define PGVIGIL_CALENDAR_TEST_H

#include <stdint.h>
#include <time.h>

#include "calendar.h"

/* UTC microseconds of a UTC wall time. */
static inline int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm) * 1000000;
}

static inline calendar_state_t eval(const calendar_t *cal, const char *zone, int64_t t)
{
    calendar_state_t st;
    assert_int_equal(calendar_eval(cal, zone, t, &st), 0);
    return st;
}

#endif
