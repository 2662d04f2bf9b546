/*
 * test_alerting.c — the alerting engine on a synthetic node with explicit
 * times: notifications per escalation tier, acknowledge stopping the climb,
 * resolution only to receivers that were notified, silences, peak factor
 * and peak tiers, no data while stale, restore without re-announcing, and
 * every message a durable write needs.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alerting.h"
#include "alerting_test.h"
#include "metric.h"
#include "nodeview.h"

#define S 1000000LL
/* A Tuesday, 2026-11-24 10:00:00 UTC, and the Saturday after at 12:00 UTC. */
#define TUESDAY (1795514400LL * S)
#define SATURDAY (1795867200LL * S)

static const char *config_text =
    "listen:\n  ingest: [tcp://0.0.0.0:7400]\n  http: 127.0.0.1:8080\n"
    "rules:\n  - {name: replication_lag, warning: 10, critical: 100, for: 5s}\n"
    "regions: {eu: {timezone: Europe/London}}\n"
    "receivers:\n"
    "  - {name: hook, type: webhook, url: 'http://h'}\n"
    "  - {name: pager, type: pagerduty, url: 'http://p', routing_key: k}\n"
    "  - {name: sms, type: sms, url: 'http://s', body_template: x}\n"
    "escalation:\n"
    "  normal: [{after: 0s, receivers: [hook]}, {after: 60s, receivers: [pager]}]\n"
    "  peak: [{after: 0s, receivers: [hook, pager]}, {after: 10s, receivers: [sms]}]\n";

typedef struct {
    agg_config_t *cfg;
    alerting_t *al;
    json_t *out;
    node_view_t node;
    metric_state_t metrics;
    Pgvigil__Sample sample;
    Pgvigil__ReplicaReplication rr;
} fixture_t;

static void capture(void *arg, json_t *msg)
{
    json_array_append_new(((fixture_t *)arg)->out, msg);
}

static int setup(void **state)
{
    static fixture_t f;
    memset(&f, 0, sizeof f);
    char err[512];
    f.cfg = agg_config_load_string("agg.yaml", config_text, err, sizeof err);
    if (!f.cfg)
        fail_msg("%s", err);
    f.out = json_array();
    f.al = alerting_new(f.cfg, capture, &f);
    alerting_test_replica(&f.node, &f.sample, &f.rr);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    alerting_destroy(&f->al);
    agg_config_destroy(&f->cfg);
    json_decref(f->out);
    return 0;
}

/* One sample with lag seconds (NAN: the replica has no lag figure), derived
 * into the node view through the catalogue as the fleet does. */
static void sample(fixture_t *f, double lag, int64_t t)
{
    f->node.has_lag = !isnan(lag);
    f->node.lag.seconds = isnan(lag) ? 0 : lag;
    metric_update(&f->node, &f->metrics, &f->sample, t);
    alerting_node(f->al, &f->node, t);
    alerting_tick(f->al, t);
}

/* Notifications emitted since the last call: "receiver:kind" joined. */
static void notices(fixture_t *f, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t i;
    json_t *m;
    json_array_foreach(f->out, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "op")), "notify") != 0)
            continue;
        const json_t *a = json_object_get(json_object_get(m, "payload"), "alert");
        if (strcmp(json_string_value(json_object_get(a, "rule")), "replication_lag") != 0)
            continue;
        char one[64];
        snprintf(one, sizeof one, "%s%s:%s", buf[0] ? " " : "", json_string_value(json_object_get(m, "receiver")),
                 json_string_value(json_object_get(m, "kind")));
        strncat(buf, one, len - strlen(buf) - 1);
    }
    json_array_clear(f->out);
}

static json_t *lag_alert(fixture_t *f, int64_t t)
{
    json_t *v = alerting_view(f->al, t);
    size_t i;
    json_t *a, *found = NULL;
    json_array_foreach(json_object_get(v, "alerts"), i, a) if (!found &&
                                                                strcmp(json_string_value(json_object_get(a, "rule")),
                                                                       "replication_lag") == 0) found = json_incref(a);
    json_decref(v);
    return found;
}

static void test_tiers_ack_and_resolution(void **state)
{
    fixture_t *f = *state;
    char n[512];
    int64_t t = TUESDAY;
    for (int i = 0; i < 5; i++)
        sample(f, 1, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "");
    sample(f, 20, t += S); /* pending */
    json_t *a = lag_alert(f, t);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "pending");
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    json_decref(a);
    for (int i = 0; i < 4; i++)
        sample(f, 20, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, ""); /* 4 s < for */
    sample(f, 20, t += S);      /* 5 s: firing, tier 1 */
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:firing");
    a = lag_alert(f, t);
    assert_false(json_is_true(json_object_get(a, "peak")));
    assert_int_equal(json_integer_value(json_object_get(a, "tier")), 1);
    assert_true(json_real_value(json_object_get(a, "threshold")) == 10);
    json_decref(a);
    sample(f, 150, t += S); /* critical: the notified receivers hear it */
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:firing");
    for (int i = 0; i < 60; i++)
        sample(f, 150, t += S); /* tier 2 after 60 s */
    notices(f, n, sizeof n);
    assert_string_equal(n, "pager:firing");

    json_t *reply = NULL;
    json_t *cmd = json_pack("{s:s,s:I,s:s,s:s}", "cmd", "acknowledge", "id", id, "by", "alice", "comment", "on it");
    assert_int_equal(alerting_command(f->al, cmd, t, &reply), 200);
    assert_true(json_is_true(json_object_get(json_object_get(reply, "alert"), "acknowledged")));
    json_decref(reply);
    json_decref(cmd);
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:acknowledged pager:acknowledged");

    sample(f, 5, t += S); /* below warning but above the clear threshold (10): still firing */
    sample(f, 0, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:resolved pager:resolved"); /* sms never notified */
    a = lag_alert(f, t);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "resolved");
    json_decref(a);
}

static void test_acknowledged_never_climbs(void **state)
{
    fixture_t *f = *state;
    char n[512];
    int64_t t = TUESDAY;
    for (int i = 0; i < 7; i++)
        sample(f, 20, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:firing");
    json_t *a = lag_alert(f, t), *reply = NULL;
    json_t *cmd = json_pack("{s:s,s:O,s:s}", "cmd", "acknowledge", "id", json_object_get(a, "id"), "expires_in", "2m");
    assert_int_equal(alerting_command(f->al, cmd, t, &reply), 200);
    json_decref(reply);
    json_decref(cmd);
    json_decref(a);
    for (int i = 0; i < 100; i++)
        sample(f, 20, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:acknowledged");
    for (int i = 0; i < 30; i++) /* the acknowledgement expires after 2 min: the climb resumes */
        sample(f, 20, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "pager:firing");
}

static void test_peak_factor_and_tiers(void **state)
{
    fixture_t *f = *state;
    char n[512];
    int64_t t = SATURDAY; /* 12:00 in London: in the 11:00-18:00 window */
    for (int i = 0; i < 7; i++)
        sample(f, 6, t += S); /* 6 s > 10 * 0.5 */
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:firing pager:firing");
    json_t *a = lag_alert(f, t);
    assert_true(json_is_true(json_object_get(a, "peak")));
    assert_true(json_real_value(json_object_get(a, "threshold")) == 5);
    json_decref(a);
    for (int i = 0; i < 10; i++)
        sample(f, 6, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "sms:firing");
}

static void test_silence_and_nodata(void **state)
{
    fixture_t *f = *state;
    char n[512];
    int64_t t = TUESDAY;
    json_t *reply = NULL;
    json_t *cmd = json_pack("{s:s,s:[{s:s,s:s,s:b}],s:s}", "cmd", "silence_add", "matchers", "name", "node", "value",
                            "db[0-9]", "regex", 1, "ends_at", "2026-11-24T10:00:30Z");
    assert_int_equal(alerting_command(f->al, cmd, t, &reply), 201);
    json_decref(reply);
    json_decref(cmd);
    for (int i = 0; i < 20; i++)
        sample(f, 20, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "");
    for (int i = 0; i < 15; i++) /* the silence ended at :30 */
        sample(f, 20, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:firing");

    f->node.stale = true; /* collector gone: no data, not resolved */
    sample(f, NAN, t += S);
    json_t *a = lag_alert(f, t);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "nodata");
    json_decref(a);
    notices(f, n, sizeof n);
    assert_string_equal(n, "");
    f->node.stale = false;
    sample(f, 20, t += S); /* back, still lagging: firing again without a new notice */
    a = lag_alert(f, t);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "firing");
    json_decref(a);
    notices(f, n, sizeof n);
    assert_string_equal(n, "");
}

static void test_restore_does_not_reannounce(void **state)
{
    fixture_t *f = *state;
    char n[512];
    int64_t t = TUESDAY;
    for (int i = 0; i < 7; i++)
        sample(f, 20, t += S);
    json_t *a = lag_alert(f, t);
    json_t *alerts = json_pack("[O]", a), *silences = json_array();
    json_decref(a);
    notices(f, n, sizeof n);

    alerting_t *again = alerting_new(f->cfg, capture, f);
    alerting_restore(again, alerts, silences);
    alerting_t *old = f->al;
    f->al = again;
    for (int i = 0; i < 5; i++)
        sample(f, 20, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "");
    sample(f, 0, t += S);
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:resolved"); /* the restored notified set */
    alerting_destroy(&old);
    json_decref(alerts);
    json_decref(silences);
}

static void test_durable_messages(void **state)
{
    fixture_t *f = *state;
    int64_t t = TUESDAY;
    for (int i = 0; i < 7; i++)
        sample(f, 20, t += S);
    int alerts = 0, events = 0, notifies = 0;
    size_t i;
    json_t *m;
    json_array_foreach(f->out, i, m) {
        const char *op = json_string_value(json_object_get(m, "op"));
        alerts += strcmp(op, "alert") == 0;
        events += strcmp(op, "event") == 0;
        notifies += strcmp(op, "notify") == 0;
        if (strcmp(op, "event") == 0)
            assert_true(json_integer_value(json_object_get(m, "seq")) > 0);
    }
    assert_true(alerts >= 2);  /* pending, firing */
    assert_true(events >= 3);  /* pending, firing, tier 1 reached */
    assert_int_equal(notifies, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tiers_ack_and_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acknowledged_never_climbs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peak_factor_and_tiers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silence_and_nodata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_does_not_reannounce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_messages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
