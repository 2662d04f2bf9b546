/*
 * backup.c — backup verification and the restore test (see backup.h).
 */
#include "backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

extern char **environ;

#define BACKUP_OUTPUT_MAX 16384
#define BACKUP_ERROR_MAX 500
#define BACKUP_FIRST_DELAY_US (2 * 1000000LL)

typedef enum { JOB_NONE, JOB_VERIFY, JOB_RESTORE } job_kind_t;

struct backup {
    zloop_t *loop;
    const col_config_t *cfg;
    int server_version;
    int timer;
    /* the running child */
    job_kind_t kind;
    pid_t pid;
    int fd;
    zmq_pollitem_t item;
    bool polling;
    char out[BACKUP_OUTPUT_MAX];
    size_t out_len;
    int64_t started_us, deadline_us;
    bool killed;
    char path[4096];
    /* schedule */
    int64_t next_verify_us, next_restore_us;
    /* the latest results */
    Pgvigil__Backup last;
    bool has_last;
    char *last_path, *last_error;
    Pgvigil__RestoreTest restore;
    bool has_restore;
    char *restore_error, *restore_result;
};

/* ---- pure parts ---- */

int backup_label_start(const char *label, int64_t *out_us)
{
    const char *p = label ? strstr(label, "START TIME: ") : NULL;
    struct tm tm = {0};
    char zone[16] = "";
    if (!p)
        return -1;
    if (sscanf(p + 12, "%d-%d-%d %d:%d:%d %15s", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, zone) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t offset_s = 0;
    if (strcmp(zone, "UTC") == 0 || strcmp(zone, "GMT") == 0) {
        offset_s = 0;
    } else if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) >= 3) {
        int sign = zone[0] == '-' ? -1 : 1, hh = 0, mm = 0;
        size_t n = strlen(zone + 1);
        for (size_t i = 1; zone[i]; i++)
            if (zone[i] < '0' || zone[i] > '9')
                return -1;
        if (n == 2)
            hh = atoi(zone + 1);
        else if (n == 4) {
            mm = atoi(zone + 3);
            zone[3] = '\0';
            hh = atoi(zone + 1);
        } else {
            return -1;
        }
        offset_s = sign * (hh * 3600 + mm * 60);
    } else {
        return -1; /* a zone abbreviation: ambiguous */
    }
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out_us = ((int64_t)t - offset_s) * 1000000LL;
    return 0;
}

char *backup_one_line(const char *text, size_t max)
{
    size_t n = strlen(text), k = 0;
    char *out = malloc(max + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n && k < max; i++) {
        if (text[i] == '\n' || text[i] == '\r') {
            if (k && k + 2 <= max && out[k - 1] != ' ') {
                out[k++] = ';';
                out[k++] = ' ';
            }
        } else {
            out[k++] = (unsigned char)text[i] < 0x20 ? ' ' : text[i];
        }
    }
    while (k && (out[k - 1] == ' ' || out[k - 1] == ';'))
        k--;
    out[k] = '\0';
    return out;
}

/* ---- files ---- */

static char *backup_read_file(const char *path, size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* The newest directory holding backup_manifest; its manifest mtime. */
static bool backup_newest(const char *dir, char *out, size_t len, int64_t *mtime_us)
{
    char path[4096];
    struct stat st;
    int64_t best = -1;
    snprintf(path, sizeof path, "%s/backup_manifest", dir);
    if (stat(path, &st) == 0) {
        best = (int64_t)st.st_mtim.tv_sec * 1000000LL + st.st_mtim.tv_nsec / 1000;
        snprintf(out, len, "%s", dir);
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s/backup_manifest", dir, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000LL + st.st_mtim.tv_nsec / 1000;
        if (m > best) {
            best = m;
            snprintf(out, len, "%s/%s", dir, e->d_name);
        }
    }
    if (d)
        closedir(d);
    *mtime_us = best;
    return best >= 0;
}

static uint64_t backup_bytes_total;
static int backup_add_size(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)p;
    (void)ftw;
    if (flag == FTW_F)
        backup_bytes_total += (uint64_t)st->st_size;
    return 0;
}

/* Single-threaded use only (the loop's thread, or the restore child). */
static uint64_t backup_size(const char *dir)
{
    backup_bytes_total = 0;
    nftw(dir, backup_add_size, 16, FTW_PHYS);
    return backup_bytes_total;
}

static void backup_bindir(const char *configured, int server_version, char *out, size_t len)
{
    struct stat st;
    if (configured) {
        snprintf(out, len, "%s", configured);
        return;
    }
    if (server_version >= 100000) {
        snprintf(out, len, "/usr/lib/postgresql/%d/bin", server_version / 10000);
        if (stat(out, &st) == 0)
            return;
    }
    /* The newest installed version. */
    int best = 0;
    DIR *d = opendir("/usr/lib/postgresql");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (atoi(e->d_name) > best)
            best = atoi(e->d_name);
    if (d)
        closedir(d);
    if (best)
        snprintf(out, len, "/usr/lib/postgresql/%d/bin", best);
    else
        out[0] = '\0'; /* rely on PATH */
}

/* ---- children ---- */

static int backup_on_output(zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void backup_stop_reading(backup_t *self)
{
    if (self->polling)
        zloop_poller_end(self->loop, &self->item);
    self->polling = false;
    if (self->fd >= 0)
        close(self->fd);
    self->fd = -1;
}

/* Spawn argv with stdout and stderr into a non-blocking pipe. */
static int backup_spawn(backup_t *self, job_kind_t kind, char *const argv[], int64_t timeout_us)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    /* A process group of its own: a timeout stops pg_verifybackup's
     * pg_waldump (or the restore's steps) with it. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        errno = rc;
        return -1;
    }
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    self->kind = kind;
    self->pid = pid;
    self->fd = fds[0];
    self->out_len = 0;
    self->out[0] = '\0';
    self->started_us = clock_wall_us();
    self->killed = false;
    self->deadline_us = self->started_us + timeout_us;
    self->item = (zmq_pollitem_t){.socket = NULL, .fd = self->fd, .events = ZMQ_POLLIN};
    self->polling = zloop_poller(self->loop, &self->item, backup_on_output, self) == 0;
    return 0;
}

static int backup_on_output(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    backup_t *self = arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(self->fd, buf, sizeof buf);
        if (n > 0) {
            size_t room = sizeof self->out - 1 - self->out_len, k = (size_t)n < room ? (size_t)n : room;
            memcpy(self->out + self->out_len, buf, k);
            self->out_len += k;
            self->out[self->out_len] = '\0';
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            backup_stop_reading(self); /* EOF: the child is done writing */
        return 0;
    }
}

static void backup_set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? strdup(v) : NULL;
}

static void backup_start_restore(backup_t *self)
{
    char bindir[1024], timeout[32], exe[4096];
    backup_bindir(self->cfg->backup_bindir, self->server_version, bindir, sizeof bindir);
    snprintf(timeout, sizeof timeout, "%llu", (unsigned long long)(self->cfg->restore_rto_ms + 999) / 1000);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *argv[] = {exe,
                    "restore-test",
                    "--backup",
                    self->path,
                    "--bindir",
                    bindir,
                    "--scratch",
                    self->cfg->restore_scratch_dir ? self->cfg->restore_scratch_dir : "/tmp",
                    "--query",
                    self->cfg->restore_query ? self->cfg->restore_query : "select 1",
                    "--database",
                    self->cfg->restore_database ? self->cfg->restore_database : "postgres",
                    "--user",
                    self->cfg->restore_user ? self->cfg->restore_user : "",
                    "--timeout",
                    timeout,
                    NULL};
    /* The restore's own steps are bounded; this is the last resort. */
    if (backup_spawn(self, JOB_RESTORE, argv, (int64_t)(2 * self->cfg->restore_rto_ms + 600000) * 1000) != 0)
        log_warning("could not start the restore test: %s", strerror(errno));
    else
        log_info("restore test of %s started", self->path);
}

static void backup_verified(backup_t *self, int status)
{
    int64_t now = clock_wall_us();
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    Pgvigil__Backup *b = &self->last;
    pgvigil__backup__init(b);
    b->has_ok = b->has_verified_at_us = b->has_duration_ms = b->has_interval_ms = b->has_size_bytes = 1;
    b->ok = ok;
    b->verified_at_us = now;
    b->duration_ms = (uint32_t)((now - self->started_us) / 1000);
    b->interval_ms = (uint32_t)self->cfg->backup_interval_ms;
    b->size_bytes = backup_size(self->path);
    backup_set_str(&self->last_path, self->path);
    char *line = NULL;
    if (!ok) {
        char why[64] = "";
        if (WIFSIGNALED(status))
            snprintf(why, sizeof why, "killed by signal %d; ", WTERMSIG(status));
        char *text = backup_one_line(self->out, BACKUP_ERROR_MAX);
        if (asprintf(&line, "%s%s", why, text && *text ? text : "pg_verifybackup failed") < 0)
            line = NULL;
        free(text);
    }
    backup_set_str(&self->last_error, line);
    char label_path[4200];
    snprintf(label_path, sizeof label_path, "%s/backup_label", self->path);
    char *label = backup_read_file(label_path, 4096);
    int64_t at;
    if (label && backup_label_start(label, &at) == 0) {
        b->has_backup_at_us = 1;
        b->backup_at_us = at;
    }
    free(label);
    self->has_last = true;
    if (ok)
        log_info("backup %s verified in %.1f s", self->path, (double)b->duration_ms / 1000);
    else
        log_warning("backup %s fails verification: %s", self->path, line ? line : "?");
    free(line);
    if (ok && self->cfg->restore_enabled && now >= self->next_restore_us) {
        self->next_restore_us = now + (int64_t)self->cfg->restore_interval_ms * 1000;
        backup_start_restore(self);
    }
}

static void backup_restored(backup_t *self, int status)
{
    Pgvigil__RestoreTest *r = &self->restore;
    pgvigil__restore_test__init(r);
    r->has_ok = r->has_finished_at_us = r->has_rto_ms = 1;
    r->finished_at_us = clock_wall_us();
    r->rto_ms = (uint32_t)self->cfg->restore_rto_ms;
    /* The last line of output is the JSON verdict. */
    char *last = self->out, *nl;
    while ((nl = strchr(last, '\n')) && nl[1])
        last = nl + 1;
    json_t *j = json_loads(last, JSON_DISABLE_EOF_CHECK, NULL);
    r->ok = json_is_true(json_object_get(j, "ok")) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (json_is_integer(json_object_get(j, "duration_ms"))) {
        r->has_duration_ms = 1;
        r->duration_ms = (uint32_t)json_integer_value(json_object_get(j, "duration_ms"));
    }
    backup_set_str(&self->restore_result, json_string_value(json_object_get(j, "result")));
    const char *err = json_string_value(json_object_get(j, "error"));
    char *line = !r->ok && !err ? backup_one_line(self->out, BACKUP_ERROR_MAX) : NULL;
    backup_set_str(&self->restore_error, r->ok ? NULL : err ? err : line && *line ? line : "the restore test failed");
    free(line);
    json_decref(j);
    self->has_restore = true;
    if (r->ok)
        log_info("restore test: consistent and answering in %.1f s (RTO %.0f s), result %s",
                 (double)r->duration_ms / 1000, (double)r->rto_ms / 1000,
                 self->restore_result ? self->restore_result : "-");
    else
        log_warning("restore test failed: %s", self->restore_error);
}

static void backup_start_verify(backup_t *self)
{
    int64_t mtime;
    if (!backup_newest(self->cfg->backup_directory, self->path, sizeof self->path, &mtime)) {
        Pgvigil__Backup *b = &self->last;
        pgvigil__backup__init(b);
        b->has_ok = b->has_verified_at_us = b->has_interval_ms = 1;
        b->ok = 0;
        b->verified_at_us = clock_wall_us();
        b->interval_ms = (uint32_t)self->cfg->backup_interval_ms;
        backup_set_str(&self->last_path, self->cfg->backup_directory);
        backup_set_str(&self->last_error, "no base backup (a directory with backup_manifest) found");
        self->has_last = true;
        log_warning("no base backup under %s", self->cfg->backup_directory);
        return;
    }
    char bindir[1024], prog[1100];
    backup_bindir(self->cfg->backup_bindir, self->server_version, bindir, sizeof bindir);
    snprintf(prog, sizeof prog, "%s%spg_verifybackup", bindir, bindir[0] ? "/" : "");
    char *argv[] = {prog, self->path, NULL};
    if (backup_spawn(self, JOB_VERIFY, argv, (int64_t)self->cfg->backup_timeout_ms * 1000) != 0)
        log_warning("could not run %s: %s", prog, strerror(errno));
}

static int backup_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    backup_t *self = arg;
    int64_t now = clock_wall_us();
    if (self->pid > 0) {
        int status;
        pid_t r = waitpid(self->pid, &status, WNOHANG);
        if (r == 0 && now > self->deadline_us && self->killed) {
            kill(-self->pid, SIGKILL);
            return 0;
        }
        if (r == 0 && now > self->deadline_us) {
            self->killed = true;
            log_warning("%s of %s ran past its timeout: stopping it",
                        self->kind == JOB_VERIFY ? "verification" : "restore test", self->path);
            /* The restore child cleans up on SIGTERM; the rest of its
             * group (a step it runs) gets it too. */
            kill(-self->pid, SIGTERM);
            self->deadline_us = now + 10 * 1000000LL; /* then SIGKILL below */
            snprintf(self->out + self->out_len, sizeof self->out - self->out_len, "\ntimed out");
            self->out_len = strlen(self->out);
            return 0;
        }
        if (r == 0)
            return 0;
        if (r < 0)
            status = 1 << 8; /* lost (ECHILD): count it as failed */
        if (self->polling)
            backup_on_output(self->loop, &self->item, self); /* what is left in the pipe */
        backup_stop_reading(self);
        job_kind_t kind = self->kind;
        self->pid = 0;
        self->kind = JOB_NONE;
        if (kind == JOB_VERIFY)
            backup_verified(self, status);
        else
            backup_restored(self, status);
        return 0;
    }
    if (now >= self->next_verify_us) {
        self->next_verify_us = now + (int64_t)self->cfg->backup_interval_ms * 1000;
        backup_start_verify(self);
    }
    return 0;
}

backup_t *backup_new(zloop_t *loop, const col_config_t *cfg)
{
    if (!cfg->backup_directory)
        return NULL;
    backup_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->cfg = cfg;
    self->fd = -1;
    self->next_verify_us = clock_wall_us() + BACKUP_FIRST_DELAY_US;
    self->timer = zloop_timer(loop, 200, 0, backup_on_tick, self);
    return self;
}

void backup_set_server_version(backup_t *self, int version)
{
    if (self)
        self->server_version = version;
}

void backup_destroy(backup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    backup_t *self = *self_p;
    zloop_timer_end(self->loop, self->timer);
    backup_stop_reading(self);
    if (self->pid > 0) {
        kill(-self->pid, SIGTERM);
        for (int i = 0; i < 100 && waitpid(self->pid, NULL, WNOHANG) == 0; i++)
            usleep(100000);
        if (waitpid(self->pid, NULL, WNOHANG) == 0) {
            kill(-self->pid, SIGKILL);
            waitpid(self->pid, NULL, 0);
        }
    }
    free(self->last_path);
    free(self->last_error);
    free(self->restore_error);
    free(self->restore_result);
    free(self);
    *self_p = NULL;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

void backup_fill(backup_t *self, Pgvigil__Sample *s)
{
    if (!self || !self->has_last)
        return;
    Pgvigil__Backup *b = malloc(sizeof *b);
    if (!b)
        return;
    *b = self->last;
    b->path = dup_or_null(self->last_path);
    b->error = dup_or_null(self->last_error);
    b->restore = NULL;
    if (self->has_restore && (b->restore = malloc(sizeof *b->restore))) {
        *b->restore = self->restore;
        b->restore->error = dup_or_null(self->restore_error);
        b->restore->result = dup_or_null(self->restore_result);
    }
    s->backup = b;
}
