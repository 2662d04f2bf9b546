/*
 * test_ingest_acks.c — acknowledgements gathered during a burst are sent
 * one per collector process (aggregator/ingest/ingest_acks.c): interleaved
 * marks of several nodes and processes come out grouped, each group's
 * sequences ascending, every mark exactly once, and the batch is empty after
 * a flush.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest_acks.h"

typedef struct {
    char node[STORE_MARK_NODE_MAX];
    int64_t started;
    uint64_t seqs[64];
    size_t n;
} sent_t;

typedef struct {
    sent_t sent[32];
    size_t count;
} sink_t;

static void sink_send(void *arg, const char *node, int64_t started_at_us, uint64_t *sequences, size_t n)
{
    sink_t *k = arg;
    assert_true(k->count < 32 && n <= 64);
    sent_t *s = &k->sent[k->count++];
    snprintf(s->node, sizeof s->node, "%s", node);
    s->started = started_at_us;
    memcpy(s->seqs, sequences, n * sizeof *sequences);
    s->n = n;
}

static void add(ingest_acks_t *a, const char *node, int64_t started, uint64_t seq)
{
    store_mark_t m = {.started_at_us = started, .sequence = seq};
    snprintf(m.node, sizeof m.node, "%s", node);
    assert_int_equal(ingest_acks_add(a, &m), 0);
}

static void test_grouped_per_process(void **state)
{
    (void)state;
    ingest_acks_t *a = ingest_acks_new();
    sink_t k = {0};
    /* db-b restarted (process 2000) while its old process's samples were
     * still being acknowledged; db-a's arrive out of order. */
    add(a, "db-b", 1000, 7);
    add(a, "db-a", 500, 3);
    add(a, "db-b", 2000, 1);
    add(a, "db-a", 500, 1);
    add(a, "db-b", 1000, 8);
    add(a, "db-a", 500, 2);
    assert_int_equal(ingest_acks_count(a), 6);
    ingest_acks_flush(a, sink_send, &k);
    assert_int_equal(k.count, 3);
    assert_string_equal(k.sent[0].node, "db-a");
    assert_int_equal(k.sent[0].n, 3);
    assert_int_equal(k.sent[0].seqs[0], 1);
    assert_int_equal(k.sent[0].seqs[2], 3);
    assert_string_equal(k.sent[1].node, "db-b");
    assert_int_equal(k.sent[1].started, 1000);
    assert_int_equal(k.sent[1].n, 2);
    assert_int_equal(k.sent[2].started, 2000);
    assert_int_equal(k.sent[2].n, 1);
    assert_int_equal(ingest_acks_count(a), 0);
    ingest_acks_flush(a, sink_send, &k); /* nothing new: nothing sent */
    assert_int_equal(k.count, 3);
    ingest_acks_destroy(&a);
    assert_null(a);
}

/* More marks than the first allocation, many nodes: each exactly once. */
static void test_every_mark_once(void **state)
{
    (void)state;
    ingest_acks_t *a = ingest_acks_new();
    sink_t k = {0};
    char name[16];
    for (uint64_t seq = 1; seq <= 40; seq++)
        for (int n = 0; n < 20; n++) {
            snprintf(name, sizeof name, "n%02d", n);
            add(a, name, 1, seq);
        }
    ingest_acks_flush(a, sink_send, &k);
    assert_int_equal(k.count, 20);
    for (size_t i = 0; i < k.count; i++) {
        assert_int_equal(k.sent[i].n, 40);
        for (size_t j = 0; j < 40; j++)
            assert_int_equal(k.sent[i].seqs[j], j + 1);
    }
    ingest_acks_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouped_per_process),
        cmocka_unit_test(test_every_mark_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
