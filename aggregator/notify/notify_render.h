/*
 * notify_render.h — the request a receiver gets for a notification, built
 * from the notification's JSON payload (pure: no I/O, unit-tested).
 *
 * payload: {"kind":"firing"|"resolved"|"acknowledged"|"flapping","id":N,"at",
 *           "alert":{"id","rule","cluster","node","severity","state","summary",...}}
 *
 *   webhook   POST the payload as JSON; X-Pgvigil-Signature: sha256=HEX, the
 *             HMAC-SHA256 of the exact body under the receiver's secret;
 *             X-Pgvigil-Delivery: the notification id (for de-duplication).
 *   slack     POST {"text": one line}.
 *   pagerduty POST an Events API v2 event: dedup_key "pgvigil-<alert id>",
 *             event_action trigger (firing, flapping) / acknowledge / resolve.
 *   email     an RFC 5322 message (Subject, From, To, Date, Message-ID).
 *   sms       POST body_template with {summary} {severity} {state} {kind}
 *             {rule} {node} {cluster} {id} replaced (JSON-escaped when the
 *             content type is JSON, URL-encoded when it is a form).
 */
#ifndef PGVIGIL_NOTIFY_RENDER_H
#define PGVIGIL_NOTIFY_RENDER_H

#include <jansson.h>
#include <stddef.h>

#include "alert_config.h"

#define NOTIFY_HEADERS_MAX 8

typedef struct {
    char *body;                           /* request body or e-mail message */
    size_t body_len;
    char *headers[NOTIFY_HEADERS_MAX];    /* "Name: value", without the receiver's own */
    size_t header_count;
} notify_request_t;

/* Returns 0, or -1 (out of memory, unusable payload). */
int notify_render(const receiver_t *r, const json_t *payload, notify_request_t *out);
void notify_request_free(notify_request_t *req);

/* Lower-case hex HMAC-SHA256 of data under key into hex (65 bytes). */
void notify_hmac_sha256_hex(const char *key, const void *data, size_t len, char hex[65]);

/* One line for chat and SMS: "[CRITICAL] FIRING replication_lag on db2 (eu): ..." */
void notify_one_line(const json_t *payload, char *buf, size_t len);

#endif
