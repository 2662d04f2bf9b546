/*
 * col_sample.h — the parts of a collector Sample that do not depend on the
 * server: a new sample's header (who, when, at what cadence) and section
 * errors. The round loop (collector.c) owns the samples it makes and frees
 * them with pgvigil__sample__free_unpacked.
 */
#ifndef PGVIGIL_COL_SAMPLE_H
#define PGVIGIL_COL_SAMPLE_H

#include <stdint.h>

#include "col_config.h"
#include "pgvigil.pb-c.h"

/* A new sample collected at now_us by a collector started at started_at_us
 * on hostname, or NULL when out of memory. The caller owns it. */
Pgvigil__Sample *col_sample_new(const col_config_t *cfg, const char *hostname, int64_t started_at_us,
                                int64_t now_us);

/* Add an error of section to s: msg's first line, at most 300 bytes
 * (dropped when out of memory). */
void col_sample_section_error(Pgvigil__Sample *s, const char *section, const char *msg);

#endif
