/*
 * calendar.c — peak-day evaluation on top of ICU's calendar and time zones
 * (see calendar.h). One UCalendar is opened per evaluation: evaluations are
 * rare (once per region per second at most) and this keeps the module free
 * of shared state.
 */
#include "calendar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define CALENDAR_ZONE_MAX 128

struct calendar {
    uint8_t weekdays;
    int start_min, end_min;
    int32_t *dates; /* yyyymmdd */
    size_t ndates, cap;
};

calendar_t *calendar_new(void)
{
    calendar_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->weekdays = 1u << 6;
    self->start_min = 11 * 60;
    self->end_min = 18 * 60;
    return self;
}

void calendar_destroy(calendar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->dates);
    free(*self_p);
    *self_p = NULL;
}

void calendar_set_weekdays(calendar_t *self, uint8_t mask) { self->weekdays = mask & 0x7f; }

void calendar_set_hours(calendar_t *self, int start_min, int end_min)
{
    self->start_min = start_min;
    self->end_min = end_min;
}

int calendar_add_date(calendar_t *self, int year, int month, int day)
{
    if (self->ndates == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        int32_t *d = realloc(self->dates, cap * sizeof *d);
        if (!d)
            return -1;
        self->dates = d;
        self->cap = cap;
    }
    self->dates[self->ndates++] = year * 10000 + month * 100 + day;
    return 0;
}

int calendar_parse_weekday(const char *name, int *weekday)
{
    static const char *const names[] = {"sunday", "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday"};
    if (!name)
        return -1;
    size_t n = strlen(name);
    for (int i = 0; i < 7; i++) {
        if (strcasecmp(name, names[i]) == 0 || (n == 3 && strncasecmp(name, names[i], 3) == 0)) {
            *weekday = i;
            return 0;
        }
    }
    return -1;
}

static bool calendar_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int calendar_parse_date(const char *text, int *year, int *month, int *day)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, used = 0;
    if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9'))
            return -1;
    if (sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || used != 10)
        return -1;
    if (y < 1970 || m < 1 || m > 12 || d < 1)
        return -1;
    if (d > mdays[m - 1] + (m == 2 && calendar_leap(y)))
        return -1;
    *year = y;
    *month = m;
    *day = d;
    return 0;
}

/* "HH:MM", 00:00 to 24:00. */
static int calendar_parse_clock(const char *s, size_t len, int *minutes)
{
    if (len != 5 || s[2] != ':')
        return -1;
    for (size_t i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    *minutes = h * 60 + m;
    return 0;
}

int calendar_parse_hours(const char *text, int *start_min, int *end_min)
{
    if (!text)
        return -1;
    const char *dash = strchr(text, '-');
    if (!dash || calendar_parse_clock(text, (size_t)(dash - text), start_min) != 0 ||
        calendar_parse_clock(dash + 1, strlen(dash + 1), end_min) != 0)
        return -1;
    return *start_min == 24 * 60 ? -1 : 0;
}

static UCalendar *calendar_open(const char *zone)
{
    UChar zid[CALENDAR_ZONE_MAX], canon[CALENDAR_ZONE_MAX];
    UErrorCode st = U_ZERO_ERROR;
    UBool system_id = 0;
    if (!zone || strlen(zone) >= CALENDAR_ZONE_MAX)
        return NULL;
    u_uastrncpy(zid, zone, CALENDAR_ZONE_MAX);
    /* ICU silently falls back to "Etc/Unknown" (UTC) for unknown names. */
    ucal_getCanonicalTimeZoneID(zid, -1, canon, CALENDAR_ZONE_MAX, &system_id, &st);
    if (U_FAILURE(st) || !system_id)
        return NULL;
    UCalendar *cal = ucal_open(zid, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) {
        if (cal)
            ucal_close(cal);
        return NULL;
    }
    return cal;
}

bool calendar_zone_valid(const char *zone)
{
    UCalendar *cal = calendar_open(zone);
    if (cal)
        ucal_close(cal);
    return cal != NULL;
}

typedef struct {
    int year, month, day; /* month 1-12 */
    int weekday;          /* 0 Sunday */
} calendar_day_t;

static void calendar_read_day(UCalendar *cal, calendar_day_t *d, UErrorCode *st)
{
    d->year = ucal_get(cal, UCAL_YEAR, st);
    d->month = ucal_get(cal, UCAL_MONTH, st) + 1;
    d->day = ucal_get(cal, UCAL_DATE, st);
    d->weekday = ucal_get(cal, UCAL_DAY_OF_WEEK, st) - UCAL_SUNDAY;
}

static bool calendar_is_peak_day(const calendar_t *self, const calendar_day_t *d)
{
    if (self->weekdays & (1u << d->weekday))
        return true;
    int32_t key = d->year * 10000 + d->month * 100 + d->day;
    for (size_t i = 0; i < self->ndates; i++)
        if (self->dates[i] == key)
            return true;
    return false;
}

/* UTC microseconds of local wall time m minutes after the start of day d
 * (m may pass 1440: the next day). Wall time, not elapsed time: on a
 * daylight-saving day 04:00 is still 04:00. */
static int64_t calendar_local_to_us(UCalendar *cal, const calendar_day_t *d, int m, UErrorCode *st)
{
    ucal_clear(cal);
    ucal_setDateTime(cal, d->year, d->month - 1, d->day, 12, 0, 0, st);
    if (m >= 24 * 60) {
        ucal_add(cal, UCAL_DATE, m / (24 * 60), st);
        m %= 24 * 60;
    }
    ucal_set(cal, UCAL_HOUR_OF_DAY, m / 60);
    ucal_set(cal, UCAL_MINUTE, m % 60);
    return (int64_t)ucal_getMillis(cal, st) * 1000;
}

int calendar_eval(const calendar_t *self, const char *zone, int64_t t_us, calendar_state_t *out)
{
    UCalendar *cal = calendar_open(zone);
    if (!cal)
        return -1;
    UErrorCode st = U_ZERO_ERROR;
    calendar_day_t today, yesterday;
    memset(out, 0, sizeof *out);
    ucal_setMillis(cal, (UDate)(t_us / 1000), &st);
    calendar_read_day(cal, &today, &st);
    out->local_minute = ucal_get(cal, UCAL_HOUR_OF_DAY, &st) * 60 + ucal_get(cal, UCAL_MINUTE, &st);
    ucal_add(cal, UCAL_DATE, -1, &st);
    calendar_read_day(cal, &yesterday, &st);
    snprintf(out->local_date, sizeof out->local_date, "%04u-%02u-%02u",
             (unsigned)today.year % 10000u, (unsigned)today.month % 100u, (unsigned)today.day % 100u);

    int span = self->end_min - self->start_min;
    if (span <= 0)
        span += 24 * 60; /* past midnight, or the whole day when equal */
    out->peak_day = calendar_is_peak_day(self, &today);
    if (out->peak_day) {
        out->window_start_us = calendar_local_to_us(cal, &today, self->start_min, &st);
        out->window_end_us = calendar_local_to_us(cal, &today, self->start_min + span, &st);
        out->peak = t_us >= out->window_start_us && t_us < out->window_end_us;
    }
    if (!out->peak && self->start_min + span > 24 * 60 && calendar_is_peak_day(self, &yesterday)) {
        /* Yesterday's window may still be open after midnight. */
        int64_t s = calendar_local_to_us(cal, &yesterday, self->start_min, &st);
        int64_t e = calendar_local_to_us(cal, &yesterday, self->start_min + span, &st);
        if (t_us >= s && t_us < e) {
            out->peak = true;
            out->window_start_us = s;
            out->window_end_us = e;
        }
    }
    ucal_close(cal);
    return U_FAILURE(st) ? -1 : 0;
}
