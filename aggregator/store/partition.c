/*
 * partition.c — see partition.h.
 */
#include "partition.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int32_t partition_day(int64_t t_us)
{
    int64_t s = t_us >= 0 ? t_us / 1000000 : -((-t_us + 999999) / 1000000);
    return (int32_t)(s >= 0 ? s / 86400 : -((-s + 86399) / 86400));
}

void partition_date(int32_t day, char *buf)
{
    time_t t = (time_t)day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}

int partition_name(const char *table, int32_t day, char *buf, size_t len)
{
    char date[11];
    partition_date(day, date);
    int n = snprintf(buf, len, "%s_p%.4s%.2s%.2s", table, date, date + 5, date + 8);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int partition_parse(const char *table, const char *name, int32_t *day)
{
    size_t tl = strlen(table);
    if (strncmp(name, table, tl) != 0 || strncmp(name + tl, "_p", 2) != 0 || strlen(name + tl + 2) != 8)
        return -1;
    const char *d = name + tl + 2;
    for (int i = 0; i < 8; i++)
        if (d[i] < '0' || d[i] > '9')
            return -1;
    struct tm tm = {0};
    tm.tm_year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0') - 1900;
    tm.tm_mon = (d[4] - '0') * 10 + (d[5] - '0') - 1;
    tm.tm_mday = (d[6] - '0') * 10 + (d[7] - '0');
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
        return -1;
    int mday = tm.tm_mday, mon = tm.tm_mon;
    time_t t = timegm(&tm);
    if (tm.tm_mday != mday || tm.tm_mon != mon) /* 2026-02-30 normalised away */
        return -1;
    *day = (int32_t)(t / 86400);
    return 0;
}

bool partition_expired(int32_t day, int32_t today, uint32_t retention_days)
{
    return (int64_t)day < (int64_t)today - (int64_t)retention_days;
}

int32_t partition_month_start(int32_t day)
{
    time_t t = (time_t)day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    return day - (tm.tm_mday - 1);
}

int32_t partition_next_month(int32_t day)
{
    int32_t start = partition_month_start(day);
    return partition_month_start(start + 31);
}

bool partition_month_expired(int32_t day, int32_t today, uint32_t retention_days)
{
    return (int64_t)partition_next_month(day) <= (int64_t)today - (int64_t)retention_days;
}
