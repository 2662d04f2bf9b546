/*
 * test_lag.c — replication lag arithmetic (aggregator/fleet/lag.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lag.h"

#define S 1000000LL /* one second in µs */

static lag_ring_t *ring(void)
{
    lag_ring_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    return r;
}

static void test_interpolation(void **state)
{
    (void)state;
    lag_ring_t *r = ring();
    uint64_t p;
    assert_false(lag_primary_lsn_at(r, 0, &p));
    lag_ring_push(r, 10 * S, 1000);
    lag_ring_push(r, 11 * S, 2000);
    lag_ring_push(r, 13 * S, 2000); /* idle for two seconds */
    lag_ring_push(r, 14 * S, 6000);
    assert_true(lag_primary_lsn_at(r, 10 * S + S / 2, &p));
    assert_true(p == 1500);
    assert_true(lag_primary_lsn_at(r, 12 * S, &p) && p == 2000);
    assert_true(lag_primary_lsn_at(r, 13 * S + S / 4, &p) && p == 3000);
    assert_true(lag_primary_lsn_at(r, 99 * S, &p) && p == 6000); /* held after the newest */
    assert_true(lag_primary_lsn_at(r, 1 * S, &p) && p == 1000);  /* before the oldest */
    assert_true(lag_time_reached(r, 1500) == 10 * S + S / 2);
    assert_true(lag_time_reached(r, 2000) == 11 * S); /* first reached, not the idle end */
    assert_true(lag_time_reached(r, 4000) == 13 * S + S / 2);
    assert_true(lag_time_reached(r, 500) == 10 * S);  /* older than the ring */
    assert_true(lag_time_reached(r, 7000) == INT64_MAX);
    free(r);
}

static void test_idle_primary_reads_zero(void **state)
{
    (void)state;
    lag_ring_t *r = ring();
    for (int i = 0; i < 100; i++)
        lag_ring_push(r, i * S, 5000); /* nothing written for 100 s */
    lag_result_t res;
    assert_true(lag_compute(r, 150 * S, true, 5000, 5000, &res));
    assert_true(res.bytes == 0);
    assert_true(res.seconds == 0);
    assert_true(res.receive_bytes == 0 && res.apply_bytes == 0);
    free(r);
}

static void test_paused_replay_grows_one_second_per_second(void **state)
{
    (void)state;
    lag_ring_t *r = ring();
    /* primary writes 1 MB/s; the replica stopped replaying at LSN 10 MB (t = 10 s) */
    for (int i = 0; i <= 40; i++)
        lag_ring_push(r, i * S, (uint64_t)i * 1000000);
    lag_result_t a, b;
    assert_true(lag_compute(r, 20 * S, true, 20000000, 10000000, &a));
    assert_true(lag_compute(r, 30 * S, true, 30000000, 10000000, &b));
    assert_true(a.bytes == 10000000);
    assert_true(a.seconds > 9.999 && a.seconds < 10.001);
    assert_true(b.seconds - a.seconds > 9.999 && b.seconds - a.seconds < 10.001);
    assert_true(a.receive_bytes == 0); /* the network keeps up */
    assert_true(a.apply_bytes == 10000000);
    /* the primary then goes idle: lag seconds keeps growing while behind */
    lag_result_t c;
    assert_true(lag_compute(r, 60 * S, true, 40000000, 10000000, &c));
    assert_true(c.bytes == 30000000);
    assert_true(c.seconds > 49.99 && c.seconds < 50.01);
    /* once replayed, zero */
    assert_true(lag_compute(r, 61 * S, true, 40000000, 40000000, &c));
    assert_true(c.bytes == 0 && c.seconds == 0);
    free(r);
}

static void test_clock_offset(void **state)
{
    (void)state;
    lag_offset_t o = {0};
    assert_true(lag_offset_estimate(&o) == 0);
    /* a collector 30 s ahead, transit delays of 1-20 ms */
    const int64_t delays[] = {5000, 20000, 1000, 12000, 7000};
    for (int i = 0; i < 5; i++) {
        int64_t true_t = 1000 * S + i * S;
        lag_offset_add(&o, true_t + 30 * S, true_t + delays[i]);
    }
    int64_t off = lag_offset_estimate(&o);
    assert_true(off == 30 * S - 1000); /* the least delayed sample wins */
    /* mapped replica time is never ahead of when it arrived: no phantom lag */
    lag_ring_t *r = ring();
    for (int i = 0; i < 10; i++)
        lag_ring_push(r, (1000 + i) * S, 7777);
    int64_t replica_sent = 1005 * S + 30 * S;
    lag_result_t res;
    assert_true(lag_compute(r, replica_sent - off, true, 7777, 7777, &res));
    assert_true(res.bytes == 0 && res.seconds == 0);
    free(r);
}

static void test_large_lsns_and_wrap(void **state)
{
    (void)state;
    lag_ring_t *r = ring();
    const uint64_t base = UINT64_MAX - 10 * (uint64_t)LAG_RING_POINTS * 1000;
    for (size_t i = 0; i < LAG_RING_POINTS + 50; i++) /* overflows the ring */
        lag_ring_push(r, (int64_t)i * S, base + i * 1000);
    assert_int_equal(r->n, LAG_RING_POINTS);
    uint64_t p;
    assert_true(lag_primary_lsn_at(r, 500 * S + S / 2, &p));
    assert_true(p == base + 500 * 1000 + 500);
    lag_result_t res;
    int64_t t = (int64_t)(LAG_RING_POINTS + 49) * S;
    assert_true(lag_compute(r, t, true, base + 100, base + 100, &res)); /* older than ring */
    assert_true(res.bytes == (LAG_RING_POINTS + 49) * 1000ull - 100);
    assert_true(res.seconds > 0 && res.seconds <= (double)LAG_RING_POINTS);
    /* replica "ahead" of the primary's known LSN: no negative lag */
    assert_true(lag_compute(r, t, true, UINT64_MAX, UINT64_MAX, &res));
    assert_true(res.bytes == 0 && res.seconds == 0);
    /* a lower LSN restarts the ring (new primary) */
    lag_ring_push(r, t + S, 42);
    assert_int_equal(r->n, 1);
    /* out-of-order point ignored */
    lag_ring_push(r, t, 50);
    assert_int_equal(r->n, 1);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interpolation),
        cmocka_unit_test(test_idle_primary_reads_zero),
        cmocka_unit_test(test_paused_replay_grows_one_second_per_second),
        cmocka_unit_test(test_clock_offset),
        cmocka_unit_test(test_large_lsns_and_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
