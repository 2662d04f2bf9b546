/*
 * test_calendar_zones.c — Saturday detection and peak windows in
 * Europe/London, America/New_York and Pacific/Auckland around their 2026
 * daylight-saving changes and local midnight. Expected UTC instants were
 * worked out from each zone's offsets (and checked against the tz database):
 *   London:   GMT (+0) -> BST (+1) on 2026-03-29 01:00Z; back on 2026-10-25 01:00Z
 *   New York: EST (-5) -> EDT (-4) on 2026-03-08 07:00Z; back on 2026-11-01 06:00Z
 *   Auckland: NZDT (+13) -> NZST (+12) on 2026-04-04 14:00Z; NZST -> NZDT on 2026-09-26 14:00Z
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "calendar.h"
#include "calendar_test.h"

#define HOUR 3600000000LL

/* The default calendar's Saturday window, in UTC, for the Saturday of t. */
static void expect_window(const calendar_t *cal, const char *zone, int64_t t, int64_t start, int64_t end)
{
    calendar_state_t s = eval(cal, zone, t);
    assert_true(s.peak_day);
    assert_true(s.window_start_us == start);
    assert_true(s.window_end_us == end);
    assert_true(end - start == 7 * HOUR);
    assert_false(eval(cal, zone, start - 60000000).peak);
    assert_true(eval(cal, zone, start).peak);
    assert_true(eval(cal, zone, end - 60000000).peak);
    assert_false(eval(cal, zone, end).peak);
}

static void test_london(void **state)
{
    (void)state;
    calendar_t *cal = calendar_new();
    const char *z = "Europe/London";
    /* Saturday before the spring change (GMT): 11:00-18:00 = 11:00Z-18:00Z */
    expect_window(cal, z, utc(2026, 3, 28, 12, 0), utc(2026, 3, 28, 11, 0), utc(2026, 3, 28, 18, 0));
    /* Saturday after it (BST): 10:00Z-17:00Z */
    expect_window(cal, z, utc(2026, 4, 4, 12, 0), utc(2026, 4, 4, 10, 0), utc(2026, 4, 4, 17, 0));
    /* Saturday 2026-04-04 begins at 00:00 BST = Friday 23:00Z */
    assert_false(eval(cal, z, utc(2026, 4, 3, 22, 59)).peak_day);
    calendar_state_t s = eval(cal, z, utc(2026, 4, 3, 23, 0));
    assert_true(s.peak_day);
    assert_false(s.peak);
    assert_string_equal(s.local_date, "2026-04-04");
    /* ... and ends at 00:00 BST Sunday = Saturday 23:00Z */
    assert_true(eval(cal, z, utc(2026, 4, 4, 22, 59)).peak_day);
    assert_false(eval(cal, z, utc(2026, 4, 4, 23, 0)).peak_day);
    /* Sunday 2026-10-25 as a whole-day peak day lasts 25 hours: 00:00 BST
     * (Saturday 23:00Z) to Monday 00:00 GMT (00:00Z). */
    calendar_set_weekdays(cal, 1u << 0);
    calendar_set_hours(cal, 0, 0);
    s = eval(cal, z, utc(2026, 10, 25, 12, 0));
    assert_true(s.peak);
    assert_true(s.window_start_us == utc(2026, 10, 24, 23, 0));
    assert_true(s.window_end_us == utc(2026, 10, 26, 0, 0));
    assert_true(eval(cal, z, utc(2026, 10, 25, 23, 59)).peak); /* 23:59 GMT, still Sunday */
    assert_false(eval(cal, z, utc(2026, 10, 26, 0, 0)).peak);
    calendar_destroy(&cal);
}

static void test_new_york(void **state)
{
    (void)state;
    calendar_t *cal = calendar_new();
    const char *z = "America/New_York";
    /* EST: 11:00-18:00 = 16:00Z-23:00Z; EDT a week later: 15:00Z-22:00Z */
    expect_window(cal, z, utc(2026, 3, 7, 17, 0), utc(2026, 3, 7, 16, 0), utc(2026, 3, 7, 23, 0));
    expect_window(cal, z, utc(2026, 3, 14, 17, 0), utc(2026, 3, 14, 15, 0), utc(2026, 3, 14, 22, 0));
    /* Saturday 2026-10-31 (EDT) lasts until Sunday 04:00Z */
    calendar_state_t s = eval(cal, z, utc(2026, 11, 1, 3, 59));
    assert_true(s.peak_day);
    assert_string_equal(s.local_date, "2026-10-31");
    assert_false(eval(cal, z, utc(2026, 11, 1, 4, 0)).peak_day);
    /* 22:00-02:00 across midnight into the night clocks go back: 22:00 EDT
     * = 02:00Z; 02:00 on Sunday comes after 01:00-01:59 ran twice, so it is
     * 02:00 EST = 07:00Z, a five-hour window that belongs to Saturday. */
    calendar_set_hours(cal, 22 * 60, 2 * 60);
    s = eval(cal, z, utc(2026, 11, 1, 5, 30)); /* 01:30 EDT or EST: in the window */
    assert_true(s.peak);
    assert_true(s.window_start_us == utc(2026, 11, 1, 2, 0));
    assert_true(s.window_end_us == utc(2026, 11, 1, 7, 0));
    assert_true(eval(cal, z, utc(2026, 11, 1, 6, 59)).peak);
    assert_false(eval(cal, z, utc(2026, 11, 1, 7, 0)).peak);
    assert_false(eval(cal, z, utc(2026, 11, 1, 1, 59)).peak); /* 21:59 EDT Saturday */
    calendar_destroy(&cal);
}

static void test_auckland(void **state)
{
    (void)state;
    calendar_t *cal = calendar_new();
    const char *z = "Pacific/Auckland";
    /* Saturday 2026-04-04 (NZDT, +13) starts on Friday 11:00Z */
    assert_false(eval(cal, z, utc(2026, 4, 3, 10, 59)).peak_day);
    calendar_state_t s = eval(cal, z, utc(2026, 4, 3, 11, 0));
    assert_true(s.peak_day);
    assert_string_equal(s.local_date, "2026-04-04");
    expect_window(cal, z, utc(2026, 4, 4, 0, 0), utc(2026, 4, 3, 22, 0), utc(2026, 4, 4, 5, 0));
    /* it ends at Sunday 00:00 NZDT = 11:00Z, three hours before the change */
    assert_true(eval(cal, z, utc(2026, 4, 4, 10, 59)).peak_day);
    assert_false(eval(cal, z, utc(2026, 4, 4, 11, 0)).peak_day);
    /* Saturday 2026-09-26 (NZST, +12): 23:00Z Friday to 06:00Z */
    expect_window(cal, z, utc(2026, 9, 26, 0, 0), utc(2026, 9, 25, 23, 0), utc(2026, 9, 26, 6, 0));
    assert_false(eval(cal, z, utc(2026, 9, 25, 11, 59)).peak_day);
    assert_true(eval(cal, z, utc(2026, 9, 25, 12, 0)).peak_day);
    assert_true(eval(cal, z, utc(2026, 9, 26, 11, 59)).peak_day);
    assert_false(eval(cal, z, utc(2026, 9, 26, 12, 0)).peak_day); /* Sunday 00:00 NZST */
    calendar_destroy(&cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_london),
        cmocka_unit_test(test_new_york),
        cmocka_unit_test(test_auckland),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
