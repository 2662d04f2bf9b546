/*
 * test_store_rows_number.c — history values as text (store_rows_number in
 * aggregator/store/store_rows.c): the fast path for whole numbers must
 * write exactly what printf's "%.9g" writes (PostgreSQL then rounds the
 * same text to the same real), for every kind of value a sample carries,
 * and refuse a buffer too small rather than write past it.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store_rows.h"

static void assert_like_printf(double value)
{
    char fast[64], slow[64];
    snprintf(slow, sizeof slow, "%.9g", value);
    int n = store_rows_number(value, fast, sizeof fast);
    if (n != (int)strlen(slow) || strcmp(fast, slow) != 0)
        fail_msg("value %.17g: \"%s\" (%d), printf \"%s\"", value, fast, n, slow);
}

static void whole_numbers_print_as_printf_does(void **state)
{
    (void)state;
    static const double values[] = {0,          1,           -1,        7,          10,
                                    99,         100,         4064,      -4064,      65535,
                                    123456789,  -123456789,  999999999, -999999999, 1000000000,
                                    -1000000000, 1e15,       2.8735533e13, 16777217, 4294967296.0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        assert_like_printf(values[i]);
    for (int64_t v = -100000; v <= 100000; v += 7)
        assert_like_printf((double)v);
    for (double v = 1; v < 1e12; v = v * 3 + 1)
        assert_like_printf(v);
}

static void fractions_and_extremes_print_as_printf_does(void **state)
{
    (void)state;
    static const double values[] = {0.2,     0.001507, -0.5,    1.5,     0.3,        1e-7,
                                    FLT_MAX, FLT_MIN,  -0.0,    3.14159, 999999999.5, -999999999.5,
                                    1e300,   NAN,      INFINITY};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        assert_like_printf(values[i]);
}

static void a_buffer_too_small_is_refused(void **state)
{
    (void)state;
    char buf[4];
    assert_int_equal(store_rows_number(1234, buf, sizeof buf), -1);
    assert_int_equal(store_rows_number(-123, buf, sizeof buf), -1);
    assert_int_equal(store_rows_number(123, buf, sizeof buf), 3);
    assert_string_equal(buf, "123");
    assert_int_equal(store_rows_number(0.25, buf, sizeof buf), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_numbers_print_as_printf_does),
        cmocka_unit_test(fractions_and_extremes_print_as_printf_does),
        cmocka_unit_test(a_buffer_too_small_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
