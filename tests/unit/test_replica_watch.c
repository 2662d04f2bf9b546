/*
 * test_replica_watch.c — the replica watch's state (collector/replica_watch.h):
 * which readings count as a change that earns an early round. A pause, a
 * resume, a receiver status change and a promotion do; a replay position
 * standing still behind WAL already received does once (the state
 * "stalled"), and again when replay moves on; WAL that has just arrived is
 * no stall; readings too close together judge no stall. On a primary, WAL
 * that moves again after standing still does, and the next round carries
 * the spell it stood still.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "replica_watch.h"

static replica_watch_reading_t reading(int64_t at_ms, bool paused, const char *status, uint64_t receive,
                                       uint64_t replay)
{
    replica_watch_reading_t r;
    memset(&r, 0, sizeof r);
    r.in_recovery = true;
    r.paused = paused;
    snprintf(r.receiver_status, sizeof r.receiver_status, "%s", status);
    r.has_receive_lsn = r.has_replay_lsn = true;
    r.receive_lsn = receive;
    r.replay_lsn = replay;
    r.read_at_us = at_ms * 1000;
    return r;
}

static bool update(replica_watch_t *w, replica_watch_reading_t r)
{
    return replica_watch_update(&w->state, &r);
}

static void test_pause_and_receiver_changes(void **state)
{
    (void)state;
    replica_watch_t w;
    replica_watch_reset(&w);
    assert_false(update(&w, reading(0, false, "streaming", 100, 100))); /* a baseline */
    assert_false(update(&w, reading(250, false, "streaming", 200, 200)));
    assert_true(update(&w, reading(500, true, "streaming", 300, 300)));   /* pause begins */
    assert_false(update(&w, reading(750, true, "streaming", 400, 400)));  /* once */
    assert_true(update(&w, reading(1000, false, "streaming", 500, 500))); /* pause ends */
    assert_true(update(&w, reading(1250, false, "waiting", 500, 500)));   /* receiver */
    assert_false(update(&w, reading(1500, false, "waiting", 500, 500)));
    replica_watch_reading_t promoted = reading(1750, false, "no receiver", 500, 500);
    promoted.in_recovery = false;
    assert_true(update(&w, reading(1600, false, "no receiver", 500, 500)));
    assert_true(replica_watch_update(&w.state, &promoted));
    replica_watch_reset(&w); /* a dropped connection: the next reading is a baseline again */
    assert_false(update(&w, reading(2000, true, "streaming", 500, 500)));
}

static void test_stall_counts_once(void **state)
{
    (void)state;
    replica_watch_t w;
    replica_watch_reset(&w);
    assert_false(update(&w, reading(0, false, "streaming", 1000, 900)));
    assert_false(update(&w, reading(250, false, "streaming", 2000, 1900))); /* replay moves */
    assert_true(update(&w, reading(500, false, "streaming", 3000, 1900)));  /* replay stands, receive ahead */
    assert_false(update(&w, reading(750, false, "streaming", 4000, 1900))); /* still stalled: no new change */
    assert_false(update(&w, reading(1000, false, "streaming", 5000, 1900)));
    assert_true(update(&w, reading(1250, false, "streaming", 6000, 6000))); /* moving again */
    /* Idle: replay stands but nothing is ahead of it. */
    assert_false(update(&w, reading(1500, false, "streaming", 6000, 6000)));
    assert_false(update(&w, reading(1750, false, "streaming", 6000, 6000)));
    /* A write arrives and is read before its replay: not a stall ... */
    assert_false(update(&w, reading(2000, false, "streaming", 6100, 6000)));
    assert_false(update(&w, reading(2250, false, "streaming", 6100, 6100)));
    /* ... unless replay still has not moved at the next reading. */
    assert_false(update(&w, reading(2500, false, "streaming", 6200, 6100)));
    assert_true(update(&w, reading(2750, false, "streaming", 6200, 6100)));
    /* A pause explains replay standing still: one change, not a stall too. */
    assert_true(update(&w, reading(3000, true, "streaming", 6300, 6300)));
    assert_false(update(&w, reading(3250, true, "streaming", 6400, 6300)));
    assert_false(update(&w, reading(3500, true, "streaming", 6500, 6300)));
}

static void test_close_readings_judge_no_stall(void **state)
{
    (void)state;
    replica_watch_t w;
    replica_watch_reset(&w);
    assert_false(update(&w, reading(0, false, "streaming", 1000, 900)));
    /* 10 ms later (a watch just after a round): replay need not have moved. */
    assert_false(update(&w, reading(10, false, "streaming", 1100, 900)));
    /* Judged against the reading 250 ms back, not the one 10 ms back. */
    assert_false(update(&w, reading(250, false, "streaming", 1200, 1150)));
    assert_true(update(&w, reading(500, false, "streaming", 1300, 1150)));
}

static void test_sample_reading(void **state)
{
    (void)state;
    Pgvigil__ReplicaReplication r = PGVIGIL__REPLICA_REPLICATION__INIT;
    replica_watch_reading_t out;
    r.has_replay_paused = r.replay_paused = 1;
    r.wal_receiver_status = "streaming";
    r.has_receive_lsn = r.has_replay_lsn = 1;
    r.receive_lsn = 20;
    r.replay_lsn = 10;
    replica_watch_from_sample(true, &r, 5, &out);
    assert_true(out.in_recovery && out.paused);
    assert_string_equal(out.receiver_status, "streaming");
    assert_true(out.receive_lsn == 20 && out.replay_lsn == 10 && out.read_at_us == 5);
    replica_watch_from_sample(true, NULL, 5, &out);
    assert_false(out.paused || out.has_replay_lsn);
    assert_string_equal(out.receiver_status, "");
}

static replica_watch_reading_t primary(int64_t at_ms, uint64_t lsn)
{
    replica_watch_reading_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.receiver_status, sizeof r.receiver_status, "no receiver");
    r.has_current_lsn = true;
    r.current_lsn = lsn;
    r.read_at_us = r.read_wall_us = at_ms * 1000;
    return r;
}

/* A round of the primary at_ms: the still spell it carries (0 when none). */
static uint64_t primary_round(replica_watch_t *w, int64_t at_ms, uint64_t lsn, int64_t *from_ms, int64_t *until_ms)
{
    Pgvigil__PrimaryReplication p = PGVIGIL__PRIMARY_REPLICATION__INIT;
    p.has_current_wal_lsn = p.has_measured_at_us = 1;
    p.current_wal_lsn = lsn;
    p.measured_at_us = at_ms * 1000;
    replica_watch_primary_round(w, &p);
    if (!p.has_still_wal_lsn)
        return 0;
    assert_true(p.has_still_from_us && p.has_still_until_us);
    *from_ms = p.still_from_us / 1000;
    *until_ms = p.still_until_us / 1000;
    return p.still_wal_lsn;
}

/* On a primary: WAL moving again after standing still earns a round, which
 * carries the spell; WAL moving all along earns nothing and carries none. */
static void test_primary_wal_resumes(void **state)
{
    (void)state;
    replica_watch_t w;
    int64_t from = 0, until = 0;
    replica_watch_reset(&w);
    assert_int_equal(primary_round(&w, 0, 100, &from, &until), 0);
    assert_false(update(&w, primary(250, 200)));
    assert_false(update(&w, primary(500, 300)));
    assert_int_equal(primary_round(&w, 1000, 400, &from, &until), 0); /* writing all along */
    assert_false(update(&w, primary(1250, 500)));
    assert_false(update(&w, primary(1500, 500))); /* stands */
    assert_false(update(&w, primary(1750, 500)));
    assert_true(update(&w, primary(2000, 510)));  /* writes again */
    assert_false(update(&w, primary(2250, 600))); /* once */
    assert_int_equal(primary_round(&w, 2300, 650, &from, &until), 500);
    assert_int_equal(from, 1250);
    assert_int_equal(until, 1750);
    assert_int_equal(primary_round(&w, 3300, 700, &from, &until), 0); /* told once */
    /* Idle across a round: the spell starts at the round's reading. */
    assert_int_equal(primary_round(&w, 4300, 700, &from, &until), 0);
    assert_false(update(&w, primary(4550, 700)));
    assert_true(update(&w, primary(4800, 720)));
    assert_int_equal(primary_round(&w, 4810, 720, &from, &until), 700);
    assert_int_equal(from, 3300);
    assert_int_equal(until, 4550);
    /* A promotion is a change of state; a primary's watch judges no stall. */
    replica_watch_reset(&w);
    assert_false(update(&w, reading(0, false, "streaming", 900, 800)));
    replica_watch_reading_t promoted = primary(250, 900);
    promoted.has_receive_lsn = promoted.has_replay_lsn = true;
    promoted.receive_lsn = 900;
    promoted.replay_lsn = 800;
    assert_true(replica_watch_update(&w.state, &promoted));
    promoted.read_at_us = promoted.read_wall_us = 500000;
    assert_false(replica_watch_update(&w.state, &promoted));
    promoted.read_at_us = promoted.read_wall_us = 750000;
    assert_false(replica_watch_update(&w.state, &promoted));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_and_receiver_changes),
        cmocka_unit_test(test_stall_counts_once),
        cmocka_unit_test(test_close_readings_judge_no_stall),
        cmocka_unit_test(test_sample_reading),
        cmocka_unit_test(test_primary_wal_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
