/*
 * test_ingest_queue.c — the coalescing queue between ingest and the core
 * (aggregator/ingest/ingest_queue.c): the newest sample of a node wins and
 * keeps its place, slow sections survive coalescing, the byte budget evicts
 * the oldest, and every sample put is accounted for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest_queue.h"
#include "pbarena.h"

/* A heap sample as protobuf-c's unpack would give it (freed by the queue). */
static Pgvigil__Sample *sample(const char *node, uint64_t sequence, bool with_databases)
{
    Pgvigil__Sample s = PGVIGIL__SAMPLE__INIT;
    Pgvigil__Databases dbs = PGVIGIL__DATABASES__INIT;
    Pgvigil__Probe probe = PGVIGIL__PROBE__INIT;
    uint8_t buf[1024];
    s.node = (char *)node;
    s.region = "eu";
    s.has_sequence = 1;
    s.sequence = sequence;
    probe.has_rtt_us = 1;
    probe.rtt_us = sequence;
    s.probe = &probe;
    if (with_databases)
        s.databases = &dbs;
    size_t len = pgvigil__sample__pack(&s, buf);
    Pgvigil__Sample *out = (Pgvigil__Sample *)pbarena_unpack(&pgvigil__sample__descriptor, len, buf);
    assert_non_null(out);
    return out;
}

/* Put s at the cost the ingest path gives it (from its packed size). */
static bool put(ingest_queue_t *q, Pgvigil__Sample *s, int64_t at, ingest_queue_counts_t *c)
{
    return ingest_queue_put(q, s, ingest_queue_cost(pgvigil__sample__get_packed_size(s)), at, c);
}

static uint64_t take(ingest_queue_t *q, const char *expect_node, uint32_t expect_coalesced)
{
    int64_t at;
    uint32_t coalesced;
    Pgvigil__Sample *s = ingest_queue_peek(q, &at, &coalesced);
    assert_non_null(s);
    assert_string_equal(s->node, expect_node);
    assert_int_equal(coalesced, expect_coalesced);
    ingest_queue_pop(q);
    uint64_t seq = s->sequence;
    pbarena_free(&s->base);
    return seq;
}

static void newest_sample_of_a_node_wins_and_keeps_its_place(void **state)
{
    (void)state;
    ingest_queue_counts_t c = {0};
    ingest_queue_t *q = ingest_queue_new(1 << 20);
    assert_true(put(q, sample("a", 1, false), 10, &c));
    assert_true(put(q, sample("b", 1, false), 11, &c));
    assert_true(put(q, sample("a", 2, false), 12, &c));
    assert_true(put(q, sample("a", 3, false), 13, &c));
    assert_int_equal(ingest_queue_count(q), 2);
    assert_int_equal(c.coalesced, 2);
    assert_int_equal(c.dropped, 0);
    assert_int_equal(take(q, "a", 2), 3); /* first in line, newest sample */
    assert_int_equal(take(q, "b", 0), 1);
    assert_null(ingest_queue_peek(q, &(int64_t){0}, &(uint32_t){0}));
    assert_int_equal(ingest_queue_bytes(q), 0);
    ingest_queue_destroy(&q);
    assert_null(q);
}

static void slow_sections_survive_coalescing(void **state)
{
    (void)state;
    ingest_queue_counts_t c = {0};
    ingest_queue_t *q = ingest_queue_new(1 << 20);
    put(q, sample("a", 1, true), 10, &c);
    put(q, sample("a", 2, false), 11, &c);
    int64_t at;
    uint32_t n;
    Pgvigil__Sample *s = ingest_queue_peek(q, &at, &n);
    assert_int_equal(s->sequence, 2);
    assert_int_equal(s->probe->rtt_us, 2); /* fast section: the newer one */
    assert_non_null(s->databases);         /* slow section: kept from the older */
    assert_int_equal(at, 11);
    ingest_queue_destroy(&q); /* frees the waiting sample */
}

static void budget_evicts_the_oldest_and_every_sample_is_counted(void **state)
{
    (void)state;
    ingest_queue_counts_t c = {0};
    Pgvigil__Sample *probe = sample("n-0", 1, false);
    size_t cost = ingest_queue_cost(pgvigil__sample__get_packed_size(probe));
    pbarena_free(&probe->base);
    ingest_queue_t *q = ingest_queue_new(10 * cost + cost / 2); /* ten fit */
    uint64_t puts = 0, taken = 0;
    char name[16];
    for (int round = 1; round <= 3; round++)
        for (int i = 0; i < 25; i++, puts++) {
            snprintf(name, sizeof name, "n-%d", i);
            put(q, sample(name, (uint64_t)round, false), round, &c);
            assert_true(ingest_queue_bytes(q) <= 10 * cost + cost / 2);
        }
    assert_int_equal(ingest_queue_count(q), 10);
    assert_int_equal(take(q, "n-15", 0), 3); /* the ten newest nodes remain */
    taken++;
    while (ingest_queue_count(q)) {
        int64_t at;
        uint32_t n;
        Pgvigil__Sample *s = ingest_queue_peek(q, &at, &n);
        ingest_queue_pop(q);
        pbarena_free(&s->base);
        taken++;
    }
    assert_int_equal(puts, taken + c.coalesced + c.dropped);
    ingest_queue_destroy(&q);
}

static void a_sample_larger_than_the_budget_is_dropped(void **state)
{
    (void)state;
    ingest_queue_counts_t c = {0};
    ingest_queue_t *q = ingest_queue_new(16);
    assert_false(put(q, sample("a", 1, false), 1, &c));
    assert_int_equal(c.dropped, 1);
    assert_int_equal(ingest_queue_count(q), 0);
    ingest_queue_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(newest_sample_of_a_node_wins_and_keeps_its_place),
        cmocka_unit_test(slow_sections_survive_coalescing),
        cmocka_unit_test(budget_evicts_the_oldest_and_every_sample_is_counted),
        cmocka_unit_test(a_sample_larger_than_the_budget_is_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
