/*
 * store_spool.c — row records and the spool file (see store_spool.h).
 *
 * The file is used through a plain descriptor opened with O_APPEND: appends
 * always land at the end, reads use pread at an offset, so appending while
 * the spool is being drained needs no seeking and no stdio buffer to flush.
 */
#include "store_spool.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define STORE_SPOOL_RECORD_MAX (64u << 20) /* a longer length is a corrupt file */

struct store_spool {
    char *path;
    int fd;
    uint64_t read_at; /* offset of the first record not yet written */
    uint64_t end;     /* offset past the last complete record */
    uint64_t rows;    /* records between read_at and end */
    bool failing;     /* the last append failed: said once, not per record */
};

static void store_spool_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t store_spool_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void store_spool_encode(uint8_t *buf, int table, int32_t day, const char *line, size_t line_len)
{
    buf[0] = (uint8_t)table;
    store_spool_put_u32(buf + 1, (uint32_t)day);
    memcpy(buf + STORE_SPOOL_HEADER, line, line_len);
}

int store_spool_decode(const uint8_t *buf, size_t len, int table_count, store_spool_record_t *rec)
{
    if (len < STORE_SPOOL_HEADER || buf[0] >= table_count)
        return -1;
    rec->table = buf[0];
    rec->day = (int32_t)store_spool_get_u32(buf + 1);
    rec->line = (const char *)buf + STORE_SPOOL_HEADER;
    rec->line_len = len - STORE_SPOOL_HEADER;
    return 0;
}

/* Read exactly len bytes at off: 1 read, 0 end of file (or a torn record), -1 error. */
static int store_spool_pread(store_spool_t *self, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(self->fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("could not read the spool file \"%s\": %s", self->path, strerror(errno));
            return -1;
        }
        if (n == 0)
            return 0;
        got += (size_t)n;
    }
    return 1;
}

/* Count the complete records in the file; cut off a torn tail. */
static int store_spool_scan(store_spool_t *self)
{
    struct stat sb;
    if (fstat(self->fd, &sb) != 0)
        return -1;
    uint64_t off = 0, size = (uint64_t)sb.st_size;
    uint8_t hdr[4];
    while (off + 4 <= size && store_spool_pread(self, hdr, 4, off) == 1) {
        uint32_t n = store_spool_get_u32(hdr);
        if (n > STORE_SPOOL_RECORD_MAX || off + 4 + n > size)
            break;
        off += 4 + n;
        self->rows++;
    }
    self->end = off;
    if (off < size) {
        log_warning("the spool file \"%s\" ends with %llu bytes of a torn record; cutting them off",
                    self->path, (unsigned long long)(size - off));
        if (ftruncate(self->fd, (off_t)off) != 0)
            return -1;
    }
    return 0;
}

store_spool_t *store_spool_new(const char *path)
{
    store_spool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    if (!(self->path = strdup(path)))
        goto fail;
    self->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (self->fd < 0) {
        log_report(LOG_LEVEL_ERROR, NULL, "Create the directory or set storage.spool_dir.",
                   "could not open the spool file \"%s\": %s", path, strerror(errno));
        goto fail;
    }
    if (store_spool_scan(self) != 0) {
        log_error("could not read the spool file \"%s\": %s", path, strerror(errno));
        goto fail;
    }
    return self;
fail:
    if (self->fd >= 0)
        close(self->fd);
    free(self->path);
    free(self);
    return NULL;
}

void store_spool_destroy(store_spool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_spool_t *self = *self_p;
    if (self->fd >= 0)
        close(self->fd);
    free(self->path);
    free(self);
    *self_p = NULL;
}

uint64_t store_spool_rows(const store_spool_t *self)
{
    return self->rows;
}

uint64_t store_spool_cursor(const store_spool_t *self)
{
    return self->read_at;
}

static int store_spool_write_all(store_spool_t *self, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(self->fd, (const char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int store_spool_append(store_spool_t *self, const uint8_t *rec, size_t len)
{
    if (len > STORE_SPOOL_RECORD_MAX)
        return -1;
    uint8_t hdr[4];
    store_spool_put_u32(hdr, (uint32_t)len);
    if (store_spool_write_all(self, hdr, sizeof hdr) != 0 ||
        store_spool_write_all(self, rec, len) != 0) {
        /* A full disk is the store's to say (once a minute, with what it
         * does about it); anything else is said here, once. */
        if (!self->failing && errno != ENOSPC && errno != EDQUOT)
            log_error("could not write the spool file \"%s\": %s", self->path, strerror(errno));
        self->failing = true;
        /* Cut off what was written of this record so the file stays readable. */
        if (ftruncate(self->fd, (off_t)self->end) != 0)
            log_error("could not repair the spool file \"%s\": %s", self->path, strerror(errno));
        return -1;
    }
    self->failing = false;
    self->end += 4 + len;
    self->rows++;
    return 0;
}

int store_spool_sync(store_spool_t *self)
{
    if (fsync(self->fd) != 0) {
        log_error("could not fsync the spool file \"%s\": %s", self->path, strerror(errno));
        return -1;
    }
    return 0;
}

int store_spool_next(store_spool_t *self, uint64_t *cursor, uint8_t **buf, size_t *cap, size_t *len)
{
    uint8_t hdr[4];
    if (*cursor + 4 > self->end)
        return 0;
    int rc = store_spool_pread(self, hdr, 4, *cursor);
    if (rc != 1)
        return rc;
    uint32_t n = store_spool_get_u32(hdr);
    if (*cursor + 4 + n > self->end)
        return 0;
    if (n > *cap) {
        uint8_t *grown = realloc(*buf, n);
        if (!grown)
            return -1;
        *buf = grown;
        *cap = n;
    }
    if ((rc = store_spool_pread(self, *buf, n, *cursor + 4)) != 1)
        return rc < 0 ? -1 : 0;
    *len = n;
    *cursor += 4 + n;
    return 1;
}

int store_spool_consume(store_spool_t *self, uint64_t cursor, uint64_t rows)
{
    self->read_at = cursor;
    self->rows = rows < self->rows ? self->rows - rows : 0;
    if (self->rows > 0 && self->read_at < self->end)
        return 0;
    if (ftruncate(self->fd, 0) != 0) {
        log_error("could not truncate the spool file \"%s\": %s", self->path, strerror(errno));
        return -1;
    }
    self->read_at = self->end = self->rows = 0;
    return 0;
}
