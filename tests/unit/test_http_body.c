/*
 * test_http_body.c — what the HTTP layer checks without a server: request
 * bodies (size, nesting depth before any parse, each JSON handler's
 * fields), time parameters (range, overflow) and the bounded audit of
 * refused requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_body.h"
#include "http_internal.h"
#include "http_refusals.h"

static char *repeat(const char *unit, int times)
{
    size_t n = strlen(unit);
    char *s = malloc(n * (size_t)times + 1);
    for (int i = 0; i < times; i++)
        memcpy(s + n * (size_t)i, unit, n);
    s[n * (size_t)times] = '\0';
    return s;
}

static void depth_is_counted_outside_strings(void **state)
{
    (void)state;
    const char *flat = "{\"a\": [1, 2, {\"b\": \"[[[[{{{{\\\"]]\"}]}";
    assert_int_equal(http_body_depth(flat, strlen(flat), 32), 3);
    assert_int_equal(http_body_depth("", 0, 32), 0);
    assert_int_equal(http_body_depth("]]]]}}[", 7, 32), 1);
    char *deep = repeat("[", 1000);
    assert_int_equal(http_body_depth(deep, 1000, 32), 33); /* stops counting past the limit */
    free(deep);
}

static void deep_bodies_are_refused_before_parsing(void **state)
{
    (void)state;
    char msg[256];
    json_t *out = (json_t *)1;
    char *deep = repeat("[", 100000); /* beyond the size limit too: 413 comes first */
    assert_int_equal(http_body_parse(deep, 100000, &out, msg, sizeof msg), 413);
    assert_null(out);
    assert_int_equal(http_body_parse(deep, 1000, &out, msg, sizeof msg), 400);
    assert_non_null(strstr(msg, "deeper than 32"));
    free(deep);
    char *ok = repeat("[", 31), *body = NULL;
    char *closing = repeat("]", 31);
    if (asprintf(&body, "{\"a\":%s%s}", ok, closing) < 0)
        fail();
    assert_int_equal(http_body_parse(body, strlen(body), &out, msg, sizeof msg), 0); /* 32 levels: accepted */
    json_decref(out);
    free(ok);
    free(closing);
    free(body);
    assert_int_equal(http_body_parse("[1]", 3, &out, msg, sizeof msg), 400);
    assert_non_null(strstr(msg, "another JSON value"));
    assert_int_equal(http_body_parse("{\"a\":1,\"a\":2}", 13, &out, msg, sizeof msg), 400);
}

static void handler_bodies_are_checked(void **state)
{
    (void)state;
    char msg[256];
    json_t *b = json_pack("{s:s,s:s}", "action", "acknowledge", "comment", "x");
    assert_true(http_body_alert_action(b, msg, sizeof msg));
    json_object_set_new(b, "sudo", json_true());
    assert_false(http_body_alert_action(b, msg, sizeof msg));
    assert_non_null(strstr(msg, "sudo"));
    json_decref(b);
    b = json_pack("{s:s}", "action", "explode");
    assert_false(http_body_alert_action(b, msg, sizeof msg));
    json_decref(b);
    b = json_pack("{s:[{s:s,s:s}],s:s}", "matchers", "name", "node", "value", "a", "comment", "c");
    assert_true(http_body_silence(b, msg, sizeof msg));
    json_object_set_new(b, "comment", json_integer(3));
    assert_false(http_body_silence(b, msg, sizeof msg));
    json_decref(b);
    b = json_pack("{s:s,s:s,s:b}", "node", "n", "operation", "VACUUM", "analyze", 1);
    assert_true(http_body_maintenance(b, msg, sizeof msg));
    json_object_set_new(b, "analyze", json_string("yes"));
    assert_false(http_body_maintenance(b, msg, sizeof msg));
    assert_non_null(strstr(msg, "true or false"));
    json_decref(b);
}

static void time_parameters_are_range_checked(void **state)
{
    (void)state;
    assert_true(http_time_valid(NULL));
    assert_true(http_time_valid("-1h"));
    assert_true(http_time_valid("1795000000"));
    assert_true(http_time_valid("1795000000.5"));
    assert_true(http_time_valid("2026-11-23T10:00:00Z")); /* text: the database parses it */
    assert_false(http_time_valid("9999999999999999999999")); /* wrapped to year -290308 */
    assert_false(http_time_valid("253402300800"));           /* year 10000 */
    assert_false(http_time_valid("1e400"));
    assert_false(http_time_valid("-5"));     /* neither a duration nor a time after 1970 */
    assert_false(http_time_valid("-99999999999d"));
    assert_false(http_time_valid("nan"));
}

static void refusals_are_audited_once_per_minute_per_key(void **state)
{
    (void)state;
    http_refusals_t *r = http_refusals_new(60 * 1000000LL);
    http_refusal_t due[8];
    size_t n = 0;
    int64_t t0 = 1000000000;
    assert_true(http_refusals_note(r, "10.0.0.1", "anonymous", "none", 429, t0, due, 8, &n));
    for (int i = 1; i <= 3000; i++)
        assert_false(http_refusals_note(r, "10.0.0.1", "anonymous", "none", 429, t0 + i, due, 8, &n));
    assert_int_equal(n, 0);
    /* another status or client is another key */
    assert_true(http_refusals_note(r, "10.0.0.1", "anonymous", "none", 401, t0 + 5, due, 8, &n));
    assert_true(http_refusals_note(r, "10.0.0.2", "anonymous", "none", 429, t0 + 5, due, 8, &n));
    /* a minute later: one summary of the 3000, and the next refusal is written again */
    assert_true(http_refusals_note(r, "10.0.0.1", "anonymous", "none", 429, t0 + 61000000, due, 8, &n));
    assert_int_equal(n, 1);
    assert_int_equal(due[0].count, 3000);
    assert_int_equal(due[0].status, 429);
    assert_string_equal(due[0].client, "10.0.0.1");
    /* many clients: the table stays bounded, and nothing is written per request */
    int written = 0;
    for (int i = 0; i < 10000; i++) {
        char client[48];
        snprintf(client, sizeof client, "10.1.%d.%d", i / 256, i % 256);
        written += http_refusals_note(r, client, "anonymous", "none", 429, t0 + 61000001, due, 8, &n);
    }
    assert_true(written <= HTTP_REFUSALS_KEYS);
    assert_true(http_refusals_drain(r, due, 8) <= 8);
    http_refusals_destroy(&r);
    assert_null(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(depth_is_counted_outside_strings),
        cmocka_unit_test(deep_bodies_are_refused_before_parsing),
        cmocka_unit_test(handler_bodies_are_checked),
        cmocka_unit_test(time_parameters_are_range_checked),
        cmocka_unit_test(refusals_are_audited_once_per_minute_per_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
