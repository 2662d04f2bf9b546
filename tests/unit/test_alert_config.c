/*
 * test_alert_config.c — alerting configuration: built-in rules and their
 * overrides, regions, peak, receivers with secrets from files and the
 * environment, escalation, and errors naming the file and the key.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agg_config.h"
#include "agg_config_test.h"
#include "metric.h"

#define expect_error(body, key) expect_agg_error(LISTEN, body, key)


static const alert_rule_t *rule(const agg_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->alerting.rule_count; i++)
        if (strcmp(c->alerting.rules[i].name, name) == 0)
            return &c->alerting.rules[i];
    return NULL;
}

static void test_builtins_cover_the_design(void **state)
{
    (void)state;
    char err[1024];
    agg_config_t *c = agg_config_load_string("agg.yaml", LISTEN, err, sizeof err);
    assert_non_null(c);
    static const char *const required[] = {
        "node_down", "collector_stale", "replication_lag", "replication_lag_bytes", "replica_disconnected",
        "replay_paused", "slot_retaining_wal", "connection_saturation", "idle_in_transaction",
        "long_running_query", "blocked_sessions", "deadlocks", "cache_hit_ratio", "xid_wraparound",
        "dead_tuples", "archiver_failing", "rpo_exceeded", "probe_latency", NULL};
    for (const char *const *n = required; *n; n++) {
        const alert_rule_t *r = rule(c, *n);
        if (!r)
            fail_msg("built-in rule %s is missing", *n);
        assert_true(r->enabled);
        assert_true(!isnan(r->params.warning) || !isnan(r->params.critical));
    }
    const alert_rule_t *lag = rule(c, "replication_lag");
    assert_int_equal(lag->metric, METRIC_LAG_SECONDS);
    assert_int_equal(lag->roles, ALERT_ROLE_REPLICA);
    assert_true(lag->params.warning == 5 && lag->params.critical == 30);
    assert_true(lag->params.for_us == 10000000);
    /* defaults: Saturday 11:00-18:00, factor 0.5, no receivers */
    assert_int_equal(c->alerting.peak_weekdays, 1 << 6);
    assert_int_equal(c->alerting.peak_start_min, 660);
    assert_int_equal(c->alerting.peak_end_min, 1080);
    assert_true(c->alerting.peak_factor == 0.5);
    assert_int_equal(c->alerting.receiver_count, 0);
    assert_string_equal(alert_config_timezone(&c->alerting, "anywhere"), "UTC");
    agg_config_destroy(&c);
}

static void test_overrides_receivers_escalation(void **state)
{
    (void)state;
    char err[1024], path[] = "/tmp/pgvigil-test-secret-XXXXXX", text[4096];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from-a-file\n", 12), 12);
    close(fd);
    setenv("PGVIGIL_UNIT_PD_KEY", "from-the-env", 1);
    snprintf(text, sizeof text,
             LISTEN "rules:\n"
             "  - {name: replication_lag, warning: 2, for: 3s, labels: {team: dba}, peak_factor: 0.25}\n"
             "  - {name: guests_lag, metric: replication_lag_bytes, op: '>', critical: 1000, summary: 'x {value}'}\n"
             "  - {name: cache_hit_ratio, enabled: false}\n"
             "regions: {eu-west: {timezone: Europe/London}, nz: {timezone: Pacific/Auckland}}\n"
             "peak: {days: [saturday, sun], dates: [2026-06-13], hours: '10:00-02:00', threshold_factor: 0.6}\n"
             "receivers:\n"
             "  - {name: hook, type: webhook, url: 'http://h/x', secret_file: %s}\n"
             "  - {name: pd, type: pagerduty, routing_key_env: PGVIGIL_UNIT_PD_KEY}\n"
             "  - {name: mail, type: email, url: 'smtp://m:25', from: a@b, to: [c@d, e@f], tls: none}\n"
             "  - {name: sms, type: sms, url: 'http://gw', body_template: '{\"t\":\"{summary}\"}',"
             " headers: {Authorization: {value_env: PGVIGIL_UNIT_PD_KEY}}}\n"
             "escalation:\n"
             "  normal: [{after: 0s, receivers: [hook]}, {after: 30m, receivers: [sms]}]\n"
             "  peak: [{after: 0s, receivers: [hook, pd]}, {after: 5m, receivers: [sms, mail]}]\n"
             "delivery: {retry_initial: 500ms, retry_max: 30s, breaker_failures: 2}\n",
             path);
    agg_config_t *c = agg_config_load_string("agg.yaml", text, err, sizeof err);
    unlink(path);
    if (!c)
        fail_msg("%s", err);
    const alert_rule_t *lag = rule(c, "replication_lag");
    assert_true(lag->params.warning == 2 && lag->params.critical == 30); /* critical kept */
    assert_true(lag->params.for_us == 3000000);
    assert_true(lag->peak_factor == 0.25);
    assert_string_equal(lag->label_keys[0], "team");
    const alert_rule_t *g = rule(c, "guests_lag");
    assert_non_null(g);
    assert_int_equal(g->metric, METRIC_LAG_BYTES);
    assert_true(isnan(g->params.warning));
    assert_false(rule(c, "cache_hit_ratio")->enabled);
    assert_string_equal(alert_config_timezone(&c->alerting, "nz"), "Pacific/Auckland");
    assert_int_equal(c->alerting.peak_weekdays, (1 << 6) | 1);
    assert_int_equal(c->alerting.peak_date_count, 1);
    assert_int_equal(c->alerting.peak_end_min, 120);
    assert_string_equal(c->alerting.receivers[0].secret, "from-a-file");
    assert_string_equal(c->alerting.receivers[1].secret, "from-the-env");
    assert_string_equal(c->alerting.receivers[1].url, "https://events.pagerduty.com/v2/enqueue");
    assert_int_equal(c->alerting.receivers[2].to_count, 2);
    assert_int_equal(c->alerting.receivers[2].tls, RECEIVER_TLS_NONE);
    assert_string_equal(c->alerting.receivers[3].headers[0], "Authorization: from-the-env");
    assert_int_equal(c->alerting.tier_count[0], 2);
    assert_int_equal(c->alerting.tier_count[1], 2);
    assert_int_equal(c->alerting.tiers[1][1].receiver_count, 2);
    assert_int_equal(c->alerting.tiers[1][1].receivers[1], 2);
    assert_true(c->alerting.tiers[1][1].after_ms == 300000);
    assert_int_equal(c->alerting.breaker_failures, 2);
    agg_config_destroy(&c);
}

static void test_errors(void **state)
{
    (void)state;
    unsetenv("PGVIGIL_UNIT_UNSET");
    expect_error("rules: [{name: x, metric: replication_lag_minutes, warning: 1}]\n", "rules[0].metric");
    expect_error("rules: [{name: x, metric: node_up}]\n", "rules[0].critical");
    expect_error("rules: [{name: x, metric: node_up, critical: high}]\n", "rules[0].critical");
    expect_error("rules: [{name: new_rule, warning: 1}]\n", "rules[0].metric");
    expect_error("rules: [{name: replication_lag, warning: 50}]\n", "rules[0].critical");
    expect_error("rules: [{name: replication_lag, for: 10}]\n", "rules[0].for");
    expect_error("rules: [{name: replication_lag, roles: [leader]}]\n", "rules[0].roles");
    expect_error("rules: [{name: replication_lag, op: '>='}]\n", "rules[0].op");
    expect_error("rules: [{name: replication_lag, peak_factor: 2}]\n", "rules[0].peak_factor");
    expect_error("regions: {eu: {timezone: Europe/Atlantis}}\n", "regions.eu.timezone");
    expect_error("peak: {days: [caturday]}\n", "peak.days");
    expect_error("peak: {dates: [2026-13-01]}\n", "peak.dates");
    expect_error("peak: {hours: '11-18'}\n", "peak.hours");
    expect_error("peak: {threshold_factor: 0}\n", "peak.threshold_factor");
    expect_error("receivers: [{name: a, type: fax, url: 'http://x'}]\n", "receivers[0].type");
    expect_error("receivers: [{name: a, type: webhook, url: 'ftp://x'}]\n", "receivers[0].url");
    expect_error("receivers: [{name: a, type: webhook}]\n", "receivers[0].url");
    expect_error("receivers: [{name: a, type: webhook, url: 'http://x', secret_env: PGVIGIL_UNIT_UNSET}]\n",
                 "receivers[0].secret_env");
    expect_error("receivers: [{name: a, type: webhook, url: 'http://x', secret_file: /nonexistent/k}]\n",
                 "receivers[0].secret_file");
    expect_error("receivers: [{name: a, type: webhook, url: 'http://x', secret: s, secret_env: X}]\n",
                 "receivers[0].secret");
    expect_error("receivers: [{name: a, type: pagerduty}]\n", "receivers[0].routing_key");
    expect_error("receivers: [{name: a, type: email, url: 'smtp://m', to: [x@y]}]\n", "receivers[0].from");
    expect_error("receivers: [{name: a, type: sms, url: 'http://gw'}]\n", "receivers[0].body_template");
    expect_error("receivers: [{name: a, type: slack, url: 'http://x'}, {name: a, type: slack, url: 'http://y'}]\n",
                 "receivers[1].name");
    expect_error("receivers: [{name: a, type: slack, url: 'http://x'}]\n"
                 "escalation: {normal: [{after: 0s, receivers: [b]}]}\n",
                 "escalation.normal[0].receivers");
    expect_error("receivers: [{name: a, type: slack, url: 'http://x'}]\n"
                 "escalation: {peak: [{after: 5m, receivers: [a]}, {after: 1m, receivers: [a]}]}\n",
                 "escalation.peak[1].after");
    expect_error("delivery: {retry_initial: 10s, retry_max: 1s}\n", "delivery.retry_max");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_cover_the_design),
        cmocka_unit_test(test_overrides_receivers_escalation),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
