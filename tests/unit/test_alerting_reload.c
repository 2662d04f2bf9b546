/*
 * test_alerting_reload.c — a new configuration for a running alerting
 * engine (alerting_reload, SIGHUP): an open, acknowledged alert keeps its id,
 * acknowledgement and tier and is judged against the new thresholds; the
 * receivers it notified are found by name when the list is reordered; an
 * alert of a removed rule is resolved with the reason and its receivers are
 * told; silences are kept.
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
#define TUESDAY (1795514400LL * S) /* 2026-11-24 10:00:00 UTC */

static const char *before_text =
    "listen:\n  ingest: [tcp://0.0.0.0:7400]\n  http: 127.0.0.1:8080\n"
    "rules:\n"
    "  - {name: replication_lag, warning: 10, critical: 100, for: 0s}\n"
    "  - {name: lag_extra, metric: replication_lag_seconds, op: '>', warning: 5, for: 0s}\n"
    "receivers:\n"
    "  - {name: hook, type: webhook, url: 'http://h'}\n"
    "  - {name: pager, type: pagerduty, url: 'http://p', routing_key: k}\n"
    "escalation:\n  normal: [{after: 0s, receivers: [hook]}]\n";

/* critical lowered to 40; lag_extra gone; the receivers in another order. */
static const char *after_text =
    "listen:\n  ingest: [tcp://0.0.0.0:7400]\n  http: 127.0.0.1:8080\n"
    "rules:\n"
    "  - {name: replication_lag, warning: 10, critical: 40, for: 0s}\n"
    "receivers:\n"
    "  - {name: pager, type: pagerduty, url: 'http://p', routing_key: k}\n"
    "  - {name: hook, type: webhook, url: 'http://h'}\n"
    "escalation:\n  normal: [{after: 0s, receivers: [hook]}]\n";

typedef struct {
    agg_config_t *before, *after;
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
    f.before = agg_config_load_string("before.yaml", before_text, err, sizeof err);
    if (!f.before)
        fail_msg("%s", err);
    f.after = agg_config_load_string("after.yaml", after_text, err, sizeof err);
    if (!f.after)
        fail_msg("%s", err);
    f.out = json_array();
    f.al = alerting_new(f.before, capture, &f);
    alerting_test_replica(&f.node, &f.sample, &f.rr);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    alerting_destroy(&f->al);
    agg_config_destroy(&f->before);
    agg_config_destroy(&f->after);
    json_decref(f->out);
    return 0;
}

static void sample(fixture_t *f, double lag, int64_t t)
{
    f->node.has_lag = true;
    f->node.lag.seconds = lag;
    metric_update(&f->node, &f->metrics, &f->sample, t);
    alerting_node(f->al, &f->node, t);
    alerting_tick(f->al, t);
}

/* The alert of rule in the engine's view (new reference), or NULL. */
static json_t *find(fixture_t *f, const char *rule, int64_t t)
{
    json_t *v = alerting_view(f->al, t), *a, *found = NULL;
    size_t i;
    json_array_foreach(json_object_get(v, "alerts"), i, a) if (!found && strcmp(json_string_value(json_object_get(
                                                                              a, "rule")),
                                                                          rule) == 0) found = json_incref(a);
    json_decref(v);
    return found;
}

/* "receiver:kind:rule" of each notification since the last call. */
static void notices(fixture_t *f, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t i;
    json_t *m;
    json_array_foreach(f->out, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "op")), "notify") != 0)
            continue;
        const json_t *a = json_object_get(json_object_get(m, "payload"), "alert");
        char one[96];
        snprintf(one, sizeof one, "%s%s:%s:%s", buf[0] ? " " : "", json_string_value(json_object_get(m, "receiver")),
                 json_string_value(json_object_get(m, "kind")), json_string_value(json_object_get(a, "rule")));
        strncat(buf, one, len - strlen(buf) - 1);
    }
}

static bool has_event(fixture_t *f, const char *detail)
{
    size_t i;
    json_t *m;
    json_array_foreach(f->out, i, m) {
        const char *d = json_string_value(json_object_get(m, "detail"));
        if (d && strcmp(d, detail) == 0)
            return true;
    }
    return false;
}

static void test_state_kept_by_rule_name(void **state)
{
    fixture_t *f = *state;
    char n[512];
    int64_t t = TUESDAY;
    sample(f, 50, t += S);
    sample(f, 50, t += S);
    json_t *a = find(f, "replication_lag", t);
    assert_non_null(a);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "firing");
    assert_string_equal(json_string_value(json_object_get(a, "severity")), "warning");
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    json_decref(a);
    json_t *ack = json_pack("{s:s,s:I,s:s}", "cmd", "acknowledge", "id", id, "by", "alice"), *reply = NULL;
    assert_int_equal(alerting_command(f->al, ack, t, &reply), 200);
    json_decref(ack);
    json_decref(reply);
    json_t *sil = json_pack("{s:s,s:[{s:s,s:s}],s:s,s:s}", "cmd", "silence_add", "matchers", "name", "node", "value",
                            "other", "ends_at", "2099-01-01T00:00:00Z", "by", "bob");
    assert_int_equal(alerting_command(f->al, sil, t, &reply), 201);
    json_decref(sil);
    json_decref(reply);
    json_array_clear(f->out);

    assert_int_equal(alerting_reload(f->al, f->after, t += S), 0);
    /* the removed rule: resolved, with the reason, its receiver told */
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:resolved:lag_extra");
    assert_true(has_event(f, "rule removed by a reload"));
    a = find(f, "lag_extra", t);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "resolved");
    json_decref(a);
    json_array_clear(f->out);

    /* the kept rule: same alert, new threshold, hook (found by name) told */
    sample(f, 50, t += S);
    a = find(f, "replication_lag", t);
    assert_int_equal(json_integer_value(json_object_get(a, "id")), id);
    assert_string_equal(json_string_value(json_object_get(a, "severity")), "critical");
    assert_true(json_is_true(json_object_get(a, "acknowledged")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "notified"), 0)), "hook");
    assert_int_equal(json_array_size(json_object_get(a, "notified")), 1);
    json_decref(a);
    notices(f, n, sizeof n);
    assert_string_equal(n, "hook:firing:replication_lag");
    json_t *v = alerting_view(f->al, t);
    assert_int_equal(json_array_size(json_object_get(v, "silences")), 1);
    json_decref(v);
}

static void test_out_of_order_receivers_and_no_nodes(void **state)
{
    fixture_t *f = *state;
    /* no node seen yet: a reload only swaps the configuration */
    assert_int_equal(alerting_reload(f->al, f->after, TUESDAY), 0);
    sample(f, 50, TUESDAY + S);
    json_t *a = find(f, "replication_lag", TUESDAY + S);
    assert_string_equal(json_string_value(json_object_get(a, "severity")), "critical");
    json_decref(a);
    assert_null(find(f, "lag_extra", TUESDAY + S));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_kept_by_rule_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order_receivers_and_no_nodes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
