/*
 * test_partition.c — daily partitions (aggregator/store/partition.c) and COPY
 * text rows (aggregator/store/store_line.c).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "partition.h"
#include "store_line.h"

#define DAY_US (86400LL * 1000000)

static void test_days_and_names(void **state)
{
    (void)state;
    /* 2026-11-23 00:00:00 UTC = 1795392000 */
    int64_t midnight = 1795392000LL * 1000000;
    int32_t day = partition_day(midnight);
    assert_int_equal(partition_day(midnight - 1), day - 1); /* 23:59:59.999999 the day before */
    assert_int_equal(partition_day(midnight + DAY_US - 1), day);
    assert_int_equal(partition_day(0), 0);
    assert_int_equal(partition_day(-1), -1); /* before 1970 rounds down */
    char date[11], name[PARTITION_NAME_MAX];
    partition_date(day, date);
    assert_string_equal(date, "2026-11-23");
    partition_date(day + 1, date);
    assert_string_equal(date, "2026-11-24");
    assert_int_equal(partition_name("node_samples", day, name, sizeof name), 0);
    assert_string_equal(name, "node_samples_p20261123");
    assert_int_equal(partition_name("node_samples", day, name, 10), -1);
    partition_date(partition_day(1835395200LL * 1000000), date); /* leap day 2028-02-29 */
    assert_string_equal(date, "2028-02-29");
}

static void test_parse(void **state)
{
    (void)state;
    int32_t day = 0, back = 0;
    char name[PARTITION_NAME_MAX];
    day = partition_day(1795392000LL * 1000000);
    partition_name("events", day, name, sizeof name);
    assert_int_equal(partition_parse("events", name, &back), 0);
    assert_int_equal(back, day);
    assert_int_equal(partition_parse("node_samples", "node_samples_p20280229", &back), 0);
    assert_int_equal(partition_parse("node_samples", "node_samples_p20270229", &back), -1);
    assert_int_equal(partition_parse("node_samples", "node_samples_p2026112", &back), -1);
    assert_int_equal(partition_parse("node_samples", "node_samples_x20261123", &back), -1);
    assert_int_equal(partition_parse("node_samples", "events_p20261123", &back), -1);
    assert_int_equal(partition_parse("node_samples", "node_samples_p2026112a", &back), -1);
    assert_int_equal(partition_parse("node_samples", "node_samples_p20261323", &back), -1);
}

static void test_retention(void **state)
{
    (void)state;
    assert_false(partition_expired(100, 100, 60));
    assert_false(partition_expired(40, 100, 60)); /* exactly 60 days back: kept */
    assert_true(partition_expired(39, 100, 60));
    assert_false(partition_expired(101, 100, 1));
    assert_true(partition_expired(INT32_MIN, 100, 3650));
}

static void test_copy_line(void **state)
{
    (void)state;
    store_line_t l;
    store_line_init(&l);
    store_line_text(&l, "a\tb\\c\nd\re");
    store_line_text(&l, NULL);
    store_line_int(&l, -42);
    store_line_u64(&l, UINT64_MAX);
    store_line_double(&l, 0.5);
    store_line_double(&l, NAN);
    store_line_bool(&l, true);
    store_line_time(&l, 1795392000LL * 1000000 + 123456);
    store_line_time(&l, -1); /* before the epoch: one microsecond */
    const char *text = store_line_end(&l);
    assert_string_equal(text, "a\\tb\\\\c\\nd\\re\t\\N\t-42\t18446744073709551615\t0.5\t\\N\tt\t"
                              "2026-11-23 00:00:00.123456+00\t1969-12-31 23:59:59.999999+00\n");
    store_line_free(&l);
    store_line_init(&l);
    store_line_text(&l, "");
    assert_string_equal(store_line_end(&l), "\n");
    store_line_free(&l);
}

/* The 1-hour rollups' monthly partitions and their tier's retention. */
static void test_months(void **state)
{
    (void)state;
    char date[11];
    int32_t d = partition_day(1795392000LL * 1000000); /* 2026-11-23 */
    partition_date(partition_month_start(d), date);
    assert_string_equal(date, "2026-11-01");
    partition_date(partition_next_month(d), date);
    assert_string_equal(date, "2026-12-01");
    partition_date(partition_next_month(partition_next_month(d)), date);
    assert_string_equal(date, "2027-01-01"); /* across the year */
    int32_t feb = partition_day(1833062400LL * 1000000); /* 2028-02-01, leap year */
    partition_date(partition_next_month(feb), date);
    assert_string_equal(date, "2028-03-01");
    assert_int_equal(partition_month_start(partition_month_start(d)), partition_month_start(d));
    /* November 2026 ends with 2026-11-30: kept while today - retention < 2026-12-01 */
    int32_t nov = partition_month_start(d), dec1 = partition_next_month(d);
    assert_false(partition_month_expired(nov, dec1 + 729, 730));
    assert_true(partition_month_expired(nov, dec1 + 730, 730));
    /* tiers on their own schedule: 30 days after a day, its raw (2 days) and
     * 1-minute (60 days) and its month's 1-hour (730 days) partitions differ */
    assert_true(partition_expired(d, d + 30, 2));
    assert_false(partition_expired(d, d + 30, 60));
    assert_false(partition_month_expired(nov, d + 30, 730));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_and_names),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_months),
        cmocka_unit_test(test_copy_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
