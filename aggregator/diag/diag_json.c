/*
 * diag_json.c — small JSON helpers the diagnostics files share
 * (diag_internal.h) and diag_quote_ident (diag.h). Owns nothing.
 */
#include "diag_internal.h"

#include "metric.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

json_t *diag_time(bool has, int64_t us)
{
    char buf[40];
    return has && us > 0 ? json_string(clock_format_rfc3339(us, buf, sizeof buf)) : json_null();
}

json_t *diag_real(bool has, double v)
{
    return has && isfinite(v) ? json_real(v) : json_null();
}

json_t *diag_uint(bool has, uint64_t v)
{
    return has ? json_integer((json_int_t)v) : json_null();
}

char *diag_quote_ident(const char *name)
{
    size_t n = strlen(name), k = 0;
    char *out = malloc(2 * n + 3);
    if (!out)
        return NULL;
    out[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"')
            out[k++] = '"';
        out[k++] = name[i];
    }
    out[k++] = '"';
    out[k] = '\0';
    return out;
}

/* "schema"."name" */
char *diag_qualified(const char *schema, const char *name)
{
    char *a = diag_quote_ident(schema ? schema : "public"), *b = diag_quote_ident(name ? name : "");
    char *out = NULL;
    if (a && b && asprintf(&out, "%s.%s", a, b) < 0)
        out = NULL;
    free(a);
    free(b);
    return out;
}


const char *diag_js(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

double diag_jnum(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

bool diag_metric(int metric, const Pgvigil__Connections *conn, const Pgvigil__Wraparound *wrap, double *out)
{
    /* The catalogue derives from a sample: lend it the one section. */
    Pgvigil__Sample s = PGVIGIL__SAMPLE__INIT;
    s.up = true;
    s.connections = (Pgvigil__Connections *)conn;
    s.wraparound = (Pgvigil__Wraparound *)wrap;
    return metric_from_sample(metric, &s, out);
}
