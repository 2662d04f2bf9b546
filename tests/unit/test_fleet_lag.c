/*
 * test_fleet_lag.c — a paused replica's lag between samples
 * (fleet_paused_lag_now): it grows with the clock once the primary has
 * written past the replay position, and is not extrapolated when replay
 * runs, when the primary is idle, or when the node is stale.
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
    return pgvigil__sample__unpack(NULL, len, buf);
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
    /* two seconds later, with no new replica sample: 3 s */
    assert_true(fabs(fleet_paused_lag_now(f, rep, t0 + 3 * S + S / 2) - 3.0) < 1e-6);

    /* replay running: no extrapolation */
    fleet_apply(f, sample(false, t0 + 2 * S, 10600, false), t0 + 2 * S, NULL);
    assert_true(isnan(fleet_paused_lag_now(f, rep, t0 + 4 * S)));

    /* paused but caught up with an idle primary: no lag to extrapolate */
    fleet_apply(f, sample(false, t0 + 2 * S + S / 2, 11000, true), t0 + 2 * S + S / 2, NULL);
    assert_true(isnan(fleet_paused_lag_now(f, rep, t0 + 5 * S)));

    /* the primary writes again: the lag counts from when the primary first
     * reached 11000 (t0 + 1 s, DESIGN 4.1), as the sampled figure does */
    fleet_apply(f, sample(true, t0 + 3 * S, 11000, false), t0 + 3 * S, NULL);
    assert_true(isnan(fleet_paused_lag_now(f, rep, t0 + 3 * S + S / 2))); /* still idle */
    fleet_apply(f, sample(true, t0 + 4 * S, 12000, false), t0 + 4 * S, NULL);
    assert_true(fabs(fleet_paused_lag_now(f, rep, t0 + 6 * S) - 5.0) < 1e-6);

    /* a stale collector: nothing is known */
    fleet_tick(f, t0 + 60 * S);
    assert_true(rep->stale);
    assert_true(isnan(fleet_paused_lag_now(f, rep, t0 + 61 * S)));
    fleet_destroy(&f);
    agg_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paused_lag_grows_with_the_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
