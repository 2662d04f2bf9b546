/*
 * col_sample.c — a sample's server-independent parts (col_sample.h).
 */
#include "col_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

Pgvigil__Sample *col_sample_new(const col_config_t *cfg, const char *hostname, int64_t started_at_us,
                                int64_t now_us)
{
    Pgvigil__Sample *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    pgvigil__sample__init(s);
    s->has_format_version = 1;
    s->format_version = 1;
    s->node = strdup(cfg->node);
    s->region = strdup(cfg->region);
    s->collector_version = strdup(COLLECTOR_VERSION);
    s->hostname = strdup(hostname);
    s->has_collected_at_us = 1;
    s->collected_at_us = now_us;
    s->has_collector_started_at_us = 1;
    s->collector_started_at_us = started_at_us;
    s->has_interval_ms = s->has_slow_interval_ms = s->has_stats_interval_ms = 1;
    s->interval_ms = (uint32_t)cfg->interval_ms;
    s->slow_interval_ms = (uint32_t)cfg->slow_interval_ms;
    s->stats_interval_ms = (uint32_t)cfg->stats_interval_ms;
    return s;
}

void col_sample_section_error(Pgvigil__Sample *s, const char *section, const char *msg)
{
    Pgvigil__SectionError **arr =
        realloc(s->section_errors, (s->n_section_errors + 1) * sizeof *arr);
    if (!arr)
        return;
    s->section_errors = arr;
    Pgvigil__SectionError *e = malloc(sizeof *e);
    if (!e)
        return;
    pgvigil__section_error__init(e);
    e->section = strdup(section);
    char line[300];
    snprintf(line, sizeof line, "%s", msg ? msg : "unknown error");
    line[strcspn(line, "\n")] = '\0';
    e->message = strdup(line);
    arr[s->n_section_errors++] = e;
}
