/*
 * store_spool.h — the store's row records and its spool file.
 *
 * A record is one row on its way to the history database:
 *   [u8 table][i32 little-endian UTC day][COPY text line]
 * Writers send records to the store; the store keeps them in memory and,
 * while the database is away and memory is full, in the spool file, where
 * each record is prefixed by its length (u32 little-endian). The spool is
 * appended in order, read back in order from a read offset, and truncated
 * once every record in it has been written. Only the store thread touches
 * a spool.
 */
#ifndef PGVIGIL_STORE_SPOOL_H
#define PGVIGIL_STORE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SPOOL_HEADER 5 /* table byte + day */

typedef struct {
    int table;        /* a store_table_t */
    int32_t day;      /* UTC day of the row, partition_day() */
    const char *line; /* not NUL-terminated; points into the record */
    size_t line_len;
} store_spool_record_t;

/* Encode a record into buf (STORE_SPOOL_HEADER + line_len bytes). Pure. */
void store_spool_encode(uint8_t *buf, int table, int32_t day, const char *line, size_t line_len);
/* Decode a record; -1 if it is shorter than a header or its table is not
 * below table_count. rec->line points into buf. Pure. */
int store_spool_decode(const uint8_t *buf, size_t len, int table_count, store_spool_record_t *rec);

typedef struct store_spool store_spool_t;

/* Open (create) the spool at path and count the records an earlier run left;
 * a torn last record (a crash mid-append) is cut off. NULL on failure. */
store_spool_t *store_spool_new(const char *path);
void store_spool_destroy(store_spool_t **self_p);

/* Records not yet written to the database. */
uint64_t store_spool_rows(const store_spool_t *self);
/* Append one record (not yet durable: see store_spool_sync). */
int store_spool_append(store_spool_t *self, const uint8_t *rec, size_t len);
/* Make the appended records durable (fsync); once per batch of appends. */
int store_spool_sync(store_spool_t *self);

/* Read the record at *cursor (start with store_spool_cursor()) into *buf
 * (grown as needed, caller frees) and advance *cursor past it.
 * 1: a record; 0: no more; -1: read error. */
int store_spool_next(store_spool_t *self, uint64_t *cursor, uint8_t **buf, size_t *cap,
                     size_t *len);
/* Offset of the first record not yet written. */
uint64_t store_spool_cursor(const store_spool_t *self);
/* Mark the records before cursor as written (rows of them); when none is
 * left the file is truncated. */
int store_spool_consume(store_spool_t *self, uint64_t cursor, uint64_t rows);

#endif
