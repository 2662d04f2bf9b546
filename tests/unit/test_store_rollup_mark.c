/*
 * test_store_rollup_mark.c — the rollup mark of a node_samples COPY line
 * (store_rollup_mark_line in aggregator/store/store_rollup.c): a batch
 * written by COPY straight into node_samples marks the minutes it wrote
 * from its lines (whose times store_line_time writes, checked here too),
 * so the mark must be the sample's UTC minute and node, and
 * any line not in the expected shape must be refused (the batch then goes
 * through the staging tables, marked by SQL) rather than marked wrongly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_line.h"
#include "store_rollup.h"

/* The mark of line as a NUL-terminated string in out; its length or -1. */
static int mark_of(const char *line, char *out, size_t cap)
{
    int n = store_rollup_mark_line(line, strlen(line), out, cap - 1);
    if (n >= 0)
        out[n] = '\0';
    return n;
}

static void mark_is_the_node_and_utc_minute(void **state)
{
    (void)state;
    char out[256];
    const char *line = "db-eu-1\t2026-11-29 16:46:40.187610+00\t1\t7300000000000000000\teu\tprimary\tt\t1"
                       "\t2026-11-29 16:46:40.187975+00\t\\N\t{1,NULL}\t34\n";
    assert_int_equal(mark_of(line, out, sizeof out), (int)strlen("db-eu-1\t2026-11-29 16:46:00+00\n"));
    assert_string_equal(out, "db-eu-1\t2026-11-29 16:46:00+00\n");
}

static void mark_keeps_the_node_escaped_as_in_the_line(void **state)
{
    (void)state;
    char out[256];
    assert_true(mark_of("a\\\\b\\tc\t2026-01-01 00:00:59.999999+00\t1\n", out, sizeof out) > 0);
    assert_string_equal(out, "a\\\\b\\tc\t2026-01-01 00:00:00+00\n");
}

static void mark_of_a_line_written_by_store_line(void **state)
{
    (void)state;
    store_line_t l;
    store_line_init(&l);
    store_line_text(&l, "node-7");
    store_line_time(&l, INT64_C(1795970859) * 1000000 + 250000); /* 2026-11-29 16:47:39.25 UTC */
    store_line_int(&l, 3);
    const char *text = store_line_end(&l);
    assert_non_null(text);
    assert_string_equal(text, "node-7\t2026-11-29 16:47:39.250000+00\t3\n");
    char out[256];
    assert_true(mark_of(text, out, sizeof out) > 0);
    assert_string_equal(out, "node-7\t2026-11-29 16:47:00+00\n");
    store_line_free(&l);
    /* Before the epoch and the first second of a year, as snprintf wrote them. */
    store_line_init(&l);
    store_line_time(&l, INT64_C(-1));
    store_line_time(&l, INT64_C(1798761600) * 1000000); /* 2027-01-01 00:00:00 UTC */
    text = store_line_end(&l);
    assert_non_null(text);
    assert_string_equal(text, "1969-12-31 23:59:59.999999+00\t2027-01-01 00:00:00.000000+00\n");
    store_line_free(&l);
}

static void lines_in_another_shape_are_refused(void **state)
{
    (void)state;
    char out[256];
    static const char *const bad[] = {
        "",
        "no-tab-at-all",
        "\t2026-11-29 16:46:40.187610+00\t1\n",       /* empty node */
        "n\t2026-11-29 16:46:40.187610+00\n",         /* collected_at is the last field */
        "n\t2026-11-29T16:46:40.187610Z\t1\n",        /* not store_line_time's form */
        "n\t2026-11-29 16:46:40.187610+01\t1\n",      /* not UTC */
        "n\t\\N\t1\n",                                /* NULL */
        "n\t2026-11-29 16:4x:40.187610+00\t1\n",      /* not a digit */
        "n\t2026-11-29 16:46+00\t1\n",                /* too short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mark_of(bad[i], out, sizeof out), -1);
}

static void a_mark_that_does_not_fit_is_refused(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(mark_of("db-eu-1\t2026-11-29 16:46:40.187610+00\t1\n", out, sizeof out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mark_is_the_node_and_utc_minute),
        cmocka_unit_test(mark_keeps_the_node_escaped_as_in_the_line),
        cmocka_unit_test(mark_of_a_line_written_by_store_line),
        cmocka_unit_test(lines_in_another_shape_are_refused),
        cmocka_unit_test(a_mark_that_does_not_fit_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
