/*
 * test_lag.c — replication lag arithmetic (aggregator/fleet/lag.c): interpolation
 * and extrapolation of the primary's position, the idle-then-stall case, row
 * consistency, and the collector clock offset through steps and restarts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdbool.h>
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
    bool est;
    assert_false(lag_primary_lsn_at(r, 0, &p, &est));
    lag_ring_push(r, 10 * S, 1000);
    lag_ring_push(r, 11 * S, 2000);
    lag_ring_push(r, 13 * S, 2000); /* idle for two seconds */
    lag_ring_push(r, 14 * S, 6000);
    assert_true(lag_primary_lsn_at(r, 10 * S + S / 2, &p, &est));
    assert_true(p == 1500 && !est);
    assert_true(lag_primary_lsn_at(r, 12 * S, &p, &est) && p == 2000);
    /* after the idle spell the write is placed in the second half of the segment */
    assert_true(lag_primary_lsn_at(r, 13 * S + S / 4, &p, &est) && p == 2000);
    assert_true(lag_primary_lsn_at(r, 13 * S + 3 * S / 4, &p, &est) && p == 4000);
    assert_true(lag_primary_lsn_at(r, 1 * S, &p, &est) && p == 1000 && !est); /* before the oldest */
    assert_true(lag_time_passed(r, 1500, INT64_MAX) == 10 * S + S / 2);
    /* 2000 was reached at 11 s but only passed after the idle spell */
    assert_true(lag_time_passed(r, 2000, INT64_MAX) == 13 * S + S / 2);
    assert_true(lag_time_passed(r, 4000, INT64_MAX) == 13 * S + 3 * S / 4);
    assert_true(lag_time_passed(r, 4000, 13 * S) == INT64_MAX); /* not yet by then */
    assert_true(lag_time_passed(r, 500, INT64_MAX) == 10 * S); /* older than the ring */
    free(r);
}

static void test_extrapolation_is_flagged_and_revised(void **state)
{
    (void)state;
    lag_ring_t *r = ring();
    for (int i = 0; i <= 10; i++)
        lag_ring_push(r, i * S, (uint64_t)i * 1000000); /* 1 MB/s */
    uint64_t p;
    bool est;
    assert_true(lag_primary_lsn_at(r, 10 * S + S / 2, &p, &est));
    assert_true(est && p == 10500000);
    /* never further than LAG_EXTRAPOLATE_MAX_US */
    assert_true(lag_primary_lsn_at(r, 60 * S, &p, &est));
    assert_true(est && p == 10000000 + (uint64_t)(LAG_EXTRAPOLATE_MAX_US / S) * 1000000);
    lag_observation_t obs = {10 * S + S / 2, true, 10450000, 10400000};
    lag_result_t a, b;
    assert_true(lag_compute(r, &obs, obs.t_us, &a));
    assert_true(a.estimated);
    assert_true(a.bytes == 100000 && a.receive_bytes == 50000 && a.apply_bytes == 50000);
    assert_true(fabs(a.seconds - 0.1) < 1e-3 && fabs(a.receive_seconds - 0.05) < 1e-3);
    /* the next primary point shows the primary slowed down: the same
     * observation is revised, no longer estimated */
    lag_ring_push(r, 11 * S, 10600000);
    assert_true(lag_compute(r, &obs, obs.t_us, &b));
    assert_false(b.estimated);
    assert_true(b.bytes == 50000 && b.apply_bytes == 50000 && b.receive_bytes == 0);
    /* an idle primary at its newest point is held, not extrapolated */
    lag_ring_push(r, 12 * S, 10600000);
    assert_true(lag_primary_lsn_at(r, 13 * S, &p, &est) && est && p == 10600000);
    free(r);
}

static void test_idle_primary_reads_zero(void **state)
{
    (void)state;
    lag_ring_t *r = ring();
    for (int i = 0; i < 100; i++)
        lag_ring_push(r, i * S, 5000); /* nothing written for 100 s */
    lag_result_t res;
    lag_observation_t obs = {150 * S, true, 5000, 5000};
    assert_true(lag_compute(r, &obs, obs.t_us, &res));
    assert_true(res.bytes == 0 && res.seconds == 0 && res.receive_seconds == 0);
    assert_true(res.receive_bytes == 0 && res.apply_bytes == 0);
    free(r);
}

/* The primary idles at L for 29 s, then writes 1.3 kB at 29.4 s that the
 * replica (cut off) never gets; at 30.7 s the truth is 1.3 s, where counting
 * from when the primary reached L read 30.7 s. */
static void test_idle_then_stall(void **state)
{
    (void)state;
    lag_ring_t *r = ring();
    const uint64_t L = 0x3000000;
    for (int i = 0; i <= 29; i++)
        lag_ring_push(r, i * S, L);
    lag_ring_push(r, 30 * S, L + 1300);
    lag_observation_t obs = {30 * S + 7 * S / 10, true, L, L};
    lag_result_t res;
    assert_true(lag_compute(r, &obs, obs.t_us, &res));
    assert_true(res.bytes == 1300 && res.receive_bytes == 1300 && res.apply_bytes == 0);
    assert_true(fabs(res.seconds - 1.3) <= 0.5);
    assert_true(fabs(res.receive_seconds - res.seconds) < 1e-9);
    /* a second later, with nothing new: one more second */
    lag_result_t later;
    assert_true(lag_compute(r, &obs, obs.t_us + S, &later));
    assert_true(fabs(later.seconds - res.seconds - 1.0) < 1e-6);
    free(r);
}

/* The collector's watch saw the WAL still standing at 29.75 s: writing
 * resumed within the last quarter second before the 30 s point, not
 * anywhere in the second before it. A spell that ends where the ring already
 * stands adds only its end; one at a new position adds both ends. */
static void test_still_spell_places_the_write(void **state)
{
    (void)state;
    lag_ring_t *r = ring();
    const uint64_t L = 0x3000000;
    lag_observation_t obs = {30 * S + S / 2, true, L, L};
    lag_result_t res;
    for (int i = 0; i <= 29; i++)
        lag_ring_push(r, i * S, L);
    lag_ring_push(r, 30 * S, L + 1300);
    assert_true(lag_compute(r, &obs, obs.t_us, &res));
    assert_true(fabs(res.seconds - 1.0) < 1e-6); /* half the second before 30 s */
    lag_ring_reset(r);
    for (int i = 0; i <= 29; i++)
        lag_ring_push(r, i * S, L);
    lag_ring_push_still(r, 29 * S + S / 4, 29 * S + 3 * S / 4, L);
    assert_int_equal(r->n, 31);
    lag_ring_push(r, 30 * S, L + 1300);
    assert_true(lag_compute(r, &obs, obs.t_us, &res));
    assert_true(fabs(res.seconds - 0.625) < 1e-6); /* from 29.875 s */
    /* a spell at a position the ring has not stood at: both ends */
    lag_ring_reset(r);
    lag_ring_push(r, 0, L - 500);
    lag_ring_push_still(r, S / 4, 3 * S / 4, L);
    lag_ring_push(r, S, L + 1300);
    assert_int_equal(r->n, 4);
    lag_observation_t at_l = {S + S / 2, true, L, L};
    assert_true(lag_compute(r, &at_l, at_l.t_us, &res));
    assert_true(fabs(res.seconds - 0.625) < 1e-6);
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
    lag_observation_t oa = {20 * S, true, 20000000, 10000000}, ob = {30 * S, true, 30000000, 10000000};
    assert_true(lag_compute(r, &oa, oa.t_us, &a));
    assert_true(lag_compute(r, &ob, ob.t_us, &b));
    assert_true(a.bytes == 10000000);
    assert_true(a.seconds > 9.999 && a.seconds < 10.001);
    assert_true(b.seconds - a.seconds > 9.999 && b.seconds - a.seconds < 10.001);
    assert_true(a.receive_bytes == 0 && a.receive_seconds == 0); /* the network keeps up */
    assert_true(a.apply_bytes == 10000000);
    /* the primary then goes idle: lag seconds keeps growing while behind */
    for (int i = 41; i <= 60; i++)
        lag_ring_push(r, i * S, 40000000);
    lag_result_t c;
    lag_observation_t oc = {60 * S, true, 40000000, 10000000};
    assert_true(lag_compute(r, &oc, oc.t_us, &c));
    assert_true(c.bytes == 30000000);
    assert_true(c.seconds > 49.99 && c.seconds < 50.01);
    /* evaluated later than the observation (a paused replica between samples) */
    assert_true(lag_compute(r, &oa, 25 * S, &c));
    assert_true(c.bytes == 15000000 && c.seconds > 14.999 && c.seconds < 15.001);
    /* once replayed, zero */
    lag_observation_t od = {61 * S, true, 40000000, 40000000};
    assert_true(lag_compute(r, &od, od.t_us, &c));
    assert_true(c.bytes == 0 && c.seconds == 0);
    free(r);
}

/* Under load the replica is sampled after the primary: its receive position
 * is beyond the primary's newest point. Every row must still add up. */
static void test_row_is_consistent(void **state)
{
    (void)state;
    lag_ring_t *r = ring();
    for (int i = 0; i <= 10; i++)
        lag_ring_push(r, i * S, (uint64_t)i * 1000000);
    const struct {
        int64_t t;
        bool has_receive;
        uint64_t receive, replay;
    } cases[] = {
        {10 * S + 8 * S / 10, true, 10700000, 10400000}, /* receive past the newest point */
        {10 * S + 8 * S / 10, true, 12000000, 10400000}, /* past the extrapolation too */
        {5 * S, true, 5000000, 4000000},
        {5 * S, false, 0, 4000000},
        {9 * S, true, 9000000, 9000000},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lag_observation_t obs = {cases[k].t, cases[k].has_receive, cases[k].receive, cases[k].replay};
        lag_result_t res;
        assert_true(lag_compute(r, &obs, obs.t_us, &res));
        assert_true(res.bytes == res.receive_bytes + res.apply_bytes);
        assert_true(res.seconds >= res.receive_seconds);
        assert_true((res.bytes > 0) == (res.seconds > 0));
    }
    lag_observation_t obs = {cases[0].t, true, cases[0].receive, cases[0].replay};
    lag_result_t res;
    assert_true(lag_compute(r, &obs, obs.t_us, &res));
    assert_true(res.estimated && res.receive_bytes == 100000 && res.apply_bytes == 300000);
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
        lag_offset_add(&o, 1, true_t + 30 * S, true_t + delays[i]);
    }
    int64_t off = lag_offset_estimate(&o);
    assert_true(off == 30 * S - 1000); /* the least delayed sample wins */
    assert_true(lag_offset_recent(&o) == 30 * S - 1000); /* 1000, 12000, 7000 */
    /* mapped replica time is never ahead of when it arrived: no phantom lag */
    lag_ring_t *r = ring();
    for (int i = 0; i < 10; i++)
        lag_ring_push(r, (1000 + i) * S, 7777);
    int64_t replica_sent = 1005 * S + 30 * S;
    lag_observation_t obs = {lag_offset_map(&o, replica_sent, 1005 * S + 3000), true, 7777, 7777};
    assert_true(obs.t_us <= 1005 * S + 3000);
    lag_result_t res;
    assert_true(lag_compute(r, &obs, obs.t_us, &res));
    assert_true(res.bytes == 0 && res.seconds == 0);
    free(r);
}

/* The collector's clock is stepped from +7 s back to true time while it
 * runs: the estimate follows within LAG_OFFSET_SHORT samples, and no
 * sample is dated more than LAG_OFFSET_STEP_US into the past meanwhile. */
static void test_clock_step_back_is_followed(void **state)
{
    (void)state;
    lag_offset_t o = {0};
    int64_t t = 5000 * S;
    for (int i = 0; i < 30; i++, t += S)
        lag_offset_add(&o, 1, t + 7 * S, t + 2000);
    assert_true(llabs(lag_offset_estimate(&o) - 7 * S) < 10000);
    int followed = -1;
    for (int i = 0; i < 10; i++, t += S) {
        lag_offset_add(&o, 1, t, t + 2000 + (i % 2) * 3000);
        int64_t mapped = lag_offset_map(&o, t, t + 2000);
        assert_true(t - mapped <= LAG_OFFSET_STEP_US); /* never dated far into the past */
        if (followed < 0 && llabs(lag_offset_estimate(&o)) < 10000)
            followed = i;
    }
    assert_true(followed >= 0 && followed < LAG_OFFSET_SHORT);
    assert_true(o.steps == 1);
    assert_true(llabs(lag_offset_recent(&o)) < 10000);
    /* a step forward is taken at once, as before */
    lag_offset_add(&o, 1, t + 7 * S, t + 2000);
    assert_true(llabs(lag_offset_estimate(&o) - 7 * S) < 10000);
}

/* A collector restart (a new process start time) restarts the estimate:
 * the first sample of the new process is mapped by its own offset. */
static void test_restart_resets_offset(void **state)
{
    (void)state;
    lag_offset_t o = {0};
    int64_t t = 9000 * S;
    for (int i = 0; i < 20; i++, t += S)
        assert_false(lag_offset_add(&o, 111, t + 7 * S, t + 1000));
    assert_true(lag_offset_add(&o, 222, t, t + 1000)); /* restarted at true time */
    assert_true(llabs(lag_offset_estimate(&o) + 1000) < 10);
    assert_true(llabs(lag_offset_map(&o, t, t + 1000) - t) < 2000);
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
    assert_true(lag_primary_lsn_at(r, 500 * S + S / 2, &p, NULL));
    assert_true(p == base + 500 * 1000 + 500);
    lag_result_t res;
    int64_t t = (int64_t)(LAG_RING_POINTS + 49) * S;
    lag_observation_t old = {t, true, base + 100, base + 100};
    assert_true(lag_compute(r, &old, t, &res)); /* older than ring */
    assert_true(res.bytes == (LAG_RING_POINTS + 49) * 1000ull - 100);
    assert_true(res.lower_bound);
    assert_true(res.seconds > 0 && res.seconds <= (double)LAG_RING_POINTS);
    /* replica "ahead" of the primary's known LSN: no negative lag */
    lag_observation_t ahead = {t, true, UINT64_MAX, UINT64_MAX};
    assert_true(lag_compute(r, &ahead, t, &res));
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
        cmocka_unit_test(test_extrapolation_is_flagged_and_revised),
        cmocka_unit_test(test_idle_primary_reads_zero),
        cmocka_unit_test(test_idle_then_stall),
        cmocka_unit_test(test_still_spell_places_the_write),
        cmocka_unit_test(test_paused_replay_grows_one_second_per_second),
        cmocka_unit_test(test_row_is_consistent),
        cmocka_unit_test(test_clock_offset),
        cmocka_unit_test(test_clock_step_back_is_followed),
        cmocka_unit_test(test_restart_resets_offset),
        cmocka_unit_test(test_large_lsns_and_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
