/*
 * store_rollup.h — the 1-minute and 1-hour rollups of node_samples
 * (sql/012_rollups.sql): their partitions, their tiered retention and the
 * rollup pass that recomputes the minutes history batches marked dirty.
 * Blocking libpq calls on the store thread (and by tests); the caller owns
 * the connection.
 */
#ifndef PGVIGIL_STORE_ROLLUP_H
#define PGVIGIL_STORE_ROLLUP_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Create the 1-minute partitions of days first..last and the 1-hour
 * (monthly) partitions covering them, if missing. 0 or -1 (err). */
int store_rollup_partitions(PGconn *conn, int32_t first, int32_t last, char *err, size_t errlen);

/* Drop the rollup partitions past their tier's retention. Returns the
 * number dropped or -1 if the catalog could not be read. */
int store_rollup_drop_expired(PGconn *conn, int32_t today, uint32_t days_1m, uint32_t days_1h);

/* One rollup pass: take the dirty minutes, recompute them (from the raw
 * rows) and their hours (from the minutes), in one transaction. Minutes
 * before day oldest (no rollup partition) are discarded. Returns the number
 * of minutes recomputed or -1 (err). */
long store_rollup_run(PGconn *conn, int32_t oldest, char *err, size_t errlen);

/* The statement a history batch runs after its node_samples rows, in the
 * same transaction: marks the minutes it wrote. */
#define STORE_ROLLUP_MARK_SQL                                                                      \
    "INSERT INTO rollup_dirty SELECT DISTINCT node,"                                               \
    " date_bin('1 minute', collected_at, 'epoch') FROM stage_node_samples ON CONFLICT DO NOTHING"

/* A batch written by COPY straight into node_samples marks its minutes
 * from lines: the rollup_dirty COPY line ("<node>\t<YYYY-MM-DD HH:MM>:00+00\n")
 * of a node_samples COPY line, whose first two fields are the node (kept
 * as escaped in the line) and collected_at as store_line_time writes it
 * (UTC, "YYYY-MM-DD HH:MM:SS.ffffff+00"), so the minute is its first 16
 * characters. Returns the length written to out (not NUL-terminated), or
 * -1 when the line is not in that shape or out is too small. Pure. */
int store_rollup_mark_line(const char *line, size_t len, char *out, size_t cap);

/* Move the marks staged in stage_rollup_dirty into rollup_dirty. */
#define STORE_ROLLUP_MARK_STAGED_SQL                                                              \
    "INSERT INTO rollup_dirty SELECT * FROM stage_rollup_dirty ON CONFLICT DO NOTHING"

#endif
