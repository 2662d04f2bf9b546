/*
 * test_fleet_lag.c — the fleet's lag of a replica: between samples
 * (fleet_paused_lag_now) it grows with the clock once the primary has
 * written past the replay position of a paused or stuck replica, and is not
 * extrapolated when replay runs, when the primary is idle, or when the node
 * is stale; an estimated figure is revised by the next primary point (and
 * only the revised one is stored); a collector restart restarts its clock
 * offset; a missing WAL receiver has a named state; a paused replica asks
 * its primary for fast rounds in the first seconds of the pause.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet.h"
#include "pbarena.h"
#include "snapshot.h"

#define S 1000000LL
#define SYSID 7301234567890123456ull

static uint64_t seq[2];

/* A sample as ingest hands it over: unpacked, owned by the fleet. */
static Pgvigil__Sample *sample(bool primary, int64_t t, uint64_t lsn, bool paused)
{
    Pgvigil__Sample s = PGVIGIL__SAMPLE__INIT;
    Pgvigil__PrimaryReplication pr = PGVIGIL__PRIMARY_REPLICATION__INIT;
    Pgvigil__ReplicaReplication rr = PGVIGIL__REPLICA_REPLICATION__INIT;
    s.node = primary ? "primary" : "replica";
    s.region = "eu";
    s.has_system_identifier = s.has_role = s.has_sequence = s.has_collected_at_us = s.has_up = 1;
    s.has_interval_ms = s.has_collector_started_at_us = 1;
    s.system_identifier = SYSID;
    s.role = primary ? PGVIGIL__ROLE__ROLE_PRIMARY : PGVIGIL__ROLE__ROLE_REPLICA;
    s.sequence = ++seq[primary];
    s.collected_at_us = t;
    s.collector_started_at_us = 1;
    s.up = true;
    s.interval_ms = 1000;
    if (primary) {
        pr.has_current_wal_lsn = 1;
        pr.current_wal_lsn = lsn;
        s.primary_replication = &pr;
    } else {
        rr.has_replay_lsn = rr.has_receive_lsn = rr.has_replay_paused = 1;
        rr.replay_lsn = lsn;
        rr.receive_lsn = lsn + 10;
        rr.replay_paused = paused;
        rr.wal_receiver_status = "streaming";
        s.replica_replication = &rr;
    }
    uint8_t buf[4096];
    size_t len = pgvigil__sample__pack(&s, buf);
    return (Pgvigil__Sample *)pbarena_unpack(&pgvigil__sample__descriptor, len, buf);
}

static void test_paused_lag_grows_with_the_clock(void **state)
{
    (void)state;
    char err[256];
    agg_config_t *cfg =
        agg_config_load_string("a.yaml", "listen: {ingest: [tcp://127.0.0.1:1], http: '127.0.0.1:1'}\n", err, sizeof err);
    assert_non_null(cfg);
    fleet_t *f = fleet_new(cfg);
    int64_t t0 = 1000 * S;
    /* the primary writes 1000 bytes a second */
    fleet_apply(f, sample(true, t0, 10000, false), t0, NULL);
    fleet_apply(f, sample(true, t0 + S, 11000, false), t0 + S, NULL);
    /* the replica, paused at 10500 (reached at t0 + 0.5 s), reports at t0 + 1.5 s */
    fleet_apply(f, sample(false, t0 + S + S / 2, 10500, true), t0 + S + S / 2, NULL);
    const node_view_t *rep = fleet_node_view(f, "replica");
    assert_non_null(rep);
    assert_true(rep->has_lag && rep->replay_paused);
    assert_true(fabs(rep->lag.seconds - 1.0) < 1e-6);
    /* moving from its sample on, before any tick: as of the sample's instant */
    assert_true(rep->lag_moving && rep->lag_at_us == t0 + S + S / 2);
    /* two seconds later, with no new replica sample: 3 s */
    assert_true(fabs(fleet_paused_lag_now(f, rep, t0 + 3 * S + S / 2) - 3.0) < 1e-6);

    /* replay running: no extrapolation */
    fleet_apply(f, sample(false, t0 + 2 * S, 10600, false), t0 + 2 * S, NULL);
    assert_true(isnan(fleet_paused_lag_now(f, rep, t0 + 4 * S)));

    /* paused but caught up with an idle primary: no lag to extrapolate */
    fleet_apply(f, sample(true, t0 + 2 * S, 11000, false), t0 + 2 * S, NULL);
    fleet_apply(f, sample(false, t0 + 2 * S + S / 2, 11000, true), t0 + 2 * S + S / 2, NULL);
    assert_true(isnan(fleet_paused_lag_now(f, rep, t0 + 5 * S)));

    /* the primary writes again: the lag counts from when the primary first
     * wrote beyond 11000, not from when it reached it (t0 + 1 s) and idled
     * there; after an idle spell the write is placed in the middle of the
     * segment, t0 + 3.5 s (lag.h) */
    fleet_apply(f, sample(true, t0 + 3 * S, 11000, false), t0 + 3 * S, NULL);
    assert_true(isnan(fleet_paused_lag_now(f, rep, t0 + 3 * S + S / 2))); /* still idle */
    fleet_apply(f, sample(true, t0 + 4 * S, 12000, false), t0 + 4 * S, NULL);
    assert_true(fabs(fleet_paused_lag_now(f, rep, t0 + 6 * S) - 2.5) < 1e-6);

    /* a stale collector: nothing is known */
    fleet_tick(f, t0 + 60 * S);
    assert_true(rep->stale);
    assert_true(isnan(fleet_paused_lag_now(f, rep, t0 + 61 * S)));
    fleet_destroy(&f);
    agg_config_destroy(&cfg);
}

/* Lag notes seen by an observer: the lag they carry and when. */
typedef struct {
    int count;
    lag_result_t last;
    int64_t at_us;
} lag_notes_t;

static void on_note(void *arg, const fleet_note_t *note)
{
    lag_notes_t *seen = arg;
    if (note->kind != FLEET_NOTE_LAG)
        return;
    seen->count++;
    seen->last = note->lag ? *note->lag : note->node->lag;
    seen->at_us = note->at_us;
}

static fleet_t *fleet_for_test(agg_config_t **cfg)
{
    char err[256];
    *cfg = agg_config_load_string("a.yaml", "listen: {ingest: [tcp://127.0.0.1:1], http: '127.0.0.1:1'}\n", err,
                                  sizeof err);
    assert_non_null(*cfg);
    fleet_t *f = fleet_new(*cfg);
    assert_non_null(f);
    return f;
}

/* A replica read after the primary's newest point is measured against an
 * extrapolated position (estimated); the next primary point revises it at
 * the same instant, and only the revised figure goes to the history. */
static void test_estimated_lag_is_revised(void **state)
{
    (void)state;
    agg_config_t *cfg;
    fleet_t *f = fleet_for_test(&cfg);
    lag_notes_t seen = {0};
    assert_int_equal(fleet_observe(f, on_note, &seen), 0);
    int64_t t0 = 2000 * S;
    fleet_apply(f, sample(true, t0, 10000, false), t0, NULL);
    fleet_apply(f, sample(true, t0 + S, 11000, false), t0 + S, NULL);
    fleet_apply(f, sample(false, t0 + S + S / 2, 10500, false), t0 + S + S / 2, NULL);
    const node_view_t *rep = fleet_node_view(f, "replica");
    assert_true(rep->has_lag && rep->lag.estimated);
    assert_true(rep->lag.bytes == 1000); /* 11500 extrapolated - 10500 */
    assert_true(rep->lag.bytes == rep->lag.receive_bytes + rep->lag.apply_bytes);
    assert_int_equal(seen.count, 0); /* its history row waits */
    /* the primary slowed down: 11200 at t0 + 2 s, so 11100 at t0 + 1.5 s */
    fleet_apply(f, sample(true, t0 + 2 * S, 11200, false), t0 + 2 * S, NULL);
    assert_int_equal(seen.count, 1);
    assert_false(seen.last.estimated);
    assert_true(seen.last.bytes == 600);
    assert_true(seen.at_us == t0 + S + S / 2);
    fleet_tick(f, t0 + 2 * S);
    assert_false(rep->lag.estimated);
    assert_true(rep->lag.bytes == 600);
    fleet_destroy(&f);
    agg_config_destroy(&cfg);
}

/* A collector restarted with its clock moved from +7 s to true time: the
 * offset of its first sample is the new one, not the old window's. */
static void test_restart_resets_the_clock_offset(void **state)
{
    (void)state;
    agg_config_t *cfg;
    fleet_t *f = fleet_for_test(&cfg);
    int64_t t = 3000 * S;
    for (int i = 0; i < 10; i++, t += S)
        fleet_apply(f, sample(true, t + 7 * S, 10000, false), t + 2000, NULL);
    const node_view_t *p = fleet_node_view(f, "primary");
    assert_true(llabs(p->clock_offset_us - 7 * S) < 5000);
    Pgvigil__Sample *s = sample(true, t, 10000, false);
    s->collector_started_at_us = 2;
    fleet_apply(f, s, t + 2000, NULL);
    assert_true(llabs(p->clock_offset_us) < 5000);
    assert_true(llabs(p->clock_offset_recent_us) < 5000);
    fleet_destroy(&f);
    agg_config_destroy(&cfg);
}

/* A replica whose replay does not move while it is behind (a blocked
 * stream that still says "streaming") is shown at the current time; a
 * receiver that is gone has a named state. */
static void test_stuck_replica_moves_with_the_clock(void **state)
{
    (void)state;
    agg_config_t *cfg;
    fleet_t *f = fleet_for_test(&cfg);
    int64_t t0 = 4000 * S;
    for (int i = 0; i <= 3; i++)
        fleet_apply(f, sample(true, t0 + i * S, 10000 + 1000 * (uint64_t)i, false), t0 + i * S, NULL);
    fleet_apply(f, sample(false, t0 + S + S / 2, 10500, false), t0 + S + S / 2, NULL);
    fleet_apply(f, sample(false, t0 + 2 * S + S / 2, 10500, false), t0 + 2 * S + S / 2, NULL);
    const node_view_t *rep = fleet_node_view(f, "replica");
    fleet_tick(f, t0 + 3 * S + S / 2);
    assert_true(fabs(rep->lag.seconds - 3.0) < 1e-6); /* passed 10500 at t0 + 0.5 s */
    assert_true(rep->lag.bytes == 3000);              /* 13500 extrapolated - 10500 */
    fleet_tick(f, t0 + 4 * S);
    assert_true(fabs(rep->lag.seconds - 3.5) < 1e-6);
    /* said to move, as of the tick, at the primary's 1000 bytes a second */
    assert_true(rep->lag_moving && rep->lag_at_us == t0 + 4 * S);
    assert_true(fabs(rep->lag_rate_bps - 1000.0) < 1e-6);
    /* replay moves again: the figure is the sample's */
    fleet_apply(f, sample(false, t0 + 4 * S, 13000, false), t0 + 4 * S, NULL);
    fleet_tick(f, t0 + 4 * S + S / 2);
    assert_true(rep->lag.seconds < 1.0);
    /* no WAL receiver: older collectors said "" */
    Pgvigil__Sample *s = sample(false, t0 + 5 * S, 13000, false);
    s->replica_replication->wal_receiver_status[0] = '\0';
    fleet_apply(f, s, t0 + 5 * S, NULL);
    assert_string_equal(rep->wal_status, "no receiver");
    assert_true(rep->disconnected);
    fleet_destroy(&f);
    agg_config_destroy(&cfg);
}

/* The API reads a moving lag at its own instant, not the last tick's. */
static void test_moving_lag_is_read_at_its_instant(void **state)
{
    (void)state;
    const int64_t at = 1000 * S;
    json_t *node = json_pack("{s:{s:b, s:I, s:f, s:f, s:f, s:I, s:I, s:I}}", "lag", "moving", 1, "as_of_us",
                             (json_int_t)at, "write_rate_bytes_per_s", 1000.0, "seconds", 2.0, "receive_seconds",
                             0.0, "bytes", (json_int_t)5000, "receive_bytes", (json_int_t)4000, "apply_bytes",
                             (json_int_t)1000);
    json_t *lag = json_object_get(node, "lag");
    snapshot_lag_to(node, at + S / 10); /* read 100 ms after the tick */
    assert_true(fabs(json_real_value(json_object_get(lag, "seconds")) - 2.1) < 1e-9);
    assert_true(json_real_value(json_object_get(lag, "receive_seconds")) == 0.0); /* nothing beyond receive */
    assert_int_equal(json_integer_value(json_object_get(lag, "bytes")), 5100);
    assert_int_equal(json_integer_value(json_object_get(lag, "receive_bytes")), 4100);
    assert_int_equal(json_integer_value(json_object_get(lag, "apply_bytes")), 1000);
    assert_int_equal(json_integer_value(json_object_get(lag, "as_of_us")), at + S / 10);
    snapshot_lag_to(node, at + 60 * S); /* far ahead: at most SNAPSHOT_LAG_AHEAD_MAX_US */
    assert_true(fabs(json_real_value(json_object_get(lag, "seconds")) - 3.1) < 1e-9);
    json_object_set_new(lag, "moving", json_false());
    snapshot_lag_to(node, at + 120 * S); /* not moving: as it is */
    assert_true(fabs(json_real_value(json_object_get(lag, "seconds")) - 3.1) < 1e-9);
    json_decref(node);
}

/* A paused replica asks its primary for fast rounds: at once, again every
 * FLEET_FAST_RENEW_US, not after FLEET_FAST_EPISODE_US of the pause, and
 * not for a replica that replays. */
static const char *fast(fleet_t *f, bool primary, int64_t t, uint64_t lsn, bool paused)
{
    fleet_applied_t out;
    assert_true(fleet_apply(f, sample(primary, t, lsn, paused), t, &out));
    return out.fast_primary;
}

static void test_paused_replica_asks_fast_primary_rounds(void **state)
{
    (void)state;
    agg_config_t *cfg;
    fleet_t *f = fleet_for_test(&cfg);
    int64_t t0 = 5000 * S;
    assert_null(fast(f, true, t0, 10000, false));
    assert_null(fast(f, true, t0 + S, 11000, false));
    assert_null(fast(f, false, t0 + S, 11000, false)); /* replays */
    int64_t t = t0 + 2 * S;
    assert_string_equal(fast(f, false, t, 11000, true), "primary");
    assert_null(fast(f, false, t + S, 11000, true));
    assert_string_equal(fast(f, false, t + FLEET_FAST_RENEW_US, 11000, true), "primary");
    assert_null(fast(f, false, t + FLEET_FAST_EPISODE_US + S, 11000, true));
    /* resumed, then paused again: a new spell */
    assert_null(fast(f, false, t + 40 * S, 12000, false));
    assert_string_equal(fast(f, false, t + 41 * S, 12000, true), "primary");
    fleet_destroy(&f);
    agg_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paused_lag_grows_with_the_clock),
        cmocka_unit_test(test_estimated_lag_is_revised),
        cmocka_unit_test(test_restart_resets_the_clock_offset),
        cmocka_unit_test(test_stuck_replica_moves_with_the_clock),
        cmocka_unit_test(test_paused_replica_asks_fast_primary_rounds),
        cmocka_unit_test(test_moving_lag_is_read_at_its_instant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
