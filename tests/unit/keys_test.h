/*
 * keys_test.h — shared by the configuration unit tests: a scratch directory
 * holding real CURVE certificates (as keygen writes them) and the
 * directories a configuration names, since validation checks that they
 * exist and load.
 *
 *   DIR/agg, DIR/agg_secret   the aggregator's pair
 *   DIR/me, DIR/me_secret     a collector's pair
 *   DIR/pub                   a public certificate alone (no secret beside it)
 *   DIR/allowed/, DIR/spool/  an allow-list and a spool directory
 */
#ifndef PGVIGIL_KEYS_TEST_H
#define PGVIGIL_KEYS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

static char keys_test_dir[64];

/* Into buf: keys_test_dir + "/" + name. */
static inline const char *keys_test_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", keys_test_dir, name);
    return buf;
}

static inline int keys_test_setup(void **state)
{
    (void)state;
    char path[128];
    snprintf(keys_test_dir, sizeof keys_test_dir, "/tmp/pgvigil-keys-XXXXXX");
    if (!mkdtemp(keys_test_dir))
        return -1;
    const char *names[] = {"agg", "me"};
    for (size_t i = 0; i < 2; i++) {
        zcert_t *cert = zcert_new();
        int rc = cert ? zcert_save(cert, keys_test_path(path, sizeof path, names[i])) : -1;
        if (rc == 0 && i == 0)
            rc = zcert_save_public(cert, keys_test_path(path, sizeof path, "pub"));
        zcert_destroy(&cert);
        if (rc != 0)
            return -1;
    }
    if (mkdir(keys_test_path(path, sizeof path, "allowed"), 0700) != 0 ||
        mkdir(keys_test_path(path, sizeof path, "spool"), 0700) != 0)
        return -1;
    return 0;
}

static inline int keys_test_teardown(void **state)
{
    (void)state;
    const char *files[] = {"agg", "agg_secret", "me", "me_secret", "pub"};
    char path[128];
    for (size_t i = 0; i < 5; i++)
        unlink(keys_test_path(path, sizeof path, files[i]));
    rmdir(keys_test_path(path, sizeof path, "allowed"));
    rmdir(keys_test_path(path, sizeof path, "spool"));
    rmdir(keys_test_dir);
    return 0;
}

#endif
