/*
 * test_cluster_config.c — the `cluster` section of the aggregator's
 * configuration (aggregator/cluster/cluster_config.c): a single Redis, Redis
 * Sentinel, defaults, and errors naming the file and the key.
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
#include "cluster_config.h"

#define expect_error(body, key) expect_agg_error(LISTEN, body, key)

static agg_config_t *load(const char *body)
{
    char err[1024] = "", text[2048];
    snprintf(text, sizeof text, "%s%s", LISTEN, body);
    agg_config_t *c = agg_config_load_string("agg.yaml", text, err, sizeof err);
    if (!c)
        fail_msg("refused: %s", err);
    return c;
}

static void test_absent_section_is_a_single_aggregator(void **state)
{
    (void)state;
    agg_config_t *c = load("");
    assert_false(c->cluster.enabled);
    assert_true(c->cluster.lease_ttl_ms == 5000);
    agg_config_destroy(&c);
}

static void test_single_redis_with_defaults(void **state)
{
    (void)state;
    agg_config_t *c = load("cluster:\n  name: agg-eu-1\n  redis: {address: 127.0.0.1:6379}\n");
    assert_true(c->cluster.enabled);
    assert_string_equal(c->cluster.name, "agg-eu-1");
    assert_string_equal(c->cluster.redis.host, "127.0.0.1");
    assert_int_equal(c->cluster.redis.port, 6379);
    assert_int_equal(c->cluster.sentinel_count, 0);
    assert_null(c->cluster.password);
    assert_true(c->cluster.lease_ttl_ms == 5000 && c->cluster.timeout_ms == 500 &&
                c->cluster.publish_interval_ms == 1000);
    agg_config_destroy(&c);
}

static void test_sentinels_and_every_key(void **state)
{
    (void)state;
    agg_config_t *c = load("cluster:\n  name: b\n  lease_ttl: 2s\n  publish_interval: 250ms\n"
                           "  redis:\n    sentinels: [10.0.0.1:26379, 'sentinel-2:26380', '[::1]:26381']\n"
                           "    master_name: pgvigil\n    password: s3cret\n    database: 3\n"
                           "    timeout: 200ms\n");
    const cluster_config_t *k = &c->cluster;
    assert_int_equal(k->sentinel_count, 3);
    assert_string_equal(k->sentinels[1].host, "sentinel-2");
    assert_int_equal(k->sentinels[1].port, 26380);
    assert_string_equal(k->sentinels[2].host, "::1");
    assert_string_equal(k->master_name, "pgvigil");
    assert_string_equal(k->password, "s3cret");
    assert_int_equal(k->database, 3);
    assert_true(k->lease_ttl_ms == 2000 && k->timeout_ms == 200 && k->publish_interval_ms == 250);
    agg_config_destroy(&c);
}

static void test_address_parsing(void **state)
{
    (void)state;
    cluster_addr_t a;
    assert_int_equal(cluster_addr_parse("redis.internal:6379", &a), 0);
    assert_string_equal(a.host, "redis.internal");
    assert_int_equal(cluster_addr_parse("[fe80::1]:1", &a), 0);
    assert_string_equal(a.host, "fe80::1");
    const char *bad[] = {"", "6379", ":6379", "h:", "h:0", "h:65536", "h:12x", "::1:6379", "[::1]6379", NULL};
    for (int i = 0; bad[i]; i++)
        if (cluster_addr_parse(bad[i], &a) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_true(cluster_name_valid("agg_eu-1.a"));
    assert_false(cluster_name_valid("agg eu"));
    assert_false(cluster_name_valid(""));
    assert_false(cluster_name_valid("a:b"));
}

static void test_errors_name_the_key(void **state)
{
    (void)state;
    expect_error("cluster: {redis: {address: 'h:1'}}\n", "cluster.name");
    expect_error("cluster: {name: 'a b', redis: {address: 'h:1'}}\n", "cluster.name");
    expect_error("cluster: {name: a}\n", "cluster.redis");
    expect_error("cluster: {name: a, redis: {}}\n", "cluster.redis");
    expect_error("cluster: {name: a, redis: {address: 'h:1', sentinels: ['h:2'], master_name: m}}\n",
                 "cluster.redis");
    expect_error("cluster: {name: a, redis: {address: nowhere}}\n", "cluster.redis.address");
    expect_error("cluster: {name: a, redis: {sentinels: ['h:2']}}\n", "cluster.redis.master_name");
    expect_error("cluster: {name: a, redis: {sentinels: [], master_name: m}}\n", "cluster.redis.sentinels");
    expect_error("cluster: {name: a, redis: {sentinels: ['h'], master_name: m}}\n", "cluster.redis.sentinels");
    expect_error("cluster: {name: a, redis: {address: 'h:1', master_name: m}}\n", "cluster.redis.master_name");
    expect_error("cluster: {name: a, redis: {address: 'h:1', database: 16}}\n", "cluster.redis.database");
    expect_error("cluster: {name: a, redis: {address: 'h:1', timeout: 1ms}}\n", "cluster.redis.timeout");
    expect_error("cluster: {name: a, redis: {address: 'h:1', pasword: x}}\n", "cluster.redis.pasword");
    expect_error("cluster: {name: a, lease_ttl: 100ms, redis: {address: 'h:1'}}\n", "cluster.lease_ttl");
    expect_error("cluster: {name: a, lease_ttl: 5, redis: {address: 'h:1'}}\n", "cluster.lease_ttl");
    expect_error("cluster: {name: a, publish_interval: 1ms, redis: {address: 'h:1'}}\n",
                 "cluster.publish_interval");
    expect_error("cluster: {name: a, leases: 1s, redis: {address: 'h:1'}}\n", "cluster.leases");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_section_is_a_single_aggregator),
        cmocka_unit_test(test_single_redis_with_defaults),
        cmocka_unit_test(test_sentinels_and_every_key),
        cmocka_unit_test(test_address_parsing),
        cmocka_unit_test(test_errors_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
