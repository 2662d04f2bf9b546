/*
 * backup.h — backup verification and the restore test, in child processes.
 *
 * Every backup.interval the collector finds the newest base backup under
 * backup.directory (a directory holding backup_manifest, or its newest
 * subdirectory that does, by the manifest's mtime) and runs
 * `pg_verifybackup` on it. With backup.restore enabled, after a successful
 * verification and at most every restore.interval, it runs
 * `pgvigil-collector restore-test` (this same binary), which copies the
 * backup into a fresh scratch directory, starts a server on it (Unix socket
 * only, in that directory), waits until it accepts connections, runs the
 * completeness query, stops the server and removes everything, printing one
 * JSON line with the outcome.
 *
 * The children's output is read through non-blocking pipes watched by the
 * collector's loop and they are reaped with waitpid(WNOHANG) from a timer:
 * sampling never waits for them. A verification running past
 * backup.timeout is killed and reported as failed.
 */
#ifndef PGVIGIL_BACKUP_H
#define PGVIGIL_BACKUP_H

#include <czmq.h>
#include <stdint.h>

#include "col_config.h"
#include "pgvigil.pb-c.h"

typedef struct backup backup_t;

/* NULL when no backup directory is configured. */
backup_t *backup_new(zloop_t *loop, const col_config_t *cfg);
/* Kills what still runs (a restore test cleans up after itself on SIGTERM). */
void backup_destroy(backup_t **self_p);
/* The server's version (PQserverVersion) picks the default bindir. */
void backup_set_server_version(backup_t *self, int version);
/* A copy of the latest result into s->backup (nothing before the first). */
void backup_fill(backup_t *self, Pgvigil__Sample *s);

/* ---- pure parts, for the unit tests ---- */

/* START TIME of a backup_label ("2026-11-23 07:50:01 UTC"; UTC, GMT or a
 * numeric offset such as +02 or -0530). 0 on success. */
int backup_label_start(const char *label, int64_t *out_us);
/* pg_verifybackup's output as one line of at most max bytes: newlines
 * become "; ", trailing separators go. Caller frees. */
char *backup_one_line(const char *text, size_t max);

/* `pgvigil-collector restore-test ...`: the restore test itself
 * (synchronous); prints one JSON line; returns the exit status. */
int backup_restore_main(int argc, char **argv);

#endif
