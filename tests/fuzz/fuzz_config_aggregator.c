/*
 * fuzz_config_aggregator.c — libFuzzer target for the aggregator's
 * configuration: the input is a YAML file, loaded and validated by the same
 * agg_config_load_string() the daemon and check-config run (every section:
 * listen, storage, curve, alert rules, receivers, escalation, auth, ...).
 * A malformed file must give an error naming the file, never a crash, a
 * leak or a sanitizer report. Seeds: the shipped configuration files
 * (tests/fuzz/run.sh).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agg_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* libyaml reads up to the first NUL, as from a file */
    char err[2048];
    err[0] = '\0';
    agg_config_t *cfg = agg_config_load_string("fuzz.yaml", text, err, sizeof err);
    if (!cfg && strncmp(err, "fuzz.yaml", 9) != 0)
        abort(); /* every refusal names the file */
    agg_config_destroy(&cfg);
    free(text);
    return 0;
}
