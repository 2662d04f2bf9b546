/*
 * test_backoff.c — reconnect delays stay within their bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void test_bounds(void **state)
{
    (void)state;
    const double randoms[] = {0.0, 0.25, 0.5, 0.999, 1.0, -1.0};
    for (unsigned attempt = 0; attempt < 70; attempt++) {
        uint64_t ceiling = 1000;
        for (unsigned i = 0; i < attempt && ceiling < 8000; i++)
            ceiling *= 2;
        if (ceiling > 8000)
            ceiling = 8000;
        for (size_t r = 0; r < sizeof randoms / sizeof randoms[0]; r++) {
            uint64_t d = backoff_delay_ms(attempt, 1000, 8000, randoms[r]);
            assert_true(d >= ceiling / 2); /* never an immediate retry storm */
            assert_true(d <= ceiling);     /* never beyond the cap */
        }
    }
}

static void test_growth_and_jitter(void **state)
{
    (void)state;
    assert_true(backoff_delay_ms(0, 1000, 8000, 0) == 500);
    assert_true(backoff_delay_ms(1, 1000, 8000, 0) == 1000);
    assert_true(backoff_delay_ms(2, 1000, 8000, 0) == 2000);
    assert_true(backoff_delay_ms(3, 1000, 8000, 0) == 4000);
    assert_true(backoff_delay_ms(10, 1000, 8000, 0) == 4000);
    assert_true(backoff_delay_ms(10, 1000, 8000, 0.5) == 6000);
    assert_true(backoff_delay_ms(0, 500, 8000, 0.5) > backoff_delay_ms(0, 500, 8000, 0.1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_growth_and_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
