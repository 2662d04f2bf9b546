/*
 * http_refusals.h — refused requests, counted for the audit log at a
 * bounded rate.
 *
 * Each refusal of a change (401, 403, 429) is keyed by (client address,
 * token name, status). The first one of a key in a window (a minute) is
 * written as its own audit record; later ones in that window are only
 * counted, and once the window has ended the count goes out as one summary
 * record. So an attacker adds at most two audit rows per key per minute,
 * and at most HTTP_REFUSALS_KEYS keys are tracked (beyond that, refusals
 * are counted under the client "*").
 *
 * Thread-safe (civetweb workers): a mutex around a small table, taken only
 * on refusals.
 */
#ifndef PGVIGIL_HTTP_REFUSALS_H
#define PGVIGIL_HTTP_REFUSALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_REFUSALS_KEYS 256

typedef struct {
    char client[48];
    char who[64];
    char role[16];
    int status;
    int64_t since_us;   /* wall clock: start of the window */
    uint64_t count;     /* refusals after the first in that window */
} http_refusal_t;

typedef struct http_refusals http_refusals_t;

http_refusals_t *http_refusals_new(int64_t window_us);
void http_refusals_destroy(http_refusals_t **self_p);

/* A refusal at now_us. Returns true when it should be written as its own
 * record. Fills due[0..*n_due) (at most due_max) with summaries of windows
 * that have ended; the caller writes those. */
bool http_refusals_note(http_refusals_t *self, const char *client, const char *who, const char *role,
                        int status, int64_t now_us, http_refusal_t *due, size_t due_max, size_t *n_due);

/* Every pending summary, whether its window has ended or not (shutdown);
 * returns how many were written to due. */
size_t http_refusals_drain(http_refusals_t *self, http_refusal_t *due, size_t due_max);

#endif
