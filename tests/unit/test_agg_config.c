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
#include "keys_test.h"

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
    assert_int_equal(c->retention_raw_days, 2);
    assert_int_equal(c->retention_1m_days, 60);
    assert_int_equal(c->retention_1h_days, 730);
    assert_true(c->rollup_interval_ms == 60000);
    agg_config_destroy(&c);
    assert_null(c);

    char text[1024], cert[128], allowed[128], spool[128];
    keys_test_path(cert, sizeof cert, "agg_secret");
    keys_test_path(allowed, sizeof allowed, "allowed");
    keys_test_path(spool, sizeof spool, "spool");
    snprintf(text, sizeof text,
                               "listen:\n  ingest: [tcp://0.0.0.0:7400, ipc:///tmp/x]\n  http: '[::1]:8080'\n"
                               "curve: {server_cert: %s, allow_dir: %s}\n"
                               "clusters:\n  - {system_identifier: '7301234567890123456', name: weddings-eu}\n"
                               "stale_intervals: 5\npublish_interval: 250ms\nlog_level: warning\n"
                               "storage: {dsn: 'dbname=h', retention_days: 7, spool_dir: %s,"
                               " maintenance_interval: 10s, retention_raw_days: 3, retention_1m_days: 30,"
                               " retention_1h_days: 400, rollup_interval: 30s}\n", cert, allowed, spool);
    c = agg_config_load_string("agg.yaml", text, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->ingest_count, 2);
    assert_string_equal(c->curve_allow_dir, allowed);
    assert_string_equal(agg_config_cluster_name(c, 7301234567890123456ull), "weddings-eu");
    assert_null(agg_config_cluster_name(c, 1));
    assert_int_equal(c->stale_intervals, 5);
    assert_true(c->publish_interval_ms == 250);
    assert_string_equal(c->storage_dsn, "dbname=h");
    assert_int_equal(c->retention_days, 7);
    assert_string_equal(c->spool_dir, spool);
    assert_true(c->maintenance_interval_ms == 10000);
    assert_int_equal(c->retention_raw_days, 3);
    assert_int_equal(c->retention_1m_days, 30);
    assert_int_equal(c->retention_1h_days, 400);
    assert_true(c->rollup_interval_ms == 30000);
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
    snprintf(text, sizeof text, "%sstorage: {dsn: x, retention_raw_days: 0}\n", minimal);
    expect_error(text, "storage.retention_raw_days");
    snprintf(text, sizeof text, "%sstorage: {dsn: x, retention_raw_days: 5, retention_1m_days: 4}\n", minimal);
    expect_error(text, "storage.retention_1m_days"); /* minutes are rolled up from raw rows */
    snprintf(text, sizeof text, "%sstorage: {dsn: x, retention_1h_days: 59}\n", minimal);
    expect_error(text, "storage.retention_1h_days");
    snprintf(text, sizeof text, "%sstorage: {dsn: x, rollup_interval: 10ms}\n", minimal);
    expect_error(text, "storage.rollup_interval");
}

/* Issue 14: files named by the configuration must exist and load, and zero
 * where zero means nothing sensible is refused. */
static void test_files_and_zero_durations(void **state)
{
    (void)state;
    char text[1024], cert[128], allowed[128], spool[128], missing[128];
    keys_test_path(cert, sizeof cert, "agg_secret");
    keys_test_path(allowed, sizeof allowed, "allowed");
    keys_test_path(spool, sizeof spool, "spool");
    keys_test_path(missing, sizeof missing, "nope");
    snprintf(text, sizeof text, "%scurve: {server_cert: %s, allow_dir: %s}\n", minimal, missing, allowed);
    expect_error(text, "curve.server_cert");
    keys_test_path(cert, sizeof cert, "pub"); /* a public certificate: no secret key */
    snprintf(text, sizeof text, "%scurve: {server_cert: %s, allow_dir: %s}\n", minimal, cert, allowed);
    expect_error(text, "curve.server_cert");
    keys_test_path(cert, sizeof cert, "agg_secret");
    snprintf(text, sizeof text, "%scurve: {server_cert: %s, allow_dir: %s}\n", minimal, cert, missing);
    expect_error(text, "curve.allow_dir");
    snprintf(text, sizeof text, "%scurve: {server_cert: %s, allow_dir: %s}\n", minimal, cert, cert);
    expect_error(text, "curve.allow_dir"); /* a file, not a directory */
    snprintf(text, sizeof text, "%sstorage: {dsn: x, spool_dir: %s}\n", minimal, missing);
    expect_error(text, "storage.spool_dir");
    snprintf(text, sizeof text, "%sdelivery: {give_up_after: 0s}\n", minimal);
    expect_error(text, "delivery.give_up_after");
    snprintf(text, sizeof text, "%sdelivery: {breaker_cooldown: 0s}\n", minimal);
    expect_error(text, "delivery.breaker_cooldown");
    snprintf(text, sizeof text, "%sflapping: {window: 0s}\n", minimal);
    expect_error(text, "flapping.window");
    snprintf(text, sizeof text, "%sdelivery: {give_up_after: 1h, breaker_cooldown: 10s}\n"
                                "flapping: {window: 5m}\nstorage: {dsn: x, spool_dir: %s}\n", minimal, spool);
    char err[1024] = "";
    agg_config_t *c = agg_config_load_string("agg.yaml", text, err, sizeof err);
    if (!c)
        fail_msg("refused: %s", err);
    agg_config_destroy(&c);
}

/* The default spool directory must exist too once history is kept, and the
 * message says which key moves it. */
static void test_default_spool_dir(void **state)
{
    (void)state;
    struct stat st;
    if (stat("/var/lib/pgvigil", &st) == 0)
        skip(); /* installed here: the default exists */
    char text[512], err[1024] = "";
    snprintf(text, sizeof text, "%sstorage:\n  dsn: x\n", minimal);
    agg_config_t *c = agg_config_load_string("agg.yaml", text, err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, "agg.yaml:"));
    assert_non_null(strstr(err, "key \"storage.spool_dir\""));
    assert_non_null(strstr(err, "/var/lib/pgvigil"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_keys),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_files_and_zero_durations),
        cmocka_unit_test(test_default_spool_dir),
    };
    return cmocka_run_group_tests(tests, keys_test_setup, keys_test_teardown);
}
