/*
 * col_config.c — parse and validate the collector's YAML file (col_config.h).
 *
 * Validation includes what the collector would otherwise find only when it
 * connects: both CURVE certificates must load (the client's with its secret
 * key). Durations where zero makes no sense are refused.
 */
#include "col_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "config.h"
#include "envelope.h"
#include "log.h"

static const char *const col_config_keys[] = {
    "node", "region", "dsn", "aggregators", "databases", "interval", "slow_interval",
    "stats_interval", "hourly_interval", "watch_interval", "connect_timeout", "statement_timeout",
    "lock_timeout", "statements", "curve", "send_queue", "log_level", "maintenance", "backup", NULL};

static char *col_strdup(const char *s) { return s ? strdup(s) : NULL; }

/* The list of strings at key, into out and count. */
static int col_config_list(config_t *cfg, const config_node_t *root, const char *key,
                           bool required, char ***out, size_t *count)
{
    const config_node_t *seq = NULL;
    if (config_seq(cfg, root, key, required, &seq) != 0)
        return -1;
    if (!seq)
        return 0;
    size_t n = config_seq_len(seq);
    if (n == 0 && required)
        return config_fail(cfg, root, key, "expected a non-empty list");
    *out = calloc(n + 1, sizeof **out);
    if (!*out)
        return config_fail(cfg, root, key, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *v = NULL;
        if (config_seq_str(cfg, seq, i, &v) != 0)
            return -1;
        if (!((*out)[i] = strdup(v)))
            return config_fail(cfg, root, key, "out of memory");
        *count = i + 1;
    }
    return 0;
}

static int col_config_endpoints(config_t *cfg, const config_node_t *root, col_config_t *c)
{
    for (size_t i = 0; i < c->aggregator_count; i++) {
        const char *e = c->aggregators[i];
        if (strncmp(e, "tcp://", 6) != 0 && strncmp(e, "ipc://", 6) != 0 &&
            strncmp(e, "inproc://", 9) != 0)
            return config_fail(cfg, root, "aggregators",
                               "expected ZeroMQ endpoints such as \"tcp://aggregator:7400\", got \"%s\"",
                               e);
    }
    return 0;
}

static int col_config_statements(config_t *cfg, const config_node_t *root, col_config_t *c)
{
    static const char *const keys[] = {"enabled", "query_text", "max", "query_text_max", NULL};
    const config_node_t *st = NULL;
    if (config_map(cfg, root, "statements", false, &st) != 0)
        return -1;
    if (!st)
        return 0;
    if (config_expect_keys(cfg, st, keys) != 0 ||
        config_bool(cfg, st, "enabled", false, &c->statements_enabled) != 0 ||
        config_bool(cfg, st, "query_text", false, &c->statements_query_text) != 0 ||
        config_uint(cfg, st, "max", false, 1, 100000, &c->statements_max) != 0 ||
        config_uint(cfg, st, "query_text_max", false, 16, 1000000,
                    &c->statements_query_text_max) != 0)
        return -1;
    return 0;
}

static int col_config_maintenance(config_t *cfg, const config_node_t *root, col_config_t *c)
{
    static const char *const keys[] = {"enabled", "statement_timeout", "lock_timeout", NULL};
    const config_node_t *m = NULL;
    if (config_map(cfg, root, "maintenance", false, &m) != 0)
        return -1;
    if (!m)
        return 0;
    if (config_expect_keys(cfg, m, keys) != 0 || config_bool(cfg, m, "enabled", false, &c->maintenance_enabled) != 0 ||
        config_duration_ms(cfg, m, "statement_timeout", false, &c->maintenance_statement_timeout_ms) != 0 ||
        config_duration_ms(cfg, m, "lock_timeout", false, &c->maintenance_lock_timeout_ms) != 0)
        return -1;
    if (c->maintenance_lock_timeout_ms == 0) /* PostgreSQL reads 0 as "wait for ever" */
        return config_fail(cfg, m, "lock_timeout",
                           "expected a positive duration: 0 would let an operation wait for a lock without "
                           "limit while every query behind it waits too");
    return 0;
}

static int col_config_dup(config_t *cfg, const config_node_t *map, const char *key, bool required, char **out)
{
    const char *v = NULL;
    if (config_str(cfg, map, key, required, &v) != 0)
        return -1;
    if (v && v[0] == '\0')
        return config_fail(cfg, map, key, "expected a non-empty string");
    if (v && !(*out = strdup(v)))
        return config_fail(cfg, map, key, "out of memory");
    return 0;
}

static int col_config_restore(config_t *cfg, const config_node_t *b, col_config_t *c)
{
    static const char *const keys[] = {"enabled", "interval", "rto", "query", "database", "user",
                                       "scratch_dir", NULL};
    const config_node_t *r = NULL;
    if (config_map(cfg, b, "restore", false, &r) != 0)
        return -1;
    if (!r)
        return 0;
    if (config_expect_keys(cfg, r, keys) != 0 || config_bool(cfg, r, "enabled", false, &c->restore_enabled) != 0 ||
        config_duration_ms(cfg, r, "interval", false, &c->restore_interval_ms) != 0 ||
        config_duration_ms(cfg, r, "rto", false, &c->restore_rto_ms) != 0 ||
        col_config_dup(cfg, r, "query", c->restore_enabled, &c->restore_query) != 0 ||
        col_config_dup(cfg, r, "database", false, &c->restore_database) != 0 ||
        col_config_dup(cfg, r, "user", false, &c->restore_user) != 0 ||
        col_config_dup(cfg, r, "scratch_dir", false, &c->restore_scratch_dir) != 0)
        return -1;
    if (c->restore_interval_ms < 1000)
        return config_fail(cfg, r, "interval", "expected at least 1s");
    if (c->restore_rto_ms < 1000)
        return config_fail(cfg, r, "rto", "expected at least 1s: the longest a restore test may take");
    return 0;
}

static int col_config_backup(config_t *cfg, const config_node_t *root, col_config_t *c)
{
    static const char *const keys[] = {"directory", "interval", "timeout", "bindir", "restore", NULL};
    const config_node_t *b = NULL;
    if (config_map(cfg, root, "backup", false, &b) != 0)
        return -1;
    if (!b)
        return 0;
    if (config_expect_keys(cfg, b, keys) != 0 || col_config_dup(cfg, b, "directory", true, &c->backup_directory) != 0 ||
        config_duration_ms(cfg, b, "interval", false, &c->backup_interval_ms) != 0 ||
        config_duration_ms(cfg, b, "timeout", false, &c->backup_timeout_ms) != 0 ||
        col_config_dup(cfg, b, "bindir", false, &c->backup_bindir) != 0 || col_config_restore(cfg, b, c) != 0)
        return -1;
    if (c->backup_directory[0] != '/')
        return config_fail(cfg, b, "directory", "expected an absolute path, got \"%s\"", c->backup_directory);
    if (c->backup_interval_ms < 1000)
        return config_fail(cfg, b, "interval", "expected at least 1s");
    if (c->backup_timeout_ms < 1000)
        return config_fail(cfg, b, "timeout", "expected at least 1s");
    return 0;
}

/* A certificate written by keygen; with secret, the PATH_secret half. */
static int col_config_cert(config_t *cfg, const config_node_t *cv, const char *key, const char *path,
                           bool secret)
{
    struct stat st; /* a regular file only: a FIFO or device would block the load */
    zcert_t *z = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? zcert_load(path) : NULL;
    bool ok = z && (!secret || strcmp(zcert_secret_txt(z), "0000000000000000000000000000000000000000") != 0);
    zcert_destroy(&z);
    if (ok)
        return 0;
    if (secret)
        return config_fail(cfg, cv, key,
                           "expected this collector's secret certificate (PATH_secret written by "
                           "\"pgvigil-collector keygen PATH\"), but \"%s\" %s",
                           path, access(path, R_OK) == 0 ? "holds no secret key" : "cannot be read");
    return config_fail(cfg, cv, key,
                       "expected the aggregator's public certificate (PATH written by "
                       "\"pgvigil-aggregator keygen PATH\"), but \"%s\" cannot be read", path);
}

static int col_config_curve(config_t *cfg, const config_node_t *root, col_config_t *c)
{
    static const char *const keys[] = {"server_public_key", "client_cert", NULL};
    const config_node_t *cv = NULL;
    const char *spk = NULL, *cc = NULL;
    if (config_map(cfg, root, "curve", false, &cv) != 0)
        return -1;
    if (!cv)
        return 0;
    if (config_expect_keys(cfg, cv, keys) != 0 ||
        config_str(cfg, cv, "server_public_key", true, &spk) != 0 ||
        config_str(cfg, cv, "client_cert", true, &cc) != 0)
        return -1;
    if (col_config_cert(cfg, cv, "server_public_key", spk, false) != 0 ||
        col_config_cert(cfg, cv, "client_cert", cc, true) != 0)
        return -1;
    c->curve_server_public_key = strdup(spk);
    c->curve_client_cert = strdup(cc);
    return 0;
}

/* The watch: a tiny query between rounds (collector/replica_watch.h).
 * Unless set, 250ms, or off where rounds come as often as that anyway. */
static int col_config_watch(config_t *cfg, const config_node_t *root, col_config_t *c)
{
    if (!config_get(cfg, root, "watch_interval")) {
        c->watch_interval_ms = c->interval_ms > 250 ? 250 : 0;
        return 0;
    }
    if (config_duration_ms(cfg, root, "watch_interval", false, &c->watch_interval_ms) != 0)
        return -1;
    if (c->watch_interval_ms != 0 && (c->watch_interval_ms < 50 || c->watch_interval_ms >= c->interval_ms))
        return config_fail(cfg, root, "watch_interval",
                           "expected 0 (off) or a duration of at least 50ms and below the interval (%llums)",
                           (unsigned long long)c->interval_ms);
    return 0;
}

static int col_config_durations(config_t *cfg, const config_node_t *root, col_config_t *c)
{
    if (config_duration_ms(cfg, root, "interval", false, &c->interval_ms) != 0 ||
        config_duration_ms(cfg, root, "slow_interval", false, &c->slow_interval_ms) != 0 ||
        config_duration_ms(cfg, root, "stats_interval", false, &c->stats_interval_ms) != 0 ||
        config_duration_ms(cfg, root, "hourly_interval", false, &c->hourly_interval_ms) != 0 ||
        config_duration_ms(cfg, root, "connect_timeout", false, &c->connect_timeout_ms) != 0)
        return -1;
    if (c->interval_ms < 100 || c->interval_ms > 3600000)
        return config_fail(cfg, root, "interval", "expected a duration from 100ms to 1h");
    if (c->slow_interval_ms < c->interval_ms)
        return config_fail(cfg, root, "slow_interval", "expected at least the interval");
    if (c->stats_interval_ms < c->interval_ms)
        return config_fail(cfg, root, "stats_interval", "expected at least the interval");
    if (c->hourly_interval_ms < c->interval_ms)
        return config_fail(cfg, root, "hourly_interval", "expected at least the interval");
    if (col_config_watch(cfg, root, c) != 0)
        return -1;
    if (c->connect_timeout_ms < 1000)
        return config_fail(cfg, root, "connect_timeout", "expected at least 1s (libpq counts seconds)");
    c->statement_timeout_ms = c->interval_ms < 5000 ? c->interval_ms : 5000;
    if (config_duration_ms(cfg, root, "statement_timeout", false, &c->statement_timeout_ms) != 0 ||
        config_duration_ms(cfg, root, "lock_timeout", false, &c->lock_timeout_ms) != 0)
        return -1;
    if (c->statement_timeout_ms < 10)
        return config_fail(cfg, root, "statement_timeout", "expected at least 10ms");
    if (c->lock_timeout_ms == 0) /* PostgreSQL reads 0 as "wait for ever" */
        return config_fail(cfg, root, "lock_timeout",
                           "expected a positive duration: 0 would let a monitoring query wait for a lock "
                           "without limit");
    return 0;
}

static int col_config_parse(config_t *cfg, bool need_aggregators, col_config_t *c)
{
    const config_node_t *root = config_root(cfg);
    const char *node = NULL, *region = NULL, *dsn = NULL, *level = NULL;
    if (config_expect_keys(cfg, root, col_config_keys) != 0 ||
        config_str(cfg, root, "node", true, &node) != 0)
        return -1;
    if (!envelope_node_name_valid(node))
        return config_fail(cfg, root, "node",
                           "expected 1 to 63 characters of A-Z, a-z, 0-9, '.', '_' or '-', got \"%s\"",
                           node);
    if (config_str(cfg, root, "region", true, &region) != 0 ||
        config_str(cfg, root, "dsn", true, &dsn) != 0)
        return -1;
    if (region[0] == '\0' || strlen(region) > 63)
        return config_fail(cfg, root, "region", "expected a name of 1 to 63 characters");
    if (col_config_list(cfg, root, "aggregators", need_aggregators, &c->aggregators,
                        &c->aggregator_count) != 0 ||
        col_config_endpoints(cfg, root, c) != 0 ||
        col_config_list(cfg, root, "databases", false, &c->databases, &c->database_count) != 0 ||
        col_config_durations(cfg, root, c) != 0 || col_config_statements(cfg, root, c) != 0 ||
        col_config_curve(cfg, root, c) != 0 || col_config_maintenance(cfg, root, c) != 0 ||
        col_config_backup(cfg, root, c) != 0 ||
        config_uint(cfg, root, "send_queue", false, 1, 1000000, &c->send_queue) != 0 ||
        config_str(cfg, root, "log_level", false, &level) != 0)
        return -1;
    if (level) {
        log_level_t l;
        if (log_parse_level(level, &l) != 0)
            return config_fail(cfg, root, "log_level",
                               "expected one of debug, info, warning, error; got \"%s\"", level);
        c->log_level = (int)l;
    }
    c->node = col_strdup(node);
    c->region = col_strdup(region);
    c->dsn = col_strdup(dsn);
    return (c->node && c->region && c->dsn) ? 0 : config_fail(cfg, root, NULL, "out of memory");
}

static col_config_t *col_config_from(config_t *cfg, const char *name, bool need_aggregators,
                                     char *err, size_t errlen)
{
    col_config_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "%s: out of memory", name);
        config_destroy(&cfg);
        return NULL;
    }
    c->path = strdup(name);
    c->interval_ms = 1000;
    c->slow_interval_ms = 15000;
    c->stats_interval_ms = 60000;
    c->hourly_interval_ms = 3600000;
    c->connect_timeout_ms = 3000;
    c->lock_timeout_ms = 500;
    c->statements_enabled = true;
    c->statements_query_text = true;
    c->statements_max = 500;
    c->statements_query_text_max = 1000;
    c->send_queue = 3600;
    c->maintenance_statement_timeout_ms = 3600000;
    c->maintenance_lock_timeout_ms = 5000;
    c->backup_interval_ms = 3600000;
    c->backup_timeout_ms = 3600000;
    c->restore_interval_ms = 86400000;
    c->restore_rto_ms = 3600000;
    c->log_level = LOG_LEVEL_INFO;
    if (col_config_parse(cfg, need_aggregators, c) != 0) {
        snprintf(err, errlen, "%s", config_error(cfg));
        col_config_destroy(&c);
    }
    config_destroy(&cfg);
    return c;
}

col_config_t *col_config_load(const char *path, bool need_aggregators, char *err, size_t errlen)
{
    config_t *cfg = config_load(path, err, errlen);
    return cfg ? col_config_from(cfg, path, need_aggregators, err, errlen) : NULL;
}

col_config_t *col_config_load_string(const char *name, const char *text, bool need_aggregators,
                                     char *err, size_t errlen)
{
    config_t *cfg = config_load_string(name, text, err, errlen);
    return cfg ? col_config_from(cfg, name, need_aggregators, err, errlen) : NULL;
}

static void col_free_list(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

void col_config_destroy(col_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    col_config_t *c = *self_p;
    free(c->path);
    free(c->node);
    free(c->region);
    free(c->dsn);
    col_free_list(c->aggregators, c->aggregator_count);
    col_free_list(c->databases, c->database_count);
    free(c->curve_server_public_key);
    free(c->curve_client_cert);
    free(c->backup_directory);
    free(c->backup_bindir);
    free(c->restore_query);
    free(c->restore_database);
    free(c->restore_user);
    free(c->restore_scratch_dir);
    free(c);
    *self_p = NULL;
}
