/*
 * test_pbarena.c — decoded messages in one allocation (common/pbarena.c):
 * a message decodes to what protobuf-c's own allocator gives, large ones
 * spill into further chunks, bad input leaves nothing behind, and a copied
 * section outlives the message it came from. Under AddressSanitizer (the
 * suite's build) a stray pointer into a freed arena or past a field fails
 * these tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pbarena.h"
#include "pgvigil.pb-c.h"

/* A sample with n tables (each with three strings) packed into *len bytes. */
static uint8_t *packed_sample(size_t n, size_t *len)
{
    Pgvigil__Sample s = PGVIGIL__SAMPLE__INIT;
    Pgvigil__Tables tables = PGVIGIL__TABLES__INIT;
    Pgvigil__TableStats *rows = calloc(n ? n : 1, sizeof *rows);
    Pgvigil__TableStats **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    char (*names)[32] = calloc(n ? n : 1, sizeof *names);
    assert_true(rows && ptrs && names);
    s.node = "db-1";
    s.region = "eu-west";
    s.has_sequence = 1;
    s.sequence = 42;
    for (size_t i = 0; i < n; i++) {
        pgvigil__table_stats__init(&rows[i]);
        snprintf(names[i], sizeof names[i], "table_%zu", i);
        rows[i].database = "app";
        rows[i].schema = "public";
        rows[i].table = names[i];
        rows[i].has_live_tuples = 1;
        rows[i].live_tuples = i * 1000;
        ptrs[i] = &rows[i];
    }
    tables.n_tables = n;
    tables.tables = ptrs;
    s.tables = &tables;
    *len = pgvigil__sample__get_packed_size(&s);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    pgvigil__sample__pack(&s, buf);
    free(rows);
    free(ptrs);
    free(names);
    return buf;
}

static Pgvigil__Sample *decode(size_t len, const uint8_t *buf)
{
    return (Pgvigil__Sample *)pbarena_unpack(&pgvigil__sample__descriptor, len, buf);
}

/* Packs m again: equal bytes mean an equal message. */
static void assert_packs_to(const Pgvigil__Sample *m, const uint8_t *buf, size_t len)
{
    assert_int_equal(pgvigil__sample__get_packed_size(m), len);
    uint8_t *again = malloc(len);
    assert_non_null(again);
    pgvigil__sample__pack(m, again);
    assert_memory_equal(again, buf, len);
    free(again);
}

static void test_small_and_large_messages_decode_whole(void **state)
{
    (void)state;
    size_t sizes[] = {0, 1, 5, 2000}; /* 2000 tables: far past the first chunk */
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t len;
        uint8_t *buf = packed_sample(sizes[k], &len);
        Pgvigil__Sample *s = decode(len, buf);
        assert_non_null(s);
        assert_string_equal(s->node, "db-1");
        assert_int_equal(s->tables->n_tables, sizes[k]);
        if (sizes[k] == 2000)
            assert_string_equal(s->tables->tables[1999]->table, "table_1999");
        assert_packs_to(s, buf, len);
        assert_true(pbarena_bytes(&s->base) >= len);
        pbarena_free(&s->base);
        free(buf);
    }
}

/* Every cut of a message either decodes or is refused, and a refused one
 * leaves no allocation behind (LeakSanitizer checks at exit). */
static void test_truncated_input_refused_without_leak(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = packed_sample(3, &len);
    size_t refused = 0;
    for (size_t cut = 0; cut < len; cut++) {
        Pgvigil__Sample *s = decode(cut, buf);
        refused += s == NULL;
        pbarena_free(s ? &s->base : NULL);
    }
    assert_true(refused > 0);
    free(buf);
}

/* A section copied into another message lives as long as that message, not
 * as long as the one it came from. */
static void test_copy_outlives_its_source(void **state)
{
    (void)state;
    size_t len_a, len_b;
    uint8_t *a_buf = packed_sample(50, &len_a);
    uint8_t *b_buf = packed_sample(0, &len_b);
    Pgvigil__Sample *a = decode(len_a, a_buf);
    Pgvigil__Sample *b = decode(len_b, b_buf);
    assert_true(a && b);
    size_t before = pbarena_bytes(&b->base);
    b->tables = (Pgvigil__Tables *)pbarena_copy(&b->base, &a->tables->base);
    assert_non_null(b->tables);
    assert_true(b->tables != a->tables);
    assert_true(pbarena_bytes(&b->base) > before);
    pbarena_free(&a->base);
    assert_int_equal(b->tables->n_tables, 50);
    assert_string_equal(b->tables->tables[49]->table, "table_49");
    pbarena_free(&b->base);
    free(a_buf);
    free(b_buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_and_large_messages_decode_whole),
        cmocka_unit_test(test_truncated_input_refused_without_leak),
        cmocka_unit_test(test_copy_outlives_its_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
