/*
 * agg_config_test.h — shared by the unit tests of the aggregator's
 * configuration: a minimal listen section, and the check that a bad file is
 * refused with an error naming the file and the key.
 */
#ifndef PGVIGIL_AGG_CONFIG_TEST_H
#define PGVIGIL_AGG_CONFIG_TEST_H

#include <stdio.h>
#include <string.h>

#include "agg_config.h"

#define LISTEN "listen:\n  ingest: [tcp://0.0.0.0:7400]\n  http: 127.0.0.1:8080\n"

/* prefix + body must be refused, naming agg.yaml and "key". */
static inline void expect_agg_error(const char *prefix, const char *body, const char *key)
{
    char err[1024] = "", quoted[128], text[4096];
    snprintf(text, sizeof text, "%s%s", prefix, body);
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    agg_config_t *c = agg_config_load_string("agg.yaml", text, err, sizeof err);
    if (c)
        fail_msg("accepted: %s", text);
    if (!strstr(err, "agg.yaml:") || !strstr(err, quoted))
        fail_msg("error \"%s\" does not name the file and %s", err, quoted);
}

#endif
