/*
 * partition.h — daily range partitions of the history tables: naming,
 * ranges and retention. Pure functions (UTC days since the Unix epoch).
 *
 *   node_samples_p20261123  FOR VALUES FROM ('2026-11-23') TO ('2026-11-24')
 */
#ifndef PGVIGIL_PARTITION_H
#define PGVIGIL_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PARTITION_NAME_MAX 96

/* The UTC day of a time in µs since the epoch (floor, also before 1970). */
int32_t partition_day(int64_t t_us);
/* "YYYY-MM-DD" of a day; buf holds 11 bytes. */
void partition_date(int32_t day, char *buf);
/* "<table>_pYYYYMMDD". Returns -1 if it does not fit. */
int partition_name(const char *table, int32_t day, char *buf, size_t len);
/* The day of a partition of table named name, or -1 if name is not one. */
int partition_parse(const char *table, const char *name, int32_t *day);
/* A partition is dropped when its whole day lies before the retention:
 * day < today - retention_days. */
bool partition_expired(int32_t day, int32_t today, uint32_t retention_days);

/* Monthly partitions (the 1-hour rollups): the first day of day's month,
 * and the first day of the next month. */
int32_t partition_month_start(int32_t day);
int32_t partition_next_month(int32_t day);
/* A monthly partition starting at day is dropped when its whole month lies
 * before the retention: next month's first day <= today - retention_days. */
bool partition_month_expired(int32_t day, int32_t today, uint32_t retention_days);

#endif
