/*
 * restore.c — `pgvigil-collector restore-test`: restore a base backup into a
 * scratch directory, start it, run the completeness query, stop it, remove
 * it (see backup.h). Runs as a child of the collector, synchronously; every
 * step is bounded (pg_ctl -t, statement_timeout) and a SIGTERM still stops
 * the server and removes the directory. Prints one JSON line:
 *   {"ok":bool,"duration_ms":N,"result":"...","error":"..."}
 */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "backup.h"
#include "clock.h"

extern char **environ;

static volatile sig_atomic_t restore_stop;

static void restore_on_term(int sig)
{
    (void)sig;
    restore_stop = 1;
}

typedef struct {
    const char *backup, *bindir, *scratch, *query, *database, *user;
    int timeout_s;
    char dir[4096], data[4200], step_log[4200], result_file[4200];
    bool started;
    char error[600];
} restore_t;

/* Run argv (as r->user when we are root); standard output into stdout_path (or
 * step_log when it is NULL), standard error into step_log; 0 if it exited 0.
 * A child run as r->user starts in "/": the collector's own working directory
 * may be one that user cannot enter, and psql would warn about it. */
static int restore_run(restore_t *r, const char *const *argv, bool as_user, const char *stdout_path)
{
    const char *full[32];
    size_t n = 0;
    if (as_user && geteuid() == 0) {
        full[n++] = "runuser";
        full[n++] = "-u";
        full[n++] = r->user;
        full[n++] = "--";
    }
    for (size_t i = 0; argv[i] && n < 31; i++)
        full[n++] = argv[i];
    full[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int rc = posix_spawn_file_actions_addopen(&fa, 2, r->step_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (rc == 0 && stdout_path)
        rc = posix_spawn_file_actions_addopen(&fa, 1, stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    else if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, 2, 1);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0 && as_user)
        rc = posix_spawn_file_actions_addchdir_np(&fa, "/");
    pid_t pid;
    if (rc == 0)
        rc = posix_spawnp(&pid, full[0], &fa, NULL, (char *const *)full, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(r->error, sizeof r->error, "could not run %s: %s", full[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
        if (restore_stop)
            kill(pid, SIGTERM);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    FILE *f = fopen(r->step_log, "r");
    char out[4096] = "";
    size_t len = f ? fread(out, 1, sizeof out - 1, f) : 0;
    if (f)
        fclose(f);
    out[len] = '\0';
    char *line = backup_one_line(out, 400);
    snprintf(r->error, sizeof r->error, "%s failed: %s", argv[0], line && *line ? line : "no output");
    free(line);
    return -1;
}

static int restore_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void restore_cleanup(restore_t *r)
{
    if (r->started) {
        char pg_ctl[1100];
        snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", r->bindir);
        const char *stop[] = {pg_ctl, "-D", r->data, "-m", "immediate", "-w", "-t", "60", "stop", NULL};
        char keep[600];
        memcpy(keep, r->error, sizeof keep);
        restore_run(r, stop, true, NULL);
        memcpy(r->error, keep, sizeof keep);
        r->started = false;
    }
    if (r->dir[0])
        nftw(r->dir, restore_rm, 16, FTW_DEPTH | FTW_PHYS);
    r->dir[0] = '\0';
}

static char *restore_first_line(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    line[strcspn(line, "\r\n")] = '\0';
    return strdup(line);
}

static int restore_steps(restore_t *r, char **result)
{
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/pgvigil-restore-XXXXXX", r->scratch);
    if (!mkdtemp(tmpl)) {
        snprintf(r->error, sizeof r->error, "could not create a directory under %s: %s", r->scratch, strerror(errno));
        return -1;
    }
    /* Absolute, since the steps run as r->user start in "/". */
    char *abs = realpath(tmpl, NULL);
    snprintf(r->dir, sizeof r->dir, "%s", abs ? abs : tmpl);
    free(abs);
    snprintf(r->data, sizeof r->data, "%s/data", r->dir);
    snprintf(r->step_log, sizeof r->step_log, "%s/step.log", r->dir);
    snprintf(r->result_file, sizeof r->result_file, "%s/result.txt", r->dir);
    const char *cp[] = {"cp", "-a", r->backup, r->data, NULL};
    if (restore_run(r, cp, false, NULL) != 0 || restore_stop)
        return -1;
    /* A standby's or an old server's leftovers would change what starts. */
    const char *leftovers[] = {"standby.signal", "recovery.signal", "postmaster.pid", "postmaster.opts", NULL};
    for (size_t i = 0; leftovers[i]; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", r->data, leftovers[i]);
        unlink(p);
    }
    chmod(r->data, 0700);
    if (geteuid() == 0) {
        char owner[200];
        snprintf(owner, sizeof owner, "%s:", r->user);
        const char *chown_[] = {"chown", "-R", owner, r->dir, NULL};
        if (restore_run(r, chown_, false, NULL) != 0)
            return -1;
    }
    char pg_ctl[1100], psql[1100], opts[4600], timeout[16], log[4300];
    snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", r->bindir);
    snprintf(psql, sizeof psql, "%s/psql", r->bindir);
    snprintf(timeout, sizeof timeout, "%d", r->timeout_s);
    snprintf(log, sizeof log, "%s/server.log", r->dir);
    /* Unix socket in our own directory only: no port can clash. */
    snprintf(opts, sizeof opts,
             "-c listen_addresses='' -k %s -p 5432 -c archive_mode=off -c max_wal_senders=0 -c shared_buffers=16MB "
             "-c max_connections=10 -c logging_collector=off",
             r->dir);
    const char *start[] = {pg_ctl, "-D", r->data, "-l", log, "-w", "-t", timeout, "-o", opts, "start", NULL};
    r->started = true;
    if (restore_run(r, start, true, NULL) != 0 || restore_stop)
        return -1;
    char stmt_timeout[64];
    snprintf(stmt_timeout, sizeof stmt_timeout, "PGOPTIONS=-c statement_timeout=%ds", r->timeout_s);
    putenv(stmt_timeout);
    const char *query[] = {psql, "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", r->dir, "-p", "5432", "-d", r->database,
                           "-c", r->query, NULL};
    if (restore_run(r, query, true, r->result_file) != 0)
        return -1;
    *result = restore_first_line(r->result_file);
    return 0;
}

int backup_restore_main(int argc, char **argv)
{
    restore_t r = {.scratch = "/tmp", .database = "postgres", .user = "", .timeout_s = 3600, .query = "select 1"};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--backup") == 0)
            r.backup = v;
        else if (strcmp(k, "--bindir") == 0)
            r.bindir = v;
        else if (strcmp(k, "--scratch") == 0)
            r.scratch = v;
        else if (strcmp(k, "--query") == 0)
            r.query = v;
        else if (strcmp(k, "--database") == 0)
            r.database = v;
        else if (strcmp(k, "--user") == 0)
            r.user = v;
        else if (strcmp(k, "--timeout") == 0)
            r.timeout_s = atoi(v) > 0 ? atoi(v) : 3600;
    }
    /* Absolute, since the steps run as r.user start in "/". */
    char *bindir = r.bindir ? realpath(r.bindir, NULL) : NULL;
    if (bindir)
        r.bindir = bindir;
    struct sigaction sa = {.sa_handler = restore_on_term}; /* no SA_RESTART: waits end on a signal */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int64_t t0 = clock_mono_us();
    char *result = NULL;
    int rc = -1;
    if (!r.backup || !r.bindir)
        snprintf(r.error, sizeof r.error, "usage: restore-test --backup DIR --bindir DIR [...]");
    else if (geteuid() == 0 && !*r.user)
        snprintf(r.error, sizeof r.error, "restore.user is required when the collector runs as root");
    else
        rc = restore_steps(&r, &result);
    int64_t ms = (clock_mono_us() - t0) / 1000;
    if (restore_stop && rc == 0)
        rc = -1;
    if (restore_stop && !r.error[0])
        snprintf(r.error, sizeof r.error, "stopped");
    restore_cleanup(&r);
    json_t *out = json_pack("{s:b,s:I,s:s?,s:s?}", "ok", rc == 0, "duration_ms", (json_int_t)ms, "result", result,
                            "error", rc == 0 ? NULL : r.error);
    char *text = json_dumps(out, JSON_COMPACT);
    printf("%s\n", text ? text : "{\"ok\":false}");
    free(text);
    json_decref(out);
    free(result);
    free(bindir);
    return rc == 0 ? 0 : 1;
}
