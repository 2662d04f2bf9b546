/*
 * test_collector_config.c — the collector's configuration: defaults, every
 * key, and errors that name the file, the key and what was expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "col_config.h"
#include "keys_test.h"
#include "log.h"

static col_config_t *load_ok(const char *text, bool need_aggregators)
{
    char err[1024] = "";
    col_config_t *c = col_config_load_string("collector.yaml", text, need_aggregators, err, sizeof err);
    if (!c)
        fail_msg("unexpected error: %s", err);
    return c;
}

static void expect_error(const char *text, const char *key)
{
    char err[1024] = "";
    char quoted[128];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    col_config_t *c = col_config_load_string("collector.yaml", text, true, err, sizeof err);
    if (c)
        fail_msg("accepted: %s", text);
    if (!strstr(err, "collector.yaml:") || !strstr(err, quoted))
        fail_msg("error \"%s\" does not name the file and key %s", err, quoted);
}

static void test_defaults(void **state)
{
    (void)state;
    col_config_t *c = load_ok("node: db-1\nregion: eu\ndsn: host=x\naggregators: [tcp://a:7400]\n", true);
    assert_string_equal(c->node, "db-1");
    assert_string_equal(c->region, "eu");
    assert_string_equal(c->dsn, "host=x");
    assert_int_equal(c->aggregator_count, 1);
    assert_string_equal(c->aggregators[0], "tcp://a:7400");
    assert_true(c->interval_ms == 1000);
    assert_true(c->slow_interval_ms == 15000);
    assert_true(c->stats_interval_ms == 60000);
    assert_true(c->statement_timeout_ms == 1000); /* min(interval, 5 s) */
    assert_true(c->statements_enabled && c->statements_query_text);
    assert_true(c->send_queue == 3600);
    assert_null(c->databases);
    assert_null(c->curve_client_cert);
    assert_int_equal(c->log_level, LOG_LEVEL_INFO);
    col_config_destroy(&c);
    assert_null(c);
}

static void test_every_key(void **state)
{
    (void)state;
    char text[1024], agg[128], me[128];
    keys_test_path(agg, sizeof agg, "agg");
    keys_test_path(me, sizeof me, "me_secret");
    snprintf(text, sizeof text, "node: db-1\nregion: eu\ndsn: host=x\n"
                              "aggregators: [tcp://a:7400, tcp://b:7400]\n"
                              "databases: [app, postgres]\n"
                              "interval: 250ms\nslow_interval: 5s\nstats_interval: 2m\n"
                              "hourly_interval: 1h\nconnect_timeout: 2s\n"
                              "statement_timeout: 3s\nlock_timeout: 100ms\n"
                              "statements: {enabled: false, query_text: false, max: 50,"
                              " query_text_max: 200}\n"
                              "curve: {server_public_key: %s, client_cert: %s}\n"
                              "send_queue: 10\nlog_level: debug\n", agg, me);
    col_config_t *c = load_ok(text, true);
    assert_int_equal(c->aggregator_count, 2);
    assert_int_equal(c->database_count, 2);
    assert_string_equal(c->databases[1], "postgres");
    assert_true(c->interval_ms == 250 && c->slow_interval_ms == 5000);
    assert_true(c->stats_interval_ms == 120000 && c->connect_timeout_ms == 2000);
    assert_true(c->statement_timeout_ms == 3000 && c->lock_timeout_ms == 100);
    assert_false(c->statements_enabled);
    assert_false(c->statements_query_text);
    assert_true(c->statements_max == 50 && c->statements_query_text_max == 200);
    assert_string_equal(c->curve_server_public_key, agg);
    assert_string_equal(c->curve_client_cert, me);
    assert_true(c->send_queue == 10);
    assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
    col_config_destroy(&c);
}

static void test_once_needs_no_aggregators(void **state)
{
    (void)state;
    col_config_t *c = load_ok("node: db-1\nregion: eu\ndsn: host=x\n", false);
    assert_int_equal(c->aggregator_count, 0);
    col_config_destroy(&c);
}

static void test_errors_name_the_key(void **state)
{
    (void)state;
    const char *base = "region: eu\ndsn: host=x\naggregators: [tcp://a:1]\n";
    char text[512];
    expect_error(base, "node");
    snprintf(text, sizeof text, "node: db-1\n%sinterval: fast\n", base);
    expect_error(text, "interval");
    snprintf(text, sizeof text, "node: db-1\n%sintreval: 1s\n", base);
    expect_error(text, "intreval");
    snprintf(text, sizeof text, "node: 'db 1'\n%s", base);
    expect_error(text, "node");
    expect_error("node: db-1\nregion: eu\ndsn: host=x\n", "aggregators");
    expect_error("node: db-1\nregion: eu\ndsn: host=x\naggregators: [a:1]\n", "aggregators");
    snprintf(text, sizeof text, "node: db-1\n%sstatements: {max: 0}\n", base);
    expect_error(text, "statements.max");
    snprintf(text, sizeof text, "node: db-1\n%sstatements: {maximum: 3}\n", base);
    expect_error(text, "statements.maximum");
    snprintf(text, sizeof text, "node: db-1\n%scurve: {client_cert: /x}\n", base);
    expect_error(text, "curve.server_public_key");
    snprintf(text, sizeof text, "node: db-1\n%sinterval: 2s\nslow_interval: 1s\n", base);
    expect_error(text, "slow_interval");
    snprintf(text, sizeof text, "node: db-1\n%slog_level: loud\n", base);
    expect_error(text, "log_level");
    snprintf(text, sizeof text, "node: db-1\n%ssend_queue: -1\n", base);
    expect_error(text, "send_queue");
    snprintf(text, sizeof text, "node: db-1\n%smaintenance: {enabled: sometimes}\n", base);
    expect_error(text, "maintenance.enabled");
    snprintf(text, sizeof text, "node: db-1\n%sbackup: {interval: 1h}\n", base);
    expect_error(text, "backup.directory");
    snprintf(text, sizeof text, "node: db-1\n%sbackup: {directory: backups}\n", base);
    expect_error(text, "backup.directory");
    snprintf(text, sizeof text, "node: db-1\n%sbackup: {directory: /b, restore: {enabled: true}}\n", base);
    expect_error(text, "backup.restore.query");
    snprintf(text, sizeof text, "node: db-1\n%sbackup: {directory: /b, restore: {rto: soon}}\n", base);
    expect_error(text, "backup.restore.rto");
}

/* Issue 14: files named by the configuration must exist and load, and zero
 * where zero means nothing sensible is refused. */
static void test_files_and_zero_durations(void **state)
{
    (void)state;
    const char *base = "node: db-1\nregion: eu\ndsn: host=x\naggregators: [tcp://a:1]\n";
    char text[1024], agg[128], me[128], missing[128];
    keys_test_path(agg, sizeof agg, "agg");
    keys_test_path(me, sizeof me, "me_secret");
    keys_test_path(missing, sizeof missing, "nope_secret");
    snprintf(text, sizeof text, "%scurve: {server_public_key: %s, client_cert: %s}\n", base, agg, missing);
    expect_error(text, "curve.client_cert");
    keys_test_path(me, sizeof me, "pub"); /* a public certificate: no secret key */
    snprintf(text, sizeof text, "%scurve: {server_public_key: %s, client_cert: %s}\n", base, agg, me);
    expect_error(text, "curve.client_cert");
    keys_test_path(me, sizeof me, "me_secret");
    snprintf(text, sizeof text, "%scurve: {server_public_key: %s, client_cert: %s}\n", base, missing + 1, me);
    expect_error(text, "curve.server_public_key");
    snprintf(text, sizeof text, "%slock_timeout: 0s\n", base);
    expect_error(text, "lock_timeout");
    snprintf(text, sizeof text, "%smaintenance: {enabled: true, lock_timeout: 0ms}\n", base);
    expect_error(text, "maintenance.lock_timeout");
    snprintf(text, sizeof text, "%sbackup: {directory: /b, restore: {rto: 0s}}\n", base);
    expect_error(text, "backup.restore.rto");
}

static void test_error_names_the_line(void **state)
{
    (void)state;
    char err[1024] = "";
    col_config_t *c = col_config_load_string("collector.yaml",
                                             "node: db-1\nregion: eu\ndsn: host=x\n"
                                             "aggregators: [tcp://a:1]\nlock_timeout: 0s\n",
                                             true, err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, "collector.yaml:5: key \"lock_timeout\": expected a positive duration"));
}

/* The replica watch: 250ms unless set, 0 turns it off, at least 50ms and
 * below the interval otherwise; off by default where rounds come as often. */
static void test_watch_interval(void **state)
{
    (void)state;
    const char *base = "node: db-1\nregion: eu\ndsn: host=x\naggregators: [tcp://a:1]\n";
    char text[512], err[1024] = "";
    col_config_t *c = load_ok(base, true);
    assert_true(c->watch_interval_ms == 250);
    col_config_destroy(&c);
    snprintf(text, sizeof text, "%swatch_interval: 0s\n", base);
    c = load_ok(text, true);
    assert_true(c->watch_interval_ms == 0);
    col_config_destroy(&c);
    snprintf(text, sizeof text, "%sinterval: 2s\nwatch_interval: 50ms\n", base);
    c = load_ok(text, true);
    assert_true(c->watch_interval_ms == 50);
    col_config_destroy(&c);
    snprintf(text, sizeof text, "%sinterval: 250ms\n", base);
    c = load_ok(text, true);
    assert_true(c->watch_interval_ms == 0);
    col_config_destroy(&c);
    snprintf(text, sizeof text, "%swatch_interval: 30ms\n", base);
    expect_error(text, "watch_interval");
    snprintf(text, sizeof text, "%swatch_interval: 1s\n", base);
    expect_error(text, "watch_interval");
    snprintf(text, sizeof text, "%sinterval: 500ms\nwatch_interval: 600ms\n", base);
    expect_error(text, "watch_interval");
    snprintf(text, sizeof text, "%swatch_interval: often\n", base);
    expect_error(text, "watch_interval");
    assert_null(col_config_load_string("collector.yaml", "node: db-1\nregion: eu\ndsn: host=x\n"
                                       "aggregators: [tcp://a:1]\nwatch_interval: 30ms\n", true, err, sizeof err));
    assert_non_null(strstr(err, "collector.yaml:5: key \"watch_interval\": expected 0 (off) or a duration of at "
                                "least 50ms and below the interval (1000ms)"));
}

static void test_maintenance_and_backup(void **state)
{
    (void)state;
    col_config_t *c = load_ok("node: db-1\nregion: eu\ndsn: host=x\naggregators: [tcp://a:7400]\n", true);
    assert_false(c->maintenance_enabled); /* off unless asked for */
    assert_null(c->backup_directory);
    col_config_destroy(&c);
    c = load_ok("node: db-1\nregion: eu\ndsn: host=x\naggregators: [tcp://a:7400]\n"
                "maintenance: {enabled: true, lock_timeout: 2s}\n"
                "backup: {directory: /var/backups/pg, interval: 30m,"
                " restore: {enabled: true, query: select 1, rto: 10m, user: postgres}}\n",
                true);
    assert_true(c->maintenance_enabled);
    assert_true(c->maintenance_lock_timeout_ms == 2000);
    assert_true(c->maintenance_statement_timeout_ms == 3600000);
    assert_string_equal(c->backup_directory, "/var/backups/pg");
    assert_true(c->backup_interval_ms == 1800000);
    assert_true(c->restore_enabled);
    assert_true(c->restore_rto_ms == 600000);
    assert_string_equal(c->restore_query, "select 1");
    assert_string_equal(c->restore_user, "postgres");
    assert_true(c->restore_interval_ms == 86400000);
    col_config_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_once_needs_no_aggregators),
        cmocka_unit_test(test_errors_name_the_key),
        cmocka_unit_test(test_maintenance_and_backup),
        cmocka_unit_test(test_files_and_zero_durations),
        cmocka_unit_test(test_error_names_the_line),
        cmocka_unit_test(test_watch_interval),
    };
    return cmocka_run_group_tests(tests, keys_test_setup, keys_test_teardown);
}
