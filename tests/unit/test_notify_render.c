/*
 * test_notify_render.c — what each receiver type is sent: webhook signature
 * (HMAC-SHA256, RFC 4231 vector), Slack text, PagerDuty Events API v2
 * actions and dedup keys, e-mail headers (no injection), SMS templates
 * escaped for their content type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "notify_render.h"

static json_t *payload(const char *kind, const char *summary)
{
    return json_pack("{s:s,s:I,s:s,s:{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s}}", "kind", kind, "id",
                     (json_int_t)42, "at", "2026-11-21T12:00:00.000Z", "alert", "id", (json_int_t)7, "rule",
                     "replication_lag", "cluster", "weddings-eu", "node", "db2", "region", "eu-west", "severity",
                     "critical", "state", "firing", "peak", 1, "summary", summary, "started_at",
                     "2026-11-21T11:59:00.000Z");
}

static const char *header(const notify_request_t *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->header_count; i++)
        if (strncmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
            return req->headers[i] + n + 2;
    return NULL;
}

static void test_hmac_vector(void **state)
{
    (void)state;
    char hex[65];
    const char *data = "what do ya want for nothing?";
    notify_hmac_sha256_hex("Jefe", data, strlen(data), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_webhook_signed(void **state)
{
    (void)state;
    receiver_t r = {.name = "hook", .type = RECEIVER_WEBHOOK, .url = "http://x", .secret = "k"};
    json_t *p = payload("firing", "db2 is 40 s behind");
    notify_request_t req;
    assert_int_equal(notify_render(&r, p, &req), 0);
    char hex[65], expect[80];
    notify_hmac_sha256_hex("k", req.body, req.body_len, hex);
    snprintf(expect, sizeof expect, "sha256=%s", hex);
    assert_string_equal(header(&req, "X-Pgvigil-Signature"), expect);
    assert_string_equal(header(&req, "X-Pgvigil-Delivery"), "42");
    assert_string_equal(header(&req, "X-Pgvigil-Event"), "firing");
    json_t *back = json_loadb(req.body, req.body_len, 0, NULL);
    assert_true(json_equal(back, p));
    json_decref(back);
    notify_request_free(&req);
    r.secret = NULL; /* no secret: no signature */
    assert_int_equal(notify_render(&r, p, &req), 0);
    assert_null(header(&req, "X-Pgvigil-Signature"));
    notify_request_free(&req);
    json_decref(p);
}

static void test_slack_and_pagerduty(void **state)
{
    (void)state;
    receiver_t slack = {.name = "s", .type = RECEIVER_SLACK, .url = "http://x"};
    receiver_t pd = {.name = "p", .type = RECEIVER_PAGERDUTY, .url = "http://x", .secret = "rk"};
    json_t *p = payload("firing", "db2 is 40 s behind");
    notify_request_t req;
    assert_int_equal(notify_render(&slack, p, &req), 0);
    json_t *j = json_loadb(req.body, req.body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "text")),
                        "[CRITICAL] [PEAK] FIRING replication_lag on db2 (weddings-eu): db2 is 40 s behind");
    json_decref(j);
    notify_request_free(&req);

    static const char *const kinds[][2] = {{"firing", "trigger"}, {"flapping", "trigger"},
                                           {"acknowledged", "acknowledge"}, {"resolved", "resolve"}};
    for (size_t i = 0; i < 4; i++) {
        json_object_set_new(p, "kind", json_string(kinds[i][0]));
        assert_int_equal(notify_render(&pd, p, &req), 0);
        j = json_loadb(req.body, req.body_len, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "event_action")), kinds[i][1]);
        assert_string_equal(json_string_value(json_object_get(j, "dedup_key")), "pgvigil-7");
        assert_string_equal(json_string_value(json_object_get(j, "routing_key")), "rk");
        json_t *pl = json_object_get(j, "payload");
        if (strcmp(kinds[i][1], "trigger") == 0) {
            assert_string_equal(json_string_value(json_object_get(pl, "severity")), "critical");
            assert_string_equal(json_string_value(json_object_get(pl, "source")), "db2");
        } else {
            assert_null(pl);
        }
        json_decref(j);
        notify_request_free(&req);
    }
    json_decref(p);
}

static void test_email_no_header_injection(void **state)
{
    (void)state;
    char *to[] = {"a@b", "c@d"};
    receiver_t r = {.name = "m", .type = RECEIVER_EMAIL, .url = "smtp://x", .from = "p@v", .to = to, .to_count = 2};
    json_t *p = payload("resolved", "evil\r\nBcc: victim@x");
    notify_request_t req;
    assert_int_equal(notify_render(&r, p, &req), 0);
    assert_non_null(strstr(req.body, "From: p@v\r\nTo: a@b, c@d\r\n"));
    assert_non_null(strstr(req.body, "Subject: [CRITICAL] [PEAK] RESOLVED replication_lag on db2"));
    assert_null(strstr(req.body, "\r\nBcc:"));
    assert_non_null(strstr(req.body, "\r\n\r\n")); /* headers end, body follows */
    notify_request_free(&req);
    json_decref(p);
}

static void test_sms_template_escaping(void **state)
{
    (void)state;
    receiver_t r = {.name = "sms", .type = RECEIVER_SMS, .url = "http://gw",
                    .body_template = "{\"to\":\"+4912345\",\"text\":\"{severity}: {summary} ({unknown})\"}"};
    json_t *p = payload("firing", "say \"hi\" & go");
    notify_request_t req;
    assert_int_equal(notify_render(&r, p, &req), 0);
    json_t *j = json_loadb(req.body, req.body_len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "critical: say \"hi\" & go ({unknown})");
    assert_string_equal(header(&req, "Content-Type"), "application/json");
    json_decref(j);
    notify_request_free(&req);

    r.body_template = "to=%2B4912345&text={summary}";
    r.content_type = "application/x-www-form-urlencoded";
    assert_int_equal(notify_render(&r, p, &req), 0);
    assert_string_equal(req.body, "to=%2B4912345&text=say%20%22hi%22%20%26%20go");
    notify_request_free(&req);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_vector),
        cmocka_unit_test(test_webhook_signed),
        cmocka_unit_test(test_slack_and_pagerduty),
        cmocka_unit_test(test_email_no_header_injection),
        cmocka_unit_test(test_sms_template_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
