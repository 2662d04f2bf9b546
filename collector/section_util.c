/*
 * section_util.c — reading typed values out of libpq text results for the
 * section decoders. Every reader reports presence separately from value, so
 * a SQL NULL becomes an absent field, never a zero.
 */
#include "section.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsn.h"
#include "sections_impl.h"

bool section_isnull(const PGresult *r, int row, int col)
{
    return row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col);
}

bool section_i64(const PGresult *r, int row, int col, int64_t *out)
{
    if (section_isnull(r, row, col))
        return false;
    const char *v = PQgetvalue(r, row, col);
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v) {
        /* numeric results such as "1.5e3" or "12.0" */
        double d = strtod(v, &end);
        if (end == v || d != d || d > 9.2e18 || d < -9.2e18)
            return false;
        n = (long long)d;
    }
    *out = n;
    return true;
}

bool section_u64(const PGresult *r, int row, int col, uint64_t *out)
{
    int64_t v;
    if (!section_i64(r, row, col, &v))
        return false;
    *out = v < 0 ? 0 : (uint64_t)v;
    return true;
}

bool section_u32(const PGresult *r, int row, int col, uint32_t *out)
{
    int64_t v;
    if (!section_i64(r, row, col, &v))
        return false;
    *out = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return true;
}

bool section_double(const PGresult *r, int row, int col, double *out)
{
    if (section_isnull(r, row, col))
        return false;
    const char *v = PQgetvalue(r, row, col);
    char *end;
    double d = strtod(v, &end);
    if (end == v)
        return false;
    *out = d;
    return true;
}

bool section_bool(const PGresult *r, int row, int col, protobuf_c_boolean *out)
{
    if (section_isnull(r, row, col))
        return false;
    *out = PQgetvalue(r, row, col)[0] == 't';
    return true;
}

bool section_lsn(const PGresult *r, int row, int col, uint64_t *out)
{
    if (section_isnull(r, row, col))
        return false;
    return lsn_parse(PQgetvalue(r, row, col), out) == 0;
}

char *section_str(const PGresult *r, int row, int col, size_t max)
{
    if (section_isnull(r, row, col))
        return NULL;
    const char *v = PQgetvalue(r, row, col);
    size_t n = strlen(v);
    if (max > 0 && n > max) {
        n = max;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--; /* do not cut a UTF-8 sequence */
    }
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, v, n);
    s[n] = '\0';
    return s;
}

int section_expect(const PGresult *r, int ncols, int min_rows, char *err, size_t errlen)
{
    if (PQnfields(r) < ncols || PQntuples(r) < min_rows) {
        snprintf(err, errlen, "unexpected result shape: %d columns, %d rows", PQnfields(r),
                 PQntuples(r));
        return -1;
    }
    return 0;
}

void *section_new_array(size_t n) { return calloc(n ? n : 1, sizeof(void *)); }
