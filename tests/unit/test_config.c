/*
 * test_config.c — YAML configuration access (common/config.c): typed values,
 * defaults, and error messages that name the file, the line, the key and
 * what was expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static config_t *load(const char *text)
{
    char err[256] = "";
    config_t *cfg = config_load_string("test.yaml", text, err, sizeof err);
    if (!cfg)
        fail_msg("load failed: %s", err);
    return cfg;
}

static void test_typed_values(void **state)
{
    (void)state;
    config_t *cfg = load("node: db-1\n"
                         "interval: 250ms\n"
                         "slow: 1.5s\n"
                         "queue: 3600\n"
                         "ratio: 0.5\n"
                         "on: yes\n"
                         "mode: replica\n"
                         "list: [a, b, c]\n"
                         "nested: {x: 1}\n");
    const config_node_t *root = config_root(cfg);
    const char *node = NULL;
    uint64_t ms = 0, slow = 0, queue = 0, missing = 77;
    double ratio = 0;
    bool on = false;
    int mode = -1;
    const char *modes[] = {"primary", "replica", NULL};
    assert_int_equal(config_str(cfg, root, "node", true, &node), 0);
    assert_string_equal(node, "db-1");
    assert_int_equal(config_duration_ms(cfg, root, "interval", false, &ms), 0);
    assert_true(ms == 250);
    assert_int_equal(config_duration_ms(cfg, root, "slow", false, &slow), 0);
    assert_true(slow == 1500);
    assert_int_equal(config_uint(cfg, root, "queue", false, 1, 100000, &queue), 0);
    assert_true(queue == 3600);
    assert_int_equal(config_double(cfg, root, "ratio", false, 0, 1, &ratio), 0);
    assert_true(ratio == 0.5);
    assert_int_equal(config_bool(cfg, root, "on", false, &on), 0);
    assert_true(on);
    assert_int_equal(config_enum(cfg, root, "mode", false, modes, &mode), 0);
    assert_int_equal(mode, 1);
    assert_int_equal(config_duration_ms(cfg, root, "absent", false, &missing), 0);
    assert_true(missing == 77); /* default untouched */

    const config_node_t *list = NULL;
    assert_int_equal(config_seq(cfg, root, "list", true, &list), 0);
    assert_int_equal(config_seq_len(list), 3);
    const char *item = NULL;
    assert_int_equal(config_seq_str(cfg, list, 2, &item), 0);
    assert_string_equal(item, "c");
    const config_node_t *nested = NULL;
    assert_int_equal(config_map(cfg, root, "nested", true, &nested), 0);
    assert_int_equal(config_map_len(nested), 1);
    assert_string_equal(config_map_key(cfg, nested, 0), "x");
    assert_string_equal(config_node_path(nested), "nested");
    assert_null(config_error(cfg));
    config_destroy(&cfg);
    assert_null(cfg);
}

/* Each case: the YAML, the accessor to run, and text the error must contain. */
static void expect_error(const char *yaml, int (*probe)(config_t *, const config_node_t *),
                         const char *const *needles)
{
    config_t *cfg = load(yaml);
    assert_int_equal(probe(cfg, config_root(cfg)), -1);
    const char *err = config_error(cfg);
    assert_non_null(err);
    for (const char *const *n = needles; *n; n++)
        if (!strstr(err, *n))
            fail_msg("error \"%s\" lacks \"%s\"", err, *n);
    config_destroy(&cfg);
}

static int probe_interval(config_t *cfg, const config_node_t *root)
{
    uint64_t ms;
    return config_duration_ms(cfg, root, "interval", false, &ms);
}

static int probe_node(config_t *cfg, const config_node_t *root)
{
    const char *v;
    return config_str(cfg, root, "node", true, &v);
}

static int probe_keys(config_t *cfg, const config_node_t *root)
{
    static const char *const allowed[] = {"node", "interval", NULL};
    return config_expect_keys(cfg, root, allowed);
}

static int probe_nested_uint(config_t *cfg, const config_node_t *root)
{
    const config_node_t *st = config_get(cfg, root, "statements");
    uint64_t v;
    return config_uint(cfg, st, "max", false, 1, 10000, &v);
}

static void test_errors_name_file_line_key(void **state)
{
    (void)state;
    expect_error("node: a\ninterval: fast\n", probe_interval,
                 (const char *[]){"test.yaml:2:", "\"interval\"", "duration", "\"fast\"", NULL});
    expect_error("interval: 5\n", probe_interval, /* a bare number has no unit */
                 (const char *[]){"\"interval\"", "\"5\"", NULL});
    expect_error("region: eu\n", probe_node,
                 (const char *[]){"test.yaml:", "\"node\"", "required", NULL});
    expect_error("node: a\nintreval: 1s\n", probe_keys,
                 (const char *[]){"test.yaml:2:", "\"intreval\"", "unknown key", "interval", NULL});
    expect_error("node: a\nnode: b\n", probe_keys, (const char *[]){"more than once", NULL});
    expect_error("statements:\n  max: -3\n", probe_nested_uint,
                 (const char *[]){"test.yaml:2:", "\"statements.max\"", "whole number", NULL});
    expect_error("node: [a]\n", probe_node, (const char *[]){"\"node\"", "list", NULL});
}

static void test_first_error_sticks(void **state)
{
    (void)state;
    config_t *cfg = load("interval: nope\nnode: fine\n");
    const config_node_t *root = config_root(cfg);
    uint64_t ms;
    const char *node;
    assert_int_equal(config_duration_ms(cfg, root, "interval", false, &ms), -1);
    assert_int_equal(config_str(cfg, root, "node", true, &node), -1);
    assert_non_null(strstr(config_error(cfg), "interval"));
    config_destroy(&cfg);
}

static void test_parse_duration(void **state)
{
    (void)state;
    const struct {
        const char *text;
        uint64_t ms;
    } ok[] = {{"0s", 0}, {"0", 0}, {"500ms", 500}, {"1s", 1000}, {"1.5s", 1500},
              {"5m", 300000}, {"1h", 3600000}, {"2d", 172800000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t ms = 99;
        assert_int_equal(config_parse_duration_ms(ok[i].text, &ms), 0);
        assert_true(ms == ok[i].ms);
    }
    const char *bad[] = {"", "1", "00", "0.0", "s", "-1s", "+1s", "1 s", "1sec", "0.5ms", "1e99d", "nan s", NULL};
    for (const char **b = bad; *b; b++) {
        uint64_t ms;
        if (config_parse_duration_ms(*b, &ms) == 0)
            fail_msg("\"%s\" was accepted as a duration", *b);
    }
}

static void test_parse_bool(void **state)
{
    (void)state;
    bool v = false;
    assert_int_equal(config_parse_bool("true", &v), 0);
    assert_true(v);
    assert_int_equal(config_parse_bool("off", &v), 0);
    assert_false(v);
    assert_int_equal(config_parse_bool("maybe", &v), -1);
}

static void test_load_file_errors(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(config_load("/nonexistent/pgvigil.yaml", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/pgvigil.yaml"));

    char path[] = "/tmp/pgvigil-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char bad[] = "node: a\n  interval: [\n";
    assert_int_equal(write(fd, bad, sizeof bad - 1), (ssize_t)(sizeof bad - 1));
    close(fd);
    err[0] = '\0';
    assert_null(config_load(path, err, sizeof err));
    assert_non_null(strstr(err, path)); /* a YAML syntax error names the file */
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typed_values),
        cmocka_unit_test(test_errors_name_file_line_key),
        cmocka_unit_test(test_first_error_sticks),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_load_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
