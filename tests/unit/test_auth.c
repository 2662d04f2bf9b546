/*
 * test_auth.c — API tokens (generation, hashing, bearer check), the token
 * bucket, and the auth/http configuration with its errors.
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
#include "auth.h"

#define expect_error(body, key) expect_agg_error(LISTEN, body, key)


static void test_tokens(void **state)
{
    (void)state;
    char t1[64], h1[65], t2[64], h2[65], text[1024], err[512];
    assert_int_equal(auth_new_token(t1, h1), 0);
    assert_int_equal(auth_new_token(t2, h2), 0);
    assert_int_equal(strlen(t1), 43);
    assert_string_not_equal(t1, t2);
    char check[65];
    auth_sha256_hex("abc", check); /* FIPS 180-2 example */
    assert_string_equal(check, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    snprintf(text, sizeof text, LISTEN "auth:\n  anonymous: viewer\n  tokens:\n"
                                "    - {name: a, role: operator, sha256: %s}\n    - {name: b, role: admin, sha256: %s}\n",
             h1, h2);
    agg_config_t *c = agg_config_load_string("agg.yaml", text, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_true(c->auth.enabled);
    assert_int_equal(c->auth.anonymous, AUTH_VIEWER);
    assert_true(c->auth.rate_per_second == 50); /* default with auth */
    char hdr[80];
    snprintf(hdr, sizeof hdr, "Bearer %s", t1);
    const auth_token_t *tok = auth_check(&c->auth, hdr);
    assert_non_null(tok);
    assert_string_equal(tok->name, "a");
    assert_int_equal(tok->role, AUTH_OPERATOR);
    snprintf(hdr, sizeof hdr, "bearer   %s", t2);
    assert_int_equal(auth_check(&c->auth, hdr)->role, AUTH_ADMIN);
    assert_null(auth_check(&c->auth, "Bearer nope"));
    assert_null(auth_check(&c->auth, t1)); /* no scheme */
    assert_null(auth_check(&c->auth, NULL));
    agg_config_destroy(&c);

    c = agg_config_load_string("agg.yaml", LISTEN, err, sizeof err);
    assert_false(c->auth.enabled);
    assert_true(c->auth.rate_per_second == 0); /* no auth: no default limit */
    agg_config_destroy(&c);
}

static void test_bucket(void **state)
{
    (void)state;
    auth_limiter_t *l = auth_limiter_new(2, 3); /* 2/s, burst 3 */
    int64_t t = 1000000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(auth_limiter_take(l, "ip:a", t), 0);
    assert_int_equal(auth_limiter_take(l, "ip:a", t), 1); /* empty: 0.5 s to the next token, rounded up */
    assert_int_equal(auth_limiter_take(l, "ip:b", t), 0);  /* its own bucket */
    assert_int_equal(auth_limiter_take(l, "ip:a", t + 500000), 0);
    assert_int_equal(auth_limiter_take(l, "ip:a", t + 500000), 1);
    assert_int_equal(auth_limiter_take(l, "ip:a", t + 10000000), 0); /* refilled, capped at the burst */
    assert_int_equal(auth_limiter_take(l, "ip:a", t + 10000000), 0);
    assert_int_equal(auth_limiter_take(l, "ip:a", t + 10000000), 0);
    assert_int_equal(auth_limiter_take(l, "ip:a", t + 10000000), 1);
    auth_limiter_destroy(&l);
    assert_null(auth_limiter_new(0, 10)); /* no limit */
    assert_int_equal(auth_limiter_take(NULL, "x", t), 0);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("auth: {tokens: [{name: a, role: root, sha256: 00}]}\n", "auth.tokens[0].role");
    expect_error("auth: {tokens: [{name: a, role: admin, sha256: 00}]}\n", "auth.tokens[0].sha256");
    expect_error("auth: {tokens: [{name: a, role: none, sha256: 00}]}\n", "auth.tokens[0].role");
    expect_error("auth: {anonymous: admin}\n", "auth.anonymous");
    expect_error("auth: {token: []}\n", "auth.token");
    expect_error("http: {rate_limit: {per_second: fast}}\n", "http.rate_limit.per_second");
    expect_error("http: {redirect_from: '0.0.0.0:80'}\n", "http.redirect_from");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
