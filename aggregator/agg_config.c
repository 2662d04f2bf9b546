/*
 * agg_config.c — parse and validate the aggregator's YAML file (agg_config.h).
 *
 * Validation includes what the daemon would otherwise find only when it
 * starts an actor: the CURVE certificate must load, the allow-list and spool
 * directories must exist, and durations where zero makes no sense are
 * refused. So `check-config` and a start agree, and both exit 2 naming the
 * file, line and key.
 */
#include "agg_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "config.h"
#include "log.h"

static int agg_config_listen(config_t *cfg, const config_node_t *root, agg_config_t *c)
{
    static const char *const keys[] = {"ingest", "http", NULL};
    const config_node_t *listen = NULL, *seq = NULL;
    const char *http = NULL;
    if (config_map(cfg, root, "listen", true, &listen) != 0 ||
        config_expect_keys(cfg, listen, keys) != 0 ||
        config_seq(cfg, listen, "ingest", true, &seq) != 0 ||
        config_str(cfg, listen, "http", true, &http) != 0)
        return -1;
    size_t n = config_seq_len(seq);
    if (n == 0)
        return config_fail(cfg, listen, "ingest", "expected at least one ZeroMQ endpoint");
    if (!(c->ingest_endpoints = calloc(n, sizeof *c->ingest_endpoints)))
        return config_fail(cfg, listen, "ingest", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        if (config_seq_str(cfg, seq, i, &e) != 0)
            return -1;
        if (strncmp(e, "tcp://", 6) != 0 && strncmp(e, "ipc://", 6) != 0)
            return config_fail(cfg, listen, "ingest",
                               "expected endpoints such as \"tcp://0.0.0.0:7400\", got \"%s\"", e);
        c->ingest_endpoints[i] = strdup(e);
        c->ingest_count = i + 1;
    }
    const char *colon = strrchr(http, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == http || !end || *end != '\0' || port < 1 || port > 65535)
        return config_fail(cfg, listen, "http", "expected host:port such as \"127.0.0.1:8080\", got \"%s\"",
                           http);
    c->http_listen = strdup(http);
    return 0;
}

static int agg_config_curve(config_t *cfg, const config_node_t *root, agg_config_t *c)
{
    static const char *const keys[] = {"server_cert", "allow_dir", NULL};
    const config_node_t *cv = NULL;
    const char *cert = NULL, *dir = NULL;
    if (config_map(cfg, root, "curve", false, &cv) != 0)
        return -1;
    if (!cv)
        return 0;
    if (config_expect_keys(cfg, cv, keys) != 0 || config_str(cfg, cv, "server_cert", true, &cert) != 0 ||
        config_str(cfg, cv, "allow_dir", true, &dir) != 0)
        return -1;
    struct stat cs; /* a regular file only: a FIFO or device would block the load */
    zcert_t *z = stat(cert, &cs) == 0 && S_ISREG(cs.st_mode) ? zcert_load(cert) : NULL;
    bool has_secret = z && strcmp(zcert_secret_txt(z), "0000000000000000000000000000000000000000") != 0;
    zcert_destroy(&z);
    if (!has_secret)
        return config_fail(cfg, cv, "server_cert",
                           "expected the aggregator's secret certificate (PATH_secret written by "
                           "\"pgvigil-aggregator keygen PATH\"), but \"%s\" %s",
                           cert, access(cert, R_OK) == 0 ? "holds no secret key" : "cannot be read");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return config_fail(cfg, cv, "allow_dir",
                           "expected an existing directory holding the public certificates of the "
                           "admitted collectors, but \"%s\" %s", dir,
                           stat(dir, &st) != 0 ? "does not exist" : "is not a directory");
    c->curve_server_cert = strdup(cert);
    c->curve_allow_dir = strdup(dir);
    return 0;
}

/* The history spool lives in spool_dir: it must exist when history is kept. */
static int agg_config_spool_dir(config_t *cfg, const config_node_t *st, const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
        return 0;
    return config_fail(cfg, st, "spool_dir",
                       "expected an existing directory for the history spool, but \"%s\" %s; "
                       "create it (owned by the aggregator's user) or set storage.spool_dir",
                       dir, stat(dir, &sb) != 0 ? "does not exist" : "is not a directory");
}

static int agg_config_storage(config_t *cfg, const config_node_t *root, agg_config_t *c)
{
    static const char *const keys[] = {"dsn", "retention_days", "partitions_ahead_days", "spool_dir",
                                       "memory_rows", "maintenance_interval", "retention_raw_days",
                                       "retention_1m_days", "retention_1h_days", "rollup_interval", NULL};
    const config_node_t *st = NULL;
    const char *dsn = NULL, *spool = NULL;
    uint64_t retention = c->retention_days, ahead = c->partitions_ahead_days;
    uint64_t raw = c->retention_raw_days, m1 = c->retention_1m_days, h1 = c->retention_1h_days;
    if (config_map(cfg, root, "storage", false, &st) != 0)
        return -1;
    if (!st)
        return 0;
    if (config_expect_keys(cfg, st, keys) != 0 || config_str(cfg, st, "dsn", true, &dsn) != 0 ||
        config_uint(cfg, st, "retention_days", false, 1, 3650, &retention) != 0 ||
        config_uint(cfg, st, "partitions_ahead_days", false, 1, 60, &ahead) != 0 ||
        config_str(cfg, st, "spool_dir", false, &spool) != 0 ||
        config_uint(cfg, st, "memory_rows", false, 100, 100000000, &c->memory_rows) != 0 ||
        config_duration_ms(cfg, st, "maintenance_interval", false, &c->maintenance_interval_ms) != 0 ||
        config_uint(cfg, st, "retention_raw_days", false, 1, 3650, &raw) != 0 ||
        config_uint(cfg, st, "retention_1m_days", false, 1, 3650, &m1) != 0 ||
        config_uint(cfg, st, "retention_1h_days", false, 1, 36500, &h1) != 0 ||
        config_duration_ms(cfg, st, "rollup_interval", false, &c->rollup_interval_ms) != 0)
        return -1;
    if (c->rollup_interval_ms < 1000)
        return config_fail(cfg, st, "rollup_interval", "expected at least 1s");
    if (m1 < raw)
        return config_fail(cfg, st, "retention_1m_days",
                           "expected at least retention_raw_days (%llu): minutes are rolled up from raw rows",
                           (unsigned long long)raw);
    if (h1 < m1)
        return config_fail(cfg, st, "retention_1h_days",
                           "expected at least retention_1m_days (%llu)", (unsigned long long)m1);
    c->retention_raw_days = (uint32_t)raw;
    c->retention_1m_days = (uint32_t)m1;
    c->retention_1h_days = (uint32_t)h1;
    if (c->maintenance_interval_ms < 1000)
        return config_fail(cfg, st, "maintenance_interval", "expected at least 1s");
    c->retention_days = (uint32_t)retention;
    c->partitions_ahead_days = (uint32_t)ahead;
    c->storage_dsn = strdup(dsn);
    if (spool) {
        free(c->spool_dir);
        c->spool_dir = strdup(spool);
    }
    return c->spool_dir ? agg_config_spool_dir(cfg, st, c->spool_dir) : config_fail(cfg, st, NULL, "out of memory");
}

static int agg_config_diagnostics(config_t *cfg, const config_node_t *root, agg_config_t *c)
{
    static const char *const keys[] = {"statements_top", "seq_scan_min_rows", "regression", NULL};
    static const char *const rkeys[] = {"factor", "min_increase", "min_calls", "recent", "half_life",
                                        "min_baseline", NULL};
    diag_options_t *o = &c->diag;
    const config_node_t *d = NULL, *r = NULL;
    uint64_t top = o->statements_top, min_increase_ms = (uint64_t)o->regression_min_increase_ms;
    if (config_map(cfg, root, "diagnostics", false, &d) != 0)
        return -1;
    if (!d)
        return 0;
    if (config_expect_keys(cfg, d, keys) != 0 || config_uint(cfg, d, "statements_top", false, 1, 10000, &top) != 0 ||
        config_uint(cfg, d, "seq_scan_min_rows", false, 1, UINT64_MAX / 2, &o->seq_scan_min_rows) != 0 ||
        config_map(cfg, d, "regression", false, &r) != 0)
        return -1;
    o->statements_top = (uint32_t)top;
    if (!r)
        return 0;
    if (config_expect_keys(cfg, r, rkeys) != 0 ||
        config_double(cfg, r, "factor", false, 1.01, 1000, &o->regression_factor) != 0 ||
        config_duration_ms(cfg, r, "min_increase", false, &min_increase_ms) != 0 ||
        config_uint(cfg, r, "min_calls", false, 1, 1000000000, &o->regression_min_calls) != 0 ||
        config_duration_ms(cfg, r, "recent", false, &o->regression_recent_ms) != 0 ||
        config_duration_ms(cfg, r, "half_life", false, &o->regression_half_life_ms) != 0 ||
        config_duration_ms(cfg, r, "min_baseline", false, &o->regression_min_baseline_ms) != 0)
        return -1;
    o->regression_min_increase_ms = (double)min_increase_ms;
    if (o->regression_recent_ms < 1000)
        return config_fail(cfg, r, "recent", "expected at least 1s");
    if (o->regression_half_life_ms < 1000)
        return config_fail(cfg, r, "half_life", "expected at least 1s");
    return 0;
}

static int agg_config_clusters(config_t *cfg, const config_node_t *root, agg_config_t *c)
{
    static const char *const keys[] = {"system_identifier", "name", NULL};
    const config_node_t *seq = NULL;
    if (config_seq(cfg, root, "clusters", false, &seq) != 0)
        return -1;
    if (!seq)
        return 0;
    size_t n = config_seq_len(seq);
    if (!(c->cluster_names = calloc(n ? n : 1, sizeof *c->cluster_names)))
        return config_fail(cfg, root, "clusters", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const config_node_t *item = config_seq_at(cfg, seq, i);
        const char *id = NULL, *name = NULL;
        if (config_expect_keys(cfg, item, keys) != 0 ||
            config_str(cfg, item, "system_identifier", true, &id) != 0 ||
            config_str(cfg, item, "name", true, &name) != 0)
            return -1;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(id, &end, 10);
        if (errno || *end || end == id || id[0] == '-')
            return config_fail(cfg, item, "system_identifier",
                               "expected the decimal system identifier (SELECT system_identifier "
                               "FROM pg_control_system()), got \"%s\"", id);
        c->cluster_names[i].system_identifier = v;
        c->cluster_names[i].name = strdup(name);
        c->cluster_name_count = i + 1;
    }
    return 0;
}

static int agg_config_events(config_t *cfg, const config_node_t *root, agg_config_t *c)
{
    static const char *const keys[] = {"slot_retained_bytes", "lag_degraded_seconds", NULL};
    const config_node_t *e = config_get(cfg, root, "events");
    if (!e)
        return 0;
    if (config_expect_keys(cfg, e, keys) != 0 ||
        config_uint(cfg, e, "slot_retained_bytes", false, 1, UINT64_C(1) << 50, &c->events.slot_retained_bytes) != 0 ||
        config_double(cfg, e, "lag_degraded_seconds", false, 0, 1e9, &c->events.lag_degraded_seconds) != 0)
        return -1;
    return 0;
}

/* Durations alert_config.c accepts as any value but where zero means nothing
 * sensible: a delivery that gives up at once, a breaker that never rests, a
 * flapping window that holds no transition. */
static int agg_config_nonzero(config_t *cfg, const config_node_t *root, const alert_config_t *a)
{
    const config_node_t *d = config_get(cfg, root, "delivery"), *f = config_get(cfg, root, "flapping");
    if (d && a->give_up_after_ms < a->retry_initial_ms)
        return config_fail(cfg, d, "give_up_after",
                           "expected a duration of at least retry_initial (%llums): how long a notification is "
                           "retried before it is given up", (unsigned long long)a->retry_initial_ms);
    if (d && a->breaker_cooldown_ms < 1000)
        return config_fail(cfg, d, "breaker_cooldown",
                           "expected at least 1s: how long a failing receiver rests before it is tried again");
    if (f && a->flap_window_ms < 1000)
        return config_fail(cfg, f, "window",
                           "expected at least 1s: the time in which \"transitions\" changes mark an alert as flapping");
    return 0;
}

static int agg_config_parse(config_t *cfg, agg_config_t *c)
{
    static const char *const keys[] = {"listen", "storage", "curve", "clusters", "stale_intervals",
                                       "publish_interval", "log_level", "rules", "regions", "peak",
                                       "escalation", "receivers", "delivery", "flapping", "auth", "http",
                                       "diagnostics", "events", "cluster", "inbound_budget_mb", NULL};
    const config_node_t *root = config_root(cfg);
    const char *level = NULL;
    uint64_t stale = c->stale_intervals;
    if (config_expect_keys(cfg, root, keys) != 0 || agg_config_listen(cfg, root, c) != 0 ||
        agg_config_storage(cfg, root, c) != 0 || agg_config_curve(cfg, root, c) != 0 || agg_config_clusters(cfg, root, c) != 0 ||
        agg_config_diagnostics(cfg, root, c) != 0 || agg_config_events(cfg, root, c) != 0 ||
        config_uint(cfg, root, "stale_intervals", false, 2, 100, &stale) != 0 ||
        config_duration_ms(cfg, root, "publish_interval", false, &c->publish_interval_ms) != 0 ||
        config_uint(cfg, root, "inbound_budget_mb", false, 4, 65536, &c->inbound_budget_mb) != 0 ||
        config_str(cfg, root, "log_level", false, &level) != 0 ||
        alert_config_parse(cfg, root, &c->alerting) != 0 || auth_config_parse(cfg, root, &c->auth) != 0 ||
        agg_config_nonzero(cfg, root, &c->alerting) != 0 ||
        cluster_config_parse(cfg, root, &c->cluster) != 0)
        return -1;
    c->stale_intervals = (uint32_t)stale;
    if (c->publish_interval_ms < 10 || c->publish_interval_ms > 10000)
        return config_fail(cfg, root, "publish_interval", "expected a duration from 10ms to 10s");
    if (level) {
        log_level_t l;
        if (log_parse_level(level, &l) != 0)
            return config_fail(cfg, root, "log_level",
                               "expected one of debug, info, warning, error; got \"%s\"", level);
        c->log_level = (int)l;
    }
    return 0;
}

static agg_config_t *agg_config_from(config_t *cfg, const char *name, char *err, size_t errlen)
{
    agg_config_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "%s: out of memory", name);
        config_destroy(&cfg);
        return NULL;
    }
    c->path = strdup(name);
    c->stale_intervals = 3;
    c->publish_interval_ms = 100;
    c->inbound_budget_mb = 64;
    c->log_level = LOG_LEVEL_INFO;
    c->retention_days = 60;
    c->partitions_ahead_days = 3;
    c->spool_dir = strdup("/var/lib/pgvigil");
    c->memory_rows = 200000;
    c->maintenance_interval_ms = 3600000;
    c->retention_raw_days = 2;
    c->retention_1m_days = 60;
    c->retention_1h_days = 730;
    c->rollup_interval_ms = 60000;
    c->events.slot_retained_bytes = UINT64_C(64) << 20;
    c->events.lag_degraded_seconds = 30;
    diag_options_default(&c->diag);
    cluster_config_default(&c->cluster);
    if (agg_config_parse(cfg, c) != 0) {
        snprintf(err, errlen, "%s", config_error(cfg));
        agg_config_destroy(&c);
    }
    config_destroy(&cfg);
    return c;
}

agg_config_t *agg_config_load(const char *path, char *err, size_t errlen)
{
    config_t *cfg = config_load(path, err, errlen);
    return cfg ? agg_config_from(cfg, path, err, errlen) : NULL;
}

agg_config_t *agg_config_load_string(const char *name, const char *text, char *err, size_t errlen)
{
    config_t *cfg = config_load_string(name, text, err, errlen);
    return cfg ? agg_config_from(cfg, name, err, errlen) : NULL;
}

void agg_config_destroy(agg_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agg_config_t *c = *self_p;
    for (size_t i = 0; i < c->ingest_count; i++)
        free(c->ingest_endpoints[i]);
    free(c->ingest_endpoints);
    for (size_t i = 0; i < c->cluster_name_count; i++)
        free(c->cluster_names[i].name);
    free(c->cluster_names);
    free(c->path);
    free(c->http_listen);
    free(c->storage_dsn);
    free(c->spool_dir);
    free(c->curve_server_cert);
    free(c->curve_allow_dir);
    alert_config_free(&c->alerting);
    auth_config_free(&c->auth);
    cluster_config_free(&c->cluster);
    free(c);
    *self_p = NULL;
}

const char *agg_config_cluster_name(const agg_config_t *cfg, uint64_t system_identifier)
{
    for (size_t i = 0; i < cfg->cluster_name_count; i++)
        if (cfg->cluster_names[i].system_identifier == system_identifier)
            return cfg->cluster_names[i].name;
    return NULL;
}
