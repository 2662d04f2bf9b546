/*
 * fuzz_ingest.c — libFuzzer target for the ingest path: the exact
 * decode-and-validate function the aggregator runs on every message
 * (ingest_decode). Input layout: first byte = envelope length n, then n
 * envelope bytes, then the body. Must never crash, leak or trip a sanitizer.
 */
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "pbarena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = data[0];
    if (n > size - 1)
        n = size - 1;
    envelope_t env;
    ingest_reject_t why;
    Pgvigil__Sample *s = ingest_decode(data + 1, n, data + 1 + n, size - 1 - n, &env, &why);
    if (s)
        pbarena_free(&s->base);
    return 0;
}
