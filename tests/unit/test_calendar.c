/*
 * test_calendar.c — peak days in a region's time zone (aggregator/alert/calendar.c):
 * weekdays, explicit dates, windows across midnight, daylight-saving days.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "calendar.h"
#include "calendar_test.h"

static void test_saturday_window_berlin(void **state)
{
    (void)state;
    calendar_t *cal = calendar_new();
    /* 2026-11-28 is a Saturday; Berlin is UTC+1 in November. */
    calendar_state_t s = eval(cal, "Europe/Berlin", utc(2026, 11, 28, 10, 0)); /* 11:00 local */
    assert_true(s.peak);
    assert_true(s.peak_day);
    assert_string_equal(s.local_date, "2026-11-28");
    assert_int_equal(s.local_minute, 11 * 60);
    assert_true(s.window_start_us == utc(2026, 11, 28, 10, 0));
    assert_true(s.window_end_us == utc(2026, 11, 28, 17, 0));
    assert_false(eval(cal, "Europe/Berlin", utc(2026, 11, 28, 9, 59)).peak);  /* 10:59 */
    assert_true(eval(cal, "Europe/Berlin", utc(2026, 11, 28, 16, 59)).peak);  /* 17:59 */
    assert_false(eval(cal, "Europe/Berlin", utc(2026, 11, 28, 17, 0)).peak);  /* 18:00 */
    s = eval(cal, "Europe/Berlin", utc(2026, 11, 27, 12, 0)); /* Friday */
    assert_false(s.peak);
    assert_false(s.peak_day);
    assert_true(s.window_start_us == 0);
    calendar_destroy(&cal);
    assert_null(cal);
}

static void test_local_date_not_utc_date(void **state)
{
    (void)state;
    calendar_t *cal = calendar_new();
    /* Sunday 01:00 UTC is still Saturday 17:00 in Los Angeles (UTC-8). */
    calendar_state_t s = eval(cal, "America/Los_Angeles", utc(2026, 11, 29, 1, 0));
    assert_true(s.peak);
    assert_string_equal(s.local_date, "2026-11-28");
    /* Saturday 12:00 UTC is Saturday 21:00 in Tokyo: after the window. */
    assert_false(eval(cal, "Asia/Tokyo", utc(2026, 11, 28, 12, 0)).peak);
    /* Saturday 01:00 UTC is Saturday 10:00 in Tokyo... and 02:00 UTC is 11:00. */
    assert_false(eval(cal, "Asia/Tokyo", utc(2026, 11, 28, 1, 0)).peak);
    assert_true(eval(cal, "Asia/Tokyo", utc(2026, 11, 28, 2, 0)).peak);
    calendar_destroy(&cal);
}

static void test_explicit_dates_and_weekdays(void **state)
{
    (void)state;
    calendar_t *cal = calendar_new();
    calendar_set_weekdays(cal, 0); /* no weekly peak */
    assert_false(eval(cal, "UTC", utc(2026, 11, 28, 12, 0)).peak);
    assert_int_equal(calendar_add_date(cal, 2026, 12, 2), 0); /* a Wednesday */
    assert_true(eval(cal, "UTC", utc(2026, 12, 2, 12, 0)).peak);
    assert_false(eval(cal, "UTC", utc(2026, 12, 3, 12, 0)).peak);
    calendar_set_weekdays(cal, (1u << 0) | (1u << 6)); /* weekends */
    assert_true(eval(cal, "UTC", utc(2026, 11, 29, 12, 0)).peak);
    calendar_destroy(&cal);
}

static void test_window_across_midnight(void **state)
{
    (void)state;
    calendar_t *cal = calendar_new();
    calendar_set_hours(cal, 22 * 60, 2 * 60);
    assert_true(eval(cal, "UTC", utc(2026, 11, 28, 23, 30)).peak);  /* Saturday night */
    calendar_state_t s = eval(cal, "UTC", utc(2026, 11, 29, 1, 30)); /* Sunday, after midnight */
    assert_true(s.peak);
    assert_false(s.peak_day);
    assert_true(s.window_start_us == utc(2026, 11, 28, 22, 0));
    assert_true(s.window_end_us == utc(2026, 11, 29, 2, 0));
    assert_false(eval(cal, "UTC", utc(2026, 11, 29, 2, 0)).peak);
    assert_false(eval(cal, "UTC", utc(2026, 11, 27, 23, 30)).peak); /* Friday night */
    assert_false(eval(cal, "UTC", utc(2026, 11, 28, 1, 0)).peak);   /* Saturday early */
    calendar_set_hours(cal, 0, 0); /* the whole day */
    assert_true(eval(cal, "UTC", utc(2026, 11, 28, 0, 0)).peak);
    assert_true(eval(cal, "UTC", utc(2026, 11, 28, 23, 59)).peak);
    assert_false(eval(cal, "UTC", utc(2026, 11, 29, 0, 0)).peak);
    calendar_destroy(&cal);
}

static void test_daylight_saving_days(void **state)
{
    (void)state;
    calendar_t *cal = calendar_new();
    calendar_set_weekdays(cal, 1u << 0); /* Sundays, when Europe changes clocks */
    calendar_set_hours(cal, 60, 4 * 60);   /* 01:00-04:00 local */
    /* 2026-03-29: 02:00 CET -> 03:00 CEST. 01:00 CET = 00:00 UTC, 04:00 CEST = 02:00 UTC. */
    calendar_state_t s = eval(cal, "Europe/Berlin", utc(2026, 3, 29, 1, 0));
    assert_true(s.peak);
    assert_true(s.window_start_us == utc(2026, 3, 29, 0, 0));
    assert_true(s.window_end_us == utc(2026, 3, 29, 2, 0));
    assert_false(eval(cal, "Europe/Berlin", utc(2026, 3, 29, 2, 0)).peak);
    /* 2026-10-25: 03:00 CEST -> 02:00 CET. 01:00 CEST = 23:00 UTC the day before,
     * 04:00 CET = 03:00 UTC: a four-hour window. */
    s = eval(cal, "Europe/Berlin", utc(2026, 10, 25, 2, 30));
    assert_true(s.peak);
    assert_true(s.window_start_us == utc(2026, 10, 24, 23, 0));
    assert_true(s.window_end_us == utc(2026, 10, 25, 3, 0));
    assert_true(eval(cal, "Europe/Berlin", utc(2026, 10, 24, 23, 0)).peak);
    assert_false(eval(cal, "Europe/Berlin", utc(2026, 10, 24, 22, 59)).peak);
    calendar_destroy(&cal);
}

static void test_zones_and_parsers(void **state)
{
    (void)state;
    calendar_t *cal = calendar_new();
    calendar_state_t s;
    assert_true(calendar_zone_valid("Europe/Berlin"));
    assert_true(calendar_zone_valid("UTC"));
    assert_false(calendar_zone_valid("Mars/Olympus_Mons"));
    assert_false(calendar_zone_valid(""));
    assert_int_equal(calendar_eval(cal, "Mars/Olympus_Mons", 0, &s), -1);
    calendar_destroy(&cal);

    int wd = -1, y, m, d, a, b;
    assert_int_equal(calendar_parse_weekday("Saturday", &wd), 0);
    assert_int_equal(wd, 6);
    assert_int_equal(calendar_parse_weekday("sun", &wd), 0);
    assert_int_equal(wd, 0);
    assert_int_equal(calendar_parse_weekday("caturday", &wd), -1);
    assert_int_equal(calendar_parse_date("2028-02-29", &y, &m, &d), 0);
    assert_int_equal(y * 10000 + m * 100 + d, 20280229);
    assert_int_equal(calendar_parse_date("2027-02-29", &y, &m, &d), -1);
    assert_int_equal(calendar_parse_date("2027-13-01", &y, &m, &d), -1);
    assert_int_equal(calendar_parse_date("2027-1-01", &y, &m, &d), -1);
    assert_int_equal(calendar_parse_hours("11:00-18:00", &a, &b), 0);
    assert_int_equal(a, 660);
    assert_int_equal(b, 1080);
    assert_int_equal(calendar_parse_hours("22:30-24:00", &a, &b), 0);
    assert_int_equal(b, 1440);
    assert_int_equal(calendar_parse_hours("11-18", &a, &b), -1);
    assert_int_equal(calendar_parse_hours("11:60-18:00", &a, &b), -1);
    assert_int_equal(calendar_parse_hours("24:00-02:00", &a, &b), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saturday_window_berlin),
        cmocka_unit_test(test_local_date_not_utc_date),
        cmocka_unit_test(test_explicit_dates_and_weekdays),
        cmocka_unit_test(test_window_across_midnight),
        cmocka_unit_test(test_daylight_saving_days),
        cmocka_unit_test(test_zones_and_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
