/*
 * section.h — the collector's sections, in the pgstat model: the round loop
 * (collector.c) knows nothing about replication or tables; it walks the one
 * table of descriptors (sections.c) and, for each section that is due,
 * sends the SQL the descriptor chooses for this server and hands the result
 * to the descriptor's decode callback, which fills its part of the Sample.
 *
 * Memory: everything a decoder attaches to the Sample is malloc'ed the way
 * protobuf-c's unpacker would allocate it, so the whole Sample is released
 * with pgvigil__sample__free_unpacked(sample, NULL).
 */
#ifndef PGVIGIL_SECTION_H
#define PGVIGIL_SECTION_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "col_config.h"
#include "pgvigil.pb-c.h"

typedef enum {
    SECTION_IDENTITY, /* every round, first */
    SECTION_FAST,
    SECTION_SLOW,
    SECTION_STATS,
    SECTION_HOURLY, /* no section of its own: costly parts of stats sections */
    SECTION_CADENCE_COUNT
} section_cadence_t;

typedef struct statements_state statements_state_t;

/* What decoders and SQL choosers may know about the server and the round. */
typedef struct {
    const col_config_t *cfg;
    int server_version;         /* PQserverVersion */
    bool is_replica;            /* from the identity section of this round */
    bool has_pg_stat_statements;
    int64_t round_started_us;   /* collector wall clock */
    statements_state_t *statements; /* previous pg_stat_statements snapshot */
    int64_t query_rtt_us;       /* round trip of the query being decoded */
    bool hourly_due;            /* bloat estimates and index definitions this round */
} section_ctx_t;

typedef struct {
    const char *name;
    section_cadence_t cadence;
    /* The SQL for this server and role, or NULL to skip this round. */
    const char *(*sql)(const section_ctx_t *ctx);
    /* Fill the sample from a PGRES_TUPLES_OK result. Returns 0, or -1 with a
     * message in err (the result had an unexpected shape). */
    int (*decode)(const PGresult *res, section_ctx_t *ctx, Pgvigil__Sample *s, char *err,
                  size_t errlen);
} section_t;

/* The table, in execution order (identity first). */
extern const section_t section_table[];
extern const size_t section_count;

/* Statement-delta baseline, kept across rounds. */
statements_state_t *statements_state_new(void);
void statements_state_destroy(statements_state_t **self_p);

/* Column readers: NULL-safe, "is present" in the return value. */
bool section_isnull(const PGresult *r, int row, int col);
bool section_u64(const PGresult *r, int row, int col, uint64_t *out);
bool section_i64(const PGresult *r, int row, int col, int64_t *out);
bool section_u32(const PGresult *r, int row, int col, uint32_t *out);
bool section_double(const PGresult *r, int row, int col, double *out);
bool section_bool(const PGresult *r, int row, int col, protobuf_c_boolean *out);
bool section_lsn(const PGresult *r, int row, int col, uint64_t *out);
/* A malloc'ed copy, or NULL when the value is NULL. max > 0 truncates
 * (on a UTF-8 character boundary). */
char *section_str(const PGresult *r, int row, int col, size_t max);
/* Check the result has at least ncols columns. */
int section_expect(const PGresult *r, int ncols, int min_rows, char *err, size_t errlen);

/* Presence-setting helpers for optional scalars: SET_U64(msg, field, r, row, col). */
#define SECTION_SET(kind, msg, field, r, row, col) \
    ((msg)->has_##field = section_##kind((r), (row), (col), &(msg)->field))

#endif
