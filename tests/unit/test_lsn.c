/*
 * test_lsn.c — LSN text conversion and arithmetic (common/lsn.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lsn.h"

static void test_parse_valid(void **state)
{
    (void)state;
    uint64_t v = 1;
    assert_int_equal(lsn_parse("0/0", &v), 0);
    assert_true(v == 0);
    assert_int_equal(lsn_parse("16/B374D848", &v), 0);
    assert_true(v == ((uint64_t)0x16 << 32 | 0xB374D848u));
    assert_int_equal(lsn_parse("ffffffff/ffffffff", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(lsn_parse("0/3000060", &v), 0);
    assert_true(v == 0x3000060);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"", "/", "0/", "/0", "0", "0/0/0", "G/0", "0/1G", "123456789/0",
                         "0/123456789", " 0/0", "0/0 ", "-1/0", "0x1/0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 42;
        assert_int_equal(lsn_parse(bad[i], &v), -1);
    }
    uint64_t v;
    assert_int_equal(lsn_parse(NULL, &v), -1);
}

static void test_format_round_trip(void **state)
{
    (void)state;
    char buf[LSN_TEXT_MAX];
    assert_string_equal(lsn_format(0, buf), "0/0");
    assert_string_equal(lsn_format(0x3000060, buf), "0/3000060");
    assert_string_equal(lsn_format((uint64_t)0x16 << 32 | 0xB374D848u, buf), "16/B374D848");
    assert_string_equal(lsn_format(UINT64_MAX, buf), "FFFFFFFF/FFFFFFFF");
    const uint64_t values[] = {1, 0xFFFFFFFFu, 0x100000000ull, 0x8000000000000000ull, 123456789012345ull};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint64_t back = 0;
        assert_int_equal(lsn_parse(lsn_format(values[i], buf), &back), 0);
        assert_true(back == values[i]);
    }
}

static void test_behind(void **state)
{
    (void)state;
    assert_true(lsn_behind(100, 40) == 60);
    assert_true(lsn_behind(40, 100) == 0);
    assert_true(lsn_behind(UINT64_MAX, 0) == UINT64_MAX);
    assert_true(lsn_behind(0, UINT64_MAX) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_behind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
