/*
 * test_envelope.c — the envelope frame (common/envelope.c): encoding, and
 * decoding that refuses every malformed frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "envelope.h"

static void test_round_trip(void **state)
{
    (void)state;
    envelope_t in = {.version = ENVELOPE_VERSION, .type = ENVELOPE_SAMPLE};
    snprintf(in.node, sizeof in.node, "%s", "db-eu-1.replica_2");
    uint8_t buf[ENVELOPE_MAX_BYTES];
    size_t n = envelope_encode(&in, buf, sizeof buf);
    assert_int_equal(n, 5 + strlen(in.node));
    assert_int_equal(buf[0], 'P');
    assert_int_equal(buf[1], 'V');
    envelope_t out;
    assert_int_equal(envelope_decode(buf, n, &out), 0);
    assert_int_equal(out.version, ENVELOPE_VERSION);
    assert_int_equal(out.type, ENVELOPE_SAMPLE);
    assert_string_equal(out.node, in.node);
}

static void test_encode_refuses_bad_names(void **state)
{
    (void)state;
    uint8_t buf[ENVELOPE_MAX_BYTES];
    envelope_t e = {.version = ENVELOPE_VERSION, .type = ENVELOPE_SAMPLE};
    snprintf(e.node, sizeof e.node, "%s", "has space");
    assert_int_equal(envelope_encode(&e, buf, sizeof buf), 0);
    e.node[0] = '\0';
    assert_int_equal(envelope_encode(&e, buf, sizeof buf), 0);
    snprintf(e.node, sizeof e.node, "%s", "ok");
    e.type = 99;
    assert_int_equal(envelope_encode(&e, buf, sizeof buf), 0);
    e.type = ENVELOPE_SAMPLE;
    assert_int_equal(envelope_encode(&e, buf, 4), 0); /* too small */
}

static void test_name_rules(void **state)
{
    (void)state;
    char longname[ENVELOPE_NODE_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(envelope_node_name_valid(longname));
    longname[ENVELOPE_NODE_MAX] = '\0';
    assert_true(envelope_node_name_valid(longname));
    assert_true(envelope_node_name_valid("A-z_0.9"));
    assert_false(envelope_node_name_valid("a/b"));
    assert_false(envelope_node_name_valid("é"));
    assert_false(envelope_node_name_valid(""));
    assert_false(envelope_node_name_valid(NULL));
}

static void test_decode_malformed(void **state)
{
    (void)state;
    envelope_t out;
    const uint8_t good[] = {'P', 'V', ENVELOPE_VERSION, ENVELOPE_SAMPLE, 2, 'n', '1'};
    assert_int_equal(envelope_decode(good, sizeof good, &out), 0);
    for (size_t len = 0; len < sizeof good; len++) /* every truncation */
        assert_int_equal(envelope_decode(good, len, &out), -1);
    uint8_t bad[sizeof good + 1];
    memcpy(bad, good, sizeof good);
    bad[sizeof good] = 'x'; /* trailing byte */
    assert_int_equal(envelope_decode(bad, sizeof bad, &out), -1);
    const size_t fields[] = {0, 1, 2, 3, 4, 5};
    const uint8_t wrong[] = {'X', 'X', 9, 77, 0, ' '};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        memcpy(bad, good, sizeof good);
        bad[fields[i]] = wrong[i];
        assert_int_equal(envelope_decode(bad, sizeof good, &out), -1);
    }
    assert_int_equal(envelope_decode(NULL, 0, &out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_refuses_bad_names),
        cmocka_unit_test(test_name_rules),
        cmocka_unit_test(test_decode_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
