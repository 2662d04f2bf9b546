/*
 * http_body.h — parsing and checking JSON request bodies, apart from any
 * connection (pure functions over bytes and jansson values).
 *
 * Every JSON handler reads its body through http_read_json() (http.c), which
 * calls http_body_parse(): the size is capped at HTTP_BODY_MAX and the
 * nesting depth is counted with a cheap scan before jansson sees the text,
 * because jansson's parser recurses once per level (its own limit, 2048, is
 * deeper than a civetweb worker's stack can take). The per-route checks
 * below are what the handlers run before a body goes to the core; the fuzz
 * target tests/fuzz/fuzz_http_body.c drives all of them.
 */
#ifndef PGVIGIL_HTTP_BODY_H
#define PGVIGIL_HTTP_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Largest request body accepted. */
#define HTTP_BODY_MAX 65536
/* Deepest nesting of arrays and objects accepted in a body. */
#define HTTP_BODY_DEPTH_MAX 32

/* The deepest nesting of [ and { in text outside strings (a scan, no
 * parse); stops counting once past limit and returns limit + 1. */
int http_body_depth(const char *text, size_t len, int limit);

/* text as a JSON object into *out (caller owns it). 0 on success; else the
 * HTTP status to answer (400 or 413) with msg saying why. */
int http_body_parse(const char *text, size_t len, json_t **out, char *msg, size_t msglen);

/* PATCH /api/v1/alerts/{id}: {"action":"acknowledge"|"resolve","comment","by","expires_in"}.
 * true when valid; else msg says why. */
bool http_body_alert_action(const json_t *body, char *msg, size_t msglen);
/* POST /api/v1/silences: only known keys; strings except "matchers". */
bool http_body_silence(const json_t *body, char *msg, size_t msglen);
/* POST /api/v1/maintenance: known keys, strings and booleans. */
bool http_body_maintenance(const json_t *body, char *msg, size_t msglen);

#endif
