/*
 * test_agg_config.c — the aggregator's configuration: defaults, every key,
 * and errors naming the file, the key and the expectation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agg_config.h"
#include "agg_config_test.h"

#define expect_error(body, key) expect_agg_error("", body, key)

static const char *minimal = "listen:\n  ingest: [tcp://0.0.0.0:7400]\n  http: 127.0.0.1:8080\n";

static void test_defaults_and_keys(void **state)
{
    (void)state;
    char err[1024];
    agg_config_t *c = agg_config_load_string("agg.yaml", minimal, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->ingest_count, 1);
    assert_string_equal(c->http_listen, "127.0.0.1:8080");
    assert_int_equal(c->stale_intervals, 3);
    assert_true(c->publish_interval_ms == 100);
    assert_null(c->curve_server_cert);
    assert_null(c->storage_dsn);
    assert_int_equal(c->retention_days, 60);
    agg_config_destroy(&c);
    assert_null(c);

    c = agg_config_load_string("agg.yaml",
                               "listen:\n  ingest: [tcp://0.0.0.0:7400, ipc:///tmp/x]\n  http: '[::1]:8080'\n"
                               "curve: {server_cert: /k/agg_secret, allow_dir: /k/collectors}\n"
                               "clusters:\n  - {system_identifier: '7301234567890123456', name: weddings-eu}\n"
                               "stale_intervals: 5\npublish_interval: 250ms\nlog_level: warning\n"
                               "storage: {dsn: 'dbname=h', retention_days: 7, spool_dir: /s,"
                               " maintenance_interval: 10s}\n",
                               err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->ingest_count, 2);
    assert_string_equal(c->curve_allow_dir, "/k/collectors");
    assert_string_equal(agg_config_cluster_name(c, 7301234567890123456ull), "weddings-eu");
    assert_null(agg_config_cluster_name(c, 1));
    assert_int_equal(c->stale_intervals, 5);
    assert_true(c->publish_interval_ms == 250);
    assert_string_equal(c->storage_dsn, "dbname=h");
    assert_int_equal(c->retention_days, 7);
    assert_string_equal(c->spool_dir, "/s");
    assert_true(c->maintenance_interval_ms == 10000);
    agg_config_destroy(&c);
}

static void test_errors(void **state)
{
    (void)state;
    char text[512];
    expect_error("stale_intervals: 3\n", "listen");
    expect_error("listen:\n  ingest: []\n  http: 127.0.0.1:8080\n", "listen.ingest");
    expect_error("listen:\n  ingest: [0.0.0.0:7400]\n  http: 127.0.0.1:8080\n", "listen.ingest");
    expect_error("listen:\n  ingest: [tcp://0.0.0.0:7400]\n  http: localhost\n", "listen.http");
    expect_error("listen:\n  ingest: [tcp://0.0.0.0:7400]\n  http: h:99999\n", "listen.http");
    snprintf(text, sizeof text, "%sstale_intervals: 1\n", minimal);
    expect_error(text, "stale_intervals");
    snprintf(text, sizeof text, "%spublish_interval: soon\n", minimal);
    expect_error(text, "publish_interval");
    snprintf(text, sizeof text, "%scurve: {server_cert: /k}\n", minimal);
    expect_error(text, "curve.allow_dir");
    snprintf(text, sizeof text, "%sclusters: [{system_identifier: abc, name: x}]\n", minimal);
    expect_error(text, "clusters[0].system_identifier");
    snprintf(text, sizeof text, "%sstorage: {retention_days: 30}\n", minimal);
    expect_error(text, "storage.dsn");
    snprintf(text, sizeof text, "%sstorage: {dsn: x, retention_days: 0}\n", minimal);
    expect_error(text, "storage.retention_days");
    snprintf(text, sizeof text, "%sstorage: {dsn: x, spool: /tmp}\n", minimal);
    expect_error(text, "storage.spool");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_keys),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
