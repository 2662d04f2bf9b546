/*
 * fuzz_http_body.c — libFuzzer target for the HTTP API's JSON request
 * bodies: the exact functions every JSON handler runs before a body goes to
 * the core (http_body.h: size and depth limits, the parse, and the checks
 * of PATCH /api/v1/alerts/{id}, POST /api/v1/silences and POST
 * /api/v1/maintenance), plus the time-parameter check of the history
 * routes on the same bytes. Must never crash, leak or trip a sanitizer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http_body.h"
#include "http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[256];
    json_t *body = NULL;
    if (http_body_parse((const char *)data, size, &body, msg, sizeof msg) == 0) {
        http_body_alert_action(body, msg, sizeof msg);
        http_body_silence(body, msg, sizeof msg);
        http_body_maintenance(body, msg, sizeof msg);
        json_decref(body);
    }
    char param[256]; /* what http_param hands over: at most 255 bytes, NUL-terminated */
    size_t n = size < sizeof param - 1 ? size : sizeof param - 1;
    memcpy(param, data, n);
    param[n] = '\0';
    http_time_valid(param);
    return 0;
}
