/*
 * peak_events.h — the optional peak.events_query: a SQL query on the
 * application's own database (its own DSN) that returns today's number of
 * events (weddings, say). When the number reaches peak.events_query.threshold,
 * today counts as a peak day in every region, whatever the weekday.
 *
 * An actor runs the query every interval on its own connection (connect
 * and statement timeouts of 5 s), so a slow or absent application database
 * never holds up the core; the core reads the latest verdict.
 */
#ifndef PGVIGIL_PEAK_EVENTS_H
#define PGVIGIL_PEAK_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "alert_config.h"

typedef struct peak_events peak_events_t;

/* NULL (and nothing runs) when no events_query is configured. */
peak_events_t *peak_events_new(const alert_config_t *ac);
void peak_events_destroy(peak_events_t **self_p);

/* The last answer: count (-1 before the first success) and whether it
 * reached the threshold, with the wall time of that answer. */
bool peak_events_peak(peak_events_t *self, int64_t *count, int64_t *at_us);

#endif
