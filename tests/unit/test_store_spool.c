/*
 * test_store_spool.c — the store's row records and spool file
 * (aggregator/store/store_spool.c): encode/decode round trips, records read back
 * in the order they were appended across a restart, a torn last record cut
 * off, and the file truncated once everything in it has been written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "store_spool.h"

typedef struct {
    char dir[64];
    char path[128];
} spool_fixture_t;

static int spool_setup(void **state)
{
    spool_fixture_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/pgvigil-spool-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof fx->path, "%s/store.spool", fx->dir);
    *state = fx;
    return 0;
}

static int spool_teardown(void **state)
{
    spool_fixture_t *fx = *state;
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Append record "row <i>" for table i % STORE_TABLE_COUNT, day 20000 - i. */
static void append_row(store_spool_t *spool, int i)
{
    char line[32];
    uint8_t rec[STORE_SPOOL_HEADER + 32];
    int n = snprintf(line, sizeof line, "row\t%d\n", i);
    store_spool_encode(rec, i % STORE_TABLE_COUNT, 20000 - i, line, (size_t)n);
    assert_int_equal(store_spool_append(spool, rec, STORE_SPOOL_HEADER + (size_t)n), 0);
}

/* Read the next record and check it is row i. */
static void expect_row(store_spool_t *spool, uint64_t *cursor, uint8_t **buf, size_t *cap, int i)
{
    size_t len = 0;
    char want[32];
    store_spool_record_t rec;
    int n = snprintf(want, sizeof want, "row\t%d\n", i);
    assert_int_equal(store_spool_next(spool, cursor, buf, cap, &len), 1);
    assert_int_equal(store_spool_decode(*buf, len, STORE_TABLE_COUNT, &rec), 0);
    assert_int_equal(rec.table, i % STORE_TABLE_COUNT);
    assert_int_equal(rec.day, 20000 - i);
    assert_int_equal(rec.line_len, (size_t)n);
    assert_memory_equal(rec.line, want, (size_t)n);
}

static void record_round_trip_keeps_table_day_and_line(void **state)
{
    (void)state;
    const char *line = "node\\tname\t2026-11-23 00:00:00+00\t\\N\n";
    size_t n = strlen(line);
    uint8_t buf[128];
    store_spool_record_t rec;
    int32_t days[] = {0, 20415, -1, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        store_spool_encode(buf, STORE_EVENTS, days[i], line, n);
        assert_int_equal(buf[1], (uint8_t)((uint32_t)days[i] & 0xff)); /* little-endian on disk */
        assert_int_equal(store_spool_decode(buf, STORE_SPOOL_HEADER + n, STORE_TABLE_COUNT, &rec),
                         0);
        assert_int_equal(rec.table, STORE_EVENTS);
        assert_int_equal(rec.day, days[i]);
        assert_int_equal(rec.line_len, n);
        assert_memory_equal(rec.line, line, n);
    }
    /* An empty line is a valid record; a short one or an unknown table is not. */
    assert_int_equal(store_spool_decode(buf, STORE_SPOOL_HEADER, STORE_TABLE_COUNT, &rec), 0);
    assert_int_equal(rec.line_len, 0);
    assert_int_equal(store_spool_decode(buf, STORE_SPOOL_HEADER - 1, STORE_TABLE_COUNT, &rec), -1);
    buf[0] = STORE_TABLE_COUNT;
    assert_int_equal(store_spool_decode(buf, STORE_SPOOL_HEADER + n, STORE_TABLE_COUNT, &rec), -1);
}

static void spooled_rows_survive_a_restart_in_order(void **state)
{
    spool_fixture_t *fx = *state;
    store_spool_t *spool = store_spool_new(fx->path);
    assert_non_null(spool);
    assert_int_equal(store_spool_rows(spool), 0);
    for (int i = 0; i < 100; i++)
        append_row(spool, i);
    assert_int_equal(store_spool_sync(spool), 0);
    store_spool_destroy(&spool);
    assert_null(spool);

    spool = store_spool_new(fx->path);
    assert_non_null(spool);
    assert_int_equal(store_spool_rows(spool), 100);
    uint64_t cursor = store_spool_cursor(spool);
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    for (int i = 0; i < 100; i++)
        expect_row(spool, &cursor, &buf, &cap, i);
    assert_int_equal(store_spool_next(spool, &cursor, &buf, &cap, &len), 0);
    free(buf);
    store_spool_destroy(&spool);
}

static void consumed_spool_is_truncated_and_appends_follow_unread_rows(void **state)
{
    spool_fixture_t *fx = *state;
    store_spool_t *spool = store_spool_new(fx->path);
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (int i = 0; i < 10; i++)
        append_row(spool, i);
    uint64_t cursor = store_spool_cursor(spool);
    for (int i = 0; i < 4; i++)
        expect_row(spool, &cursor, &buf, &cap, i);
    assert_int_equal(store_spool_consume(spool, cursor, 4), 0); /* rows 0-3 written */
    assert_int_equal(store_spool_rows(spool), 6);
    assert_true(file_size(fx->path) > 0);
    for (int i = 10; i < 12; i++) /* arrive while the spool is drained */
        append_row(spool, i);
    cursor = store_spool_cursor(spool);
    for (int i = 4; i < 12; i++)
        expect_row(spool, &cursor, &buf, &cap, i);
    assert_int_equal(store_spool_consume(spool, cursor, 8), 0);
    assert_int_equal(store_spool_rows(spool), 0);
    assert_int_equal(file_size(fx->path), 0);
    assert_int_equal(store_spool_cursor(spool), 0);
    append_row(spool, 42); /* the truncated file is reused from its start */
    cursor = store_spool_cursor(spool);
    expect_row(spool, &cursor, &buf, &cap, 42);
    free(buf);
    store_spool_destroy(&spool);
}

static void torn_last_record_is_cut_off(void **state)
{
    spool_fixture_t *fx = *state;
    store_spool_t *spool = store_spool_new(fx->path);
    for (int i = 0; i < 3; i++)
        append_row(spool, i);
    store_spool_destroy(&spool);
    long whole = file_size(fx->path);
    FILE *f = fopen(fx->path, "ab"); /* a crash halfway through a record */
    const uint8_t torn[] = {40, 0, 0, 0, STORE_EVENTS, 1, 2};
    assert_int_equal(fwrite(torn, 1, sizeof torn, f), sizeof torn);
    fclose(f);

    spool = store_spool_new(fx->path);
    assert_non_null(spool);
    assert_int_equal(store_spool_rows(spool), 3);
    assert_int_equal(file_size(fx->path), whole);
    append_row(spool, 3); /* lands right after the last whole record */
    uint64_t cursor = store_spool_cursor(spool);
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (int i = 0; i < 4; i++)
        expect_row(spool, &cursor, &buf, &cap, i);
    free(buf);
    store_spool_destroy(&spool);
}

static void spool_in_missing_directory_fails(void **state)
{
    (void)state;
    assert_null(store_spool_new("/nonexistent-pgvigil-dir/store.spool"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_round_trip_keeps_table_day_and_line),
        cmocka_unit_test_setup_teardown(spooled_rows_survive_a_restart_in_order, spool_setup,
                                        spool_teardown),
        cmocka_unit_test_setup_teardown(consumed_spool_is_truncated_and_appends_follow_unread_rows,
                                        spool_setup, spool_teardown),
        cmocka_unit_test_setup_teardown(torn_last_record_is_cut_off, spool_setup, spool_teardown),
        cmocka_unit_test(spool_in_missing_directory_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
