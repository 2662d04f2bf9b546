/*
 * agg_reload.c — which changes of the configuration file SIGHUP cannot
 * apply to a running aggregator (see agg_config.h, agg_config_restart_only).
 *
 * Applied live: alert rules, regions and peak calendars, escalation,
 * receivers and delivery policy (core and notify actors), cluster display
 * names, staleness and event limits (core), API tokens and roles (HTTP).
 * Everything compared here keeps its running value until a restart: the
 * sockets bound at start, the storage, the CURVE keys, and what other
 * actors read once at start (TLS, rate limits, CORS, the dashboard's
 * directory, the events query, diagnostics, log level, publish interval,
 * the cluster section).
 */
#include "agg_config.h"

#include <stdio.h>
#include <string.h>

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_diag(const diag_options_t *a, const diag_options_t *b)
{
    return a->regression_factor == b->regression_factor &&
           a->regression_min_increase_ms == b->regression_min_increase_ms &&
           a->regression_min_calls == b->regression_min_calls && a->regression_recent_ms == b->regression_recent_ms &&
           a->regression_half_life_ms == b->regression_half_life_ms &&
           a->regression_min_baseline_ms == b->regression_min_baseline_ms &&
           a->seq_scan_min_rows == b->seq_scan_min_rows && a->statements_top == b->statements_top;
}

static bool same_cluster(const cluster_config_t *a, const cluster_config_t *b)
{
    bool same = a->enabled == b->enabled && strcmp(a->name, b->name) == 0 &&
                strcmp(a->redis.host, b->redis.host) == 0 && a->redis.port == b->redis.port &&
                a->sentinel_count == b->sentinel_count && same_str(a->master_name, b->master_name) &&
                same_str(a->password, b->password) && a->database == b->database && a->timeout_ms == b->timeout_ms &&
                a->lease_ttl_ms == b->lease_ttl_ms && a->publish_interval_ms == b->publish_interval_ms;
    for (size_t i = 0; same && i < a->sentinel_count; i++)
        same = strcmp(a->sentinels[i].host, b->sentinels[i].host) == 0 && a->sentinels[i].port == b->sentinels[i].port;
    return same;
}

static void note(char *out, size_t len, size_t *used, const char *key)
{
    if (*used >= len)
        return;
    int n = snprintf(out + *used, len - *used, "%s%s", *used ? ", " : "", key);
    if (n > 0)
        *used += (size_t)n;
}

size_t agg_config_restart_only(const agg_config_t *a, const agg_config_t *b, char *out, size_t len)
{
    size_t used = 0, changes = 0;
    if (len)
        out[0] = '\0';
    bool ingest = a->ingest_count != b->ingest_count;
    for (size_t i = 0; !ingest && i < a->ingest_count; i++)
        ingest = !same_str(a->ingest_endpoints[i], b->ingest_endpoints[i]);
    const struct {
        bool changed;
        const char *key;
    } keys[] = {
        {ingest, "listen.ingest"},
        {!same_str(a->http_listen, b->http_listen), "listen.http"},
        {!same_str(a->storage_dsn, b->storage_dsn) || !same_str(a->spool_dir, b->spool_dir) ||
             a->retention_days != b->retention_days || a->partitions_ahead_days != b->partitions_ahead_days ||
             a->memory_rows != b->memory_rows || a->maintenance_interval_ms != b->maintenance_interval_ms,
         "storage"},
        {!same_str(a->curve_server_cert, b->curve_server_cert) || !same_str(a->curve_allow_dir, b->curve_allow_dir),
         "curve"},
        {a->publish_interval_ms != b->publish_interval_ms, "publish_interval"},
        {a->log_level != b->log_level, "log_level"},
        {!same_str(a->auth.tls_certificate, b->auth.tls_certificate) ||
             !same_str(a->auth.redirect_from, b->auth.redirect_from) ||
             !same_str(a->auth.public_name, b->auth.public_name),
         "http.tls_certificate/redirect_from/public_name"},
        {a->auth.rate_per_second != b->auth.rate_per_second || a->auth.rate_burst != b->auth.rate_burst,
         "http rate limits"},
        {!same_str(a->auth.cors_origin, b->auth.cors_origin) || !same_str(a->auth.web_dir, b->auth.web_dir),
         "http.cors_origin/web_dir"},
        {!same_str(a->alerting.events_dsn, b->alerting.events_dsn) ||
             !same_str(a->alerting.events_sql, b->alerting.events_sql) ||
             a->alerting.events_threshold != b->alerting.events_threshold ||
             a->alerting.events_interval_ms != b->alerting.events_interval_ms,
         "peak.events_query"},
        {!same_diag(&a->diag, &b->diag), "diagnostics"},
        {!same_cluster(&a->cluster, &b->cluster), "cluster"},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].changed) {
            note(out, len, &used, keys[i].key);
            changes++;
        }
    return changes;
}
