/*
 * test_ingest_ident.c — key binding and the sequence window
 * (aggregator/ingest/ingest_ident.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ingest_ident.h"
#include "store_write.h"

#define SEC 1000000LL
#define T0 (1795000000LL * SEC)

static void test_key_allows_names_and_patterns(void **state)
{
    (void)state;
    assert_true(ingest_ident_key_allows("db-1", "db-1"));
    assert_true(ingest_ident_key_allows("db-0 db-1,db-2", "db-2"));
    assert_true(ingest_ident_key_allows("db-eu-*", "db-eu-7"));
    assert_false(ingest_ident_key_allows("db-eu-*", "db-us-7"));
    assert_false(ingest_ident_key_allows("db-1", "db-10"));
    assert_false(ingest_ident_key_allows("", "db-1"));
    assert_false(ingest_ident_key_allows(NULL, "db-1"));
}

/* The forged sample of issue 14: the victim's process start and 2^62. */
static void test_forged_jump_is_refused(void **state)
{
    (void)state;
    ingest_ident_t *id = ingest_ident_new();
    int64_t started = T0 - 600 * SEC; /* ten minutes ago */
    for (uint64_t q = 1; q <= 100; q++)
        assert_int_equal(ingest_ident_check(id, "db-1", "", started, q, 1000, T0 + (int64_t)q * SEC), INGEST_OK);
    int64_t now = T0 + 101 * SEC;
    assert_int_equal(ingest_ident_check(id, "db-1", "", started, 1ULL << 62, 1000, now), INGEST_SEQUENCE_JUMP);
    assert_int_equal(ingest_ident_check(id, "db-1", "", started, 100 + 5000, 1000, now), INGEST_SEQUENCE_JUMP);
    /* The real collector goes on. */
    assert_int_equal(ingest_ident_check(id, "db-1", "", started, 101, 1000, now), INGEST_OK);
    /* A resend of an older one is not refused (the fleet counts duplicates). */
    assert_int_equal(ingest_ident_check(id, "db-1", "", started, 50, 1000, now), INGEST_OK);
    /* After a 30 s partition the collector may be 30 intervals ahead. */
    assert_int_equal(ingest_ident_check(id, "db-1", "", started, 131, 1000, now + 30 * SEC), INGEST_OK);
    /* A new process is held to what it can have made since its start. */
    assert_int_equal(ingest_ident_check(id, "db-1", "", now, 1ULL << 62, 1000, now + SEC), INGEST_SEQUENCE_JUMP);
    assert_int_equal(ingest_ident_check(id, "db-1", "", now, 1, 1000, now + SEC), INGEST_OK);
    ingest_ident_destroy(&id);
    assert_null(id);
}

static void test_routes(void **state)
{
    (void)state;
    ingest_ident_t *id = ingest_ident_new();
    size_t len = 0;
    assert_null(ingest_ident_route(id, "db-1", &len));
    ingest_ident_set_route(id, "db-1", "\0\1\2\3\4", 5);
    const uint8_t *r = ingest_ident_route(id, "db-1", &len);
    assert_non_null(r);
    assert_int_equal(len, 5);
    assert_int_equal(r[4], 4);
    ingest_ident_destroy(&id);
}

static void test_refused_sqlstates(void **state)
{
    (void)state;
    assert_true(store_write_refused("22021")); /* invalid byte sequence */
    assert_true(store_write_refused("22P04")); /* bad COPY format */
    assert_true(store_write_refused("23502")); /* not null */
    assert_false(store_write_refused("57014")); /* statement timeout: retry */
    assert_false(store_write_refused("08006")); /* connection failure */
    assert_false(store_write_refused(NULL));
}

/* A refused sample and everything after it, until the collector goes back. */
static void test_refusal_lasts_until_the_collector_goes_back(void **state)
{
    (void)state;
    ingest_ident_t *id = ingest_ident_new();
    int64_t started = T0 - 60 * SEC;
    bool remind = true;
    uint64_t from = 99;
    for (uint64_t q = 1; q <= 10; q++)
        assert_int_equal(ingest_ident_check(id, "db-1", "", started, q, 1000, T0), INGEST_OK);
    assert_false(ingest_ident_refusing(id, "db-1", started, 10, T0, &remind, &from));
    assert_false(remind);
    ingest_ident_refuse(id, "db-1", started, 10, 10, T0);
    /* What was already on its way is refused too, without a reminder yet. */
    for (uint64_t q = 11; q <= 14; q++) {
        assert_true(ingest_ident_refusing(id, "db-1", started, q, T0 + SEC, &remind, &from));
        assert_false(remind);
    }
    /* Another node is not concerned. */
    assert_false(ingest_ident_refusing(id, "db-2", started, 11, T0 + SEC, &remind, &from));
    /* A collector that did not hear is told again, after a while. */
    assert_true(ingest_ident_refusing(id, "db-1", started, 15, T0 + 6 * SEC, &remind, &from));
    assert_true(remind);
    assert_int_equal(from, 10);
    assert_true(ingest_ident_refusing(id, "db-1", started, 16, T0 + 7 * SEC, &remind, &from));
    assert_false(remind);
    /* It goes back to the refused one: the refusal ends. */
    assert_false(ingest_ident_refusing(id, "db-1", started, 10, T0 + 8 * SEC, &remind, &from));
    assert_false(ingest_ident_refusing(id, "db-1", started, 11, T0 + 8 * SEC, &remind, &from));
    /* Going back to a later one (the refused one fell out of its queue)
     * ends it as well: anything at or below the highest seen. */
    ingest_ident_refuse(id, "db-1", started, 20, 20, T0 + 9 * SEC);
    assert_true(ingest_ident_refusing(id, "db-1", started, 21, T0 + 9 * SEC, &remind, &from));
    assert_true(ingest_ident_refusing(id, "db-1", started, 22, T0 + 9 * SEC, &remind, &from));
    assert_false(ingest_ident_refusing(id, "db-1", started, 22, T0 + 10 * SEC, &remind, &from));
    /* After samples were shed the collector is told to send everything
     * unacknowledged (0), and reminded of that, not of the sequence seen. */
    ingest_ident_refuse(id, "db-1", started, 25, 0, T0 + 10 * SEC);
    assert_true(ingest_ident_refusing(id, "db-1", started, 26, T0 + 16 * SEC, &remind, &from));
    assert_true(remind);
    assert_int_equal(from, 0);
    assert_false(ingest_ident_refusing(id, "db-1", started, 23, T0 + 17 * SEC, &remind, &from));
    /* A shed message marks a known node once; an unknown name marks nothing. */
    ingest_ident_shed(id, "db-9");
    assert_false(ingest_ident_take_shed(id, "db-9"));
    ingest_ident_shed(id, "db-1");
    assert_true(ingest_ident_take_shed(id, "db-1"));
    assert_false(ingest_ident_take_shed(id, "db-1"));
    /* A new process is never held by its predecessor's refusal. */
    ingest_ident_refuse(id, "db-1", started, 30, 30, T0 + 11 * SEC);
    assert_false(ingest_ident_refusing(id, "db-1", T0 + 11 * SEC, 31, T0 + 12 * SEC, &remind, &from));
    ingest_ident_destroy(&id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_allows_names_and_patterns),
        cmocka_unit_test(test_forged_jump_is_refused),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_refused_sqlstates),
        cmocka_unit_test(test_refusal_lasts_until_the_collector_goes_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
