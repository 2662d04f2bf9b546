/*
 * test_backup.c — the pure parts of backup verification: the START TIME of
 * a backup_label with its time zone, and pg_verifybackup's output cut to
 * one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "backup.h"

static void test_label_start(void **state)
{
    (void)state;
    int64_t us = 0;
    const char *label = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
                        "CHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\n"
                        "START TIME: 2026-11-23 07:50:01 UTC\nLABEL: pg_basebackup base backup\n";
    assert_int_equal(backup_label_start(label, &us), 0);
    assert_true(us == 1795420201LL * 1000000);
    assert_int_equal(backup_label_start("START TIME: 2026-11-23 09:50:01 +02\n", &us), 0);
    assert_true(us == 1795420201LL * 1000000);
    assert_int_equal(backup_label_start("START TIME: 2026-11-23 02:20:01 -0530\n", &us), 0);
    assert_true(us == 1795420201LL * 1000000);
    /* An abbreviation other than UTC/GMT is ambiguous: the caller falls back. */
    assert_int_equal(backup_label_start("START TIME: 2026-11-23 08:50:01 CET\n", &us), -1);
    assert_int_equal(backup_label_start("LABEL: x\n", &us), -1);
    assert_int_equal(backup_label_start(NULL, &us), -1);
}

static void test_one_line(void **state)
{
    (void)state;
    char *s = backup_one_line("pg_verifybackup: error: \"PG_VERSION\" has checksum mismatch\n"
                              "pg_verifybackup: error: \"global/pg_control\" has size 8193 on disk\n\n", 500);
    assert_string_equal(s, "pg_verifybackup: error: \"PG_VERSION\" has checksum mismatch; "
                           "pg_verifybackup: error: \"global/pg_control\" has size 8193 on disk");
    free(s);
    s = backup_one_line("abcdef\n", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = backup_one_line("\n\n", 10);
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_start),
        cmocka_unit_test(test_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
