/*
 * test_nodeview.c — the node view is the one source every reader uses:
 *   - a paused replica between samples: at the same instant, the lag seconds
 *     the API shows (fleet_view JSON), the value the replication_lag rule
 *     evaluates (the alert's value), the view's catalogue value and the
 *     /metrics line are one number, grown with the clock;
 *   - the view's version moves when the node changed and only then on a tick;
 *   - observers receive the sample, lag and status notes, and the history
 *     values (metric_values) are rendered from the view at the catalogue's
 *     slots.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerting.h"
#include "fleet.h"
#include "metric.h"
#include "pbarena.h"
#include "store_rows.h"

#define S 1000000LL
#define SYSID 7301234567890123456ull

static uint64_t seq[2];

static Pgvigil__Sample *sample(bool primary, int64_t t, uint64_t lsn, bool paused)
{
    Pgvigil__Sample s = PGVIGIL__SAMPLE__INIT;
    Pgvigil__PrimaryReplication pr = PGVIGIL__PRIMARY_REPLICATION__INIT;
    Pgvigil__ReplicaReplication rr = PGVIGIL__REPLICA_REPLICATION__INIT;
    Pgvigil__Connections c = PGVIGIL__CONNECTIONS__INIT;
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
    c.has_total = c.has_max_connections = 1;
    c.total = 7;
    c.max_connections = 100;
    s.connections = &c;
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

typedef struct {
    agg_config_t *cfg;
    fleet_t *fleet;
    alerting_t *al;
    json_t *emitted;
    int notes[4];
} fixture_t;

static void capture(void *arg, json_t *msg)
{
    json_array_append_new(((fixture_t *)arg)->emitted, msg);
}

static void observe(void *arg, const fleet_note_t *note)
{
    ((fixture_t *)arg)->notes[note->kind]++;
}

static int setup(void **state)
{
    static fixture_t f;
    memset(&f, 0, sizeof f);
    char err[512];
    f.cfg = agg_config_load_string("agg.yaml",
                                   "listen: {ingest: [tcp://127.0.0.1:1], http: '127.0.0.1:1'}\n"
                                   "rules:\n  - {name: replication_lag, warning: 0.5, critical: 1000, for: 0s}\n",
                                   err, sizeof err);
    if (!f.cfg)
        fail_msg("%s", err);
    f.fleet = fleet_new(f.cfg);
    f.emitted = json_array();
    f.al = alerting_new(f.cfg, capture, &f);
    assert_int_equal(fleet_observe(f.fleet, observe, &f), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    alerting_destroy(&f->al);
    fleet_destroy(&f->fleet);
    agg_config_destroy(&f->cfg);
    json_decref(f->emitted);
    return 0;
}

/* The replication_lag alert's value at now_us. */
static double alert_value(fixture_t *f, int64_t now_us)
{
    json_t *v = alerting_view(f->al, now_us);
    size_t i;
    json_t *a;
    double value = NAN;
    json_array_foreach(json_object_get(v, "alerts"), i, a) if (strcmp(json_string_value(json_object_get(a, "rule")),
                                                                      "replication_lag") == 0) value =
        json_real_value(json_object_get(a, "value"));
    json_decref(v);
    return value;
}

/* The value of a Prometheus line "name{...node="replica"...} v". */
static double prom_value(const char *text, const char *name)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s{", name);
    for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix)) {
        const char *end = strchr(p, '\n');
        const char *node = strstr(p, "node=\"replica\"");
        if (node && (!end || node < end))
            return strtod(strchr(p, '}') + 1, NULL);
    }
    return NAN;
}

static void test_paused_replica_one_number(void **state)
{
    fixture_t *f = *state;
    int64_t t0 = 1000 * S;
    /* the primary writes 1000 bytes a second; the replica paused at 10500 */
    assert_true(fleet_apply(f->fleet, sample(true, t0, 10000, false), t0, NULL));
    assert_true(fleet_apply(f->fleet, sample(true, t0 + S, 11000, false), t0 + S, NULL));
    assert_true(fleet_apply(f->fleet, sample(false, t0 + S + S / 2, 10500, true), t0 + S + S / 2, NULL));
    const node_view_t *rep = fleet_node_view(f->fleet, "replica");
    assert_non_null(rep);
    assert_true(fabs(rep->lag.seconds - 1.0) < 1e-9);

    /* two seconds later, no new sample: the timer moves the view once */
    int64_t now = t0 + 3 * S + S / 2;
    uint64_t version = rep->version;
    assert_true(fleet_tick(f->fleet, now));
    assert_true(rep->version > version);
    alerting_node(f->al, rep, now);
    fleet_view_t fv;
    assert_int_equal(fleet_view(f->fleet, now, &fv), 0);
    double api = json_real_value(json_object_get(json_object_get(json_object_get(fv.nodes, "replica"), "lag"), "seconds"));
    double rule = alert_value(f, now), view;
    assert_true(node_view_value(rep, METRIC_LAG_SECONDS, &view));
    double prom = prom_value(fv.metrics_text, "pgvigil_replication_lag_seconds");
    assert_true(fabs(api - 3.0) < 1e-9);
    assert_true(api == rule);
    assert_true(api == view);
    assert_true(api == prom);
    json_decref(fv.clusters);
    json_decref(fv.nodes);
    json_decref(fv.events);
    free(fv.metrics_text);

    /* nothing moved since: a tick at the same instant changes nothing */
    version = rep->version;
    assert_false(fleet_tick(f->fleet, now));
    assert_int_equal(rep->version, version);
}

static void test_observers_and_history_values(void **state)
{
    fixture_t *f = *state;
    int64_t t0 = 2000 * S;
    seq[0] = seq[1] = 0;
    fleet_t *fresh = fleet_new(f->cfg);
    memset(f->notes, 0, sizeof f->notes);
    assert_int_equal(fleet_observe(fresh, observe, f), 0);
    fleet_apply(fresh, sample(true, t0, 10000, false), t0, NULL);
    fleet_apply(fresh, sample(true, t0 + S, 11000, false), t0 + S, NULL);
    fleet_apply(fresh, sample(false, t0 + S, 10500, false), t0 + S, NULL);
    assert_int_equal(f->notes[FLEET_NOTE_SAMPLE], 3);
    assert_int_equal(f->notes[FLEET_NOTE_LAG], 1);
    assert_int_equal(f->notes[FLEET_NOTE_STATUS], 2); /* each node seen up */
    fleet_tick(fresh, t0 + 60 * S);                    /* both stale */
    assert_int_equal(f->notes[FLEET_NOTE_STATUS], 4);
    assert_true(f->notes[FLEET_NOTE_EVENT] >= 2);

    const node_view_t *p = fleet_node_view(fresh, "primary");
    char values[4096];
    assert_true(store_rows_metric_values(p, values, sizeof values) > 0);
    /* stale: only staleness is known, and it has no history slot */
    assert_non_null(strstr(values, "{NULL,"));
    fleet_apply(fresh, sample(true, t0 + 61 * S, 12000, false), t0 + 61 * S, NULL);
    assert_true(store_rows_metric_values(p, values, sizeof values) > 0);
    /* up again: node_up is slot 1, connections_total has its slot */
    assert_int_equal(strncmp(values, "{1,", 3), 0);
    char expect[32];
    int slot = metric_info(metric_find("connections_total"))->slot;
    const char *at = values;
    for (int k = 1; k < slot; k++)
        at = strchr(at + 1, ',');
    snprintf(expect, sizeof expect, ",7");
    assert_int_equal(strncmp(at, expect, strlen(expect)), 0);
    fleet_destroy(&fresh);
}

/* The slot detector's threshold is the events section's, and the event is
 * reported once per transition. */
static void test_slot_threshold_configurable(void **state)
{
    (void)state;
    char err[512];
    agg_config_t *cfg = agg_config_load_string("agg.yaml",
                                               "listen: {ingest: [tcp://127.0.0.1:1], http: '127.0.0.1:1'}\n"
                                               "events: {slot_retained_bytes: 1000, lag_degraded_seconds: 5}\n",
                                               err, sizeof err);
    if (!cfg)
        fail_msg("%s", err);
    assert_true(cfg->events.slot_retained_bytes == 1000 && cfg->events.lag_degraded_seconds == 5);
    fleet_t *fl = fleet_new(cfg);
    int64_t t0 = 3000 * S;
    seq[0] = seq[1] = 0;
    for (int i = 0; i < 3; i++) {
        Pgvigil__Sample *s = sample(true, t0 + i * S, 10000, false);
        Pgvigil__ReplicationSlots rs = PGVIGIL__REPLICATION_SLOTS__INIT;
        Pgvigil__ReplicationSlot sl = PGVIGIL__REPLICATION_SLOT__INIT;
        Pgvigil__ReplicationSlot *slots[] = {&sl};
        sl.has_active = sl.has_retained_bytes = 1;
        sl.retained_bytes = i < 2 ? 2000 : 10; /* retaining, still, then released */
        rs.n_slots = 1;
        rs.slots = slots;
        s->replication_slots = (Pgvigil__ReplicationSlots *)pbarena_copy(&s->base, &rs.base); /* freed with s */
        assert_non_null(s->replication_slots);
        fleet_apply(fl, s, t0 + i * S, NULL);
    }
    fleet_view_t fv;
    assert_int_equal(fleet_view(fl, t0 + 3 * S, &fv), 0);
    int slot_events = 0;
    size_t i;
    json_t *e;
    json_array_foreach(fv.events, i, e) slot_events += strcmp(json_string_value(json_object_get(e, "kind")),
                                                               "slot_inactive") == 0;
    assert_int_equal(slot_events, 1);
    json_decref(fv.clusters);
    json_decref(fv.nodes);
    json_decref(fv.events);
    free(fv.metrics_text);
    fleet_destroy(&fl);
    agg_config_destroy(&cfg);
    /* a malformed value names the key */
    assert_null(agg_config_load_string("agg.yaml", "listen: {ingest: [tcp://127.0.0.1:1], http: '127.0.0.1:1'}\n"
                                                   "events: {slot_retained_bytes: lots}\n", err, sizeof err));
    assert_non_null(strstr(err, "slot_retained_bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paused_replica_one_number),
        cmocka_unit_test(test_observers_and_history_values),
        cmocka_unit_test(test_slot_threshold_configurable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
