/*
 * http_receivers.c — POST /api/v1/receivers/{name}/test (operator; audited
 * like every change): a test notification to one receiver through the real
 * delivery path, answered with the outcome.
 *
 * The handler subscribes to notify's outcomes (NOTIFY_OUTCOMES_ENDPOINT)
 * before asking the core, which checks the receiver (404 if it is not
 * configured) and hands a notification of kind "test" to notify like any
 * other (outbox row, attempt row, the receiver's own queue and breaker).
 * notify tries it once and publishes the outcome; the handler waits for its
 * id up to the delivery timeout plus a margin:
 *   200 {"notification":{"id","receiver","delivered","status","error",
 *        "duration_ms","attempts"}}
 *   202 {"notification":{"id","receiver","kind":"test"}} — still queued (the
 *        receiver's circuit is open or a request is in flight); the
 *        attempt is recorded in notification_attempts.
 * The SUB socket is this request's own: nothing is shared between threads.
 */
#include <czmq.h>
#include <string.h>

#include "clock.h"
#include "http_internal.h"
#include "notify.h"

/* The outcome of notification id, or NULL when it did not come in time. */
static json_t *hr_wait(zsock_t *sub, json_int_t id, int64_t deadline_us)
{
    while (clock_mono_us() < deadline_us) {
        zsock_set_rcvtimeo(sub, (int)((deadline_us - clock_mono_us()) / 1000) + 1);
        char *text = zstr_recv(sub);
        if (!text)
            return NULL;
        json_t *o = json_loads(text, 0, NULL);
        zstr_free(&text);
        if (o && json_integer_value(json_object_get(o, "id")) == id)
            return o;
        json_decref(o);
    }
    return NULL;
}

int http_receiver_test(const http_req_t *r)
{
    const char *name = r->arg[0];
    zsock_t *sub = zsock_new_sub(">" NOTIFY_OUTCOMES_ENDPOINT, "");
    json_t *cmd = json_pack("{s:s,s:s}", "cmd", "receiver_test", "receiver", name);
    if (!sub || !cmd) {
        zsock_destroy(&sub);
        json_decref(cmd);
        return http_error(r->conn, 500, "internal", "out of memory");
    }
    json_t *body = NULL;
    int status = http_core_call(r, cmd, "test notification", name, &body);
    if (status == 503 && !body) {
        zsock_destroy(&sub);
        return http_error(r->conn, 503, "unavailable", "the aggregator's core did not answer in time");
    }
    if (status == 202) {
        json_int_t id = json_integer_value(json_object_get(json_object_get(body, "notification"), "id"));
        uint64_t wait_ms = r->http->cfg->alerting.timeout_ms + 3000;
        json_t *outcome = hr_wait(sub, id, clock_mono_us() + (int64_t)(wait_ms < 60000 ? wait_ms : 60000) * 1000);
        if (outcome) {
            json_decref(body);
            body = json_pack("{s:o}", "notification", outcome);
            status = 200;
        }
    }
    zsock_destroy(&sub);
    return http_json(r->conn, status, body ? body : json_object());
}
