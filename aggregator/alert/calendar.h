/*
 * calendar.h — peak days ("wedding days") per region, in the region's own
 * IANA time zone.
 *
 * A calendar holds peak weekdays (Saturday by default), explicit peak dates
 * and the daily peak window (11:00-18:00 by default). A moment is "in peak"
 * when it falls inside the window of a peak day, local time. A window whose
 * end is earlier than its start ("22:00-02:00") runs past midnight and
 * belongs to the day it starts on. Local times come from ICU's time zone
 * rules, so daylight-saving transitions are handled: on the day clocks go
 * forward the window is shorter in UTC, on the day they go back longer, and
 * a window edge inside a skipped hour moves to the first valid local time.
 *
 * Pure apart from ICU's tables: no global state, safe from any thread.
 */
#ifndef PGVIGIL_CALENDAR_H
#define PGVIGIL_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct calendar calendar_t;

/* Saturday, 11:00-18:00, no explicit dates. */
calendar_t *calendar_new(void);
void calendar_destroy(calendar_t **self_p);

/* Weekdays as a bit mask: bit 0 Sunday ... bit 6 Saturday. */
void calendar_set_weekdays(calendar_t *self, uint8_t mask);
/* Adds one explicit peak date (local). Returns 0, or -1 if out of memory. */
int calendar_add_date(calendar_t *self, int year, int month, int day);
/* Window in minutes from local midnight; end may be below start (crosses
 * midnight); start == end means the whole day. */
void calendar_set_hours(calendar_t *self, int start_min, int end_min);

/* Parsers for configuration text. Return 0, or -1 if malformed. */
int calendar_parse_weekday(const char *name, int *weekday); /* "saturday"/"sat" -> 6 */
int calendar_parse_date(const char *text, int *year, int *month, int *day); /* YYYY-MM-DD */
int calendar_parse_hours(const char *text, int *start_min, int *end_min); /* "11:00-18:00" */
/* True if zone is an IANA time zone name known to ICU ("Europe/Berlin"). */
bool calendar_zone_valid(const char *zone);

typedef struct {
    bool peak;               /* inside a peak day's window now */
    bool peak_day;           /* today (local) is a peak day */
    char local_date[11];     /* YYYY-MM-DD, local */
    int local_minute;        /* minutes since local midnight */
    int64_t window_start_us; /* the current or next window of today, UTC;  */
    int64_t window_end_us;   /* 0 when today is not a peak day */
} calendar_state_t;

/* Evaluate the calendar at t_us (UTC microseconds) in zone. Returns 0, or -1
 * if zone is unknown. */
int calendar_eval(const calendar_t *self, const char *zone, int64_t t_us, calendar_state_t *out);

#endif
