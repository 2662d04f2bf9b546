/*
 * cluster_config.c — parse the `cluster` section (cluster_config.h).
 */
#include "cluster_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cluster_config_default(cluster_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = 500;
    c->lease_ttl_ms = 5000;
    c->publish_interval_ms = 1000;
}

bool cluster_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CLUSTER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '_' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

int cluster_addr_parse(const char *text, cluster_addr_t *out)
{
    const char *host = text, *colon;
    size_t host_len;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return -1;
        host = text + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || memchr(text, ':', (size_t)(colon - text)))
            return -1; /* bare IPv6 must be bracketed */
        host_len = (size_t)(colon - text);
    }
    if (host_len == 0 || host_len >= CLUSTER_HOST_MAX)
        return -1;
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
        return -1;
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = (int)port;
    return 0;
}

static int cluster_config_addr(config_t *cfg, const config_node_t *map, const char *key,
                               const char *text, cluster_addr_t *out)
{
    if (cluster_addr_parse(text, out) != 0)
        return config_fail(cfg, map, key, "expected host:port such as \"127.0.0.1:6379\", got \"%s\"",
                           text);
    return 0;
}

static int cluster_config_sentinels(config_t *cfg, const config_node_t *redis,
                                    const config_node_t *seq, cluster_config_t *c)
{
    size_t n = config_seq_len(seq);
    if (n == 0)
        return config_fail(cfg, redis, "sentinels", "expected at least one host:port");
    if (!(c->sentinels = calloc(n, sizeof *c->sentinels)))
        return config_fail(cfg, redis, "sentinels", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *text = NULL;
        if (config_seq_str(cfg, seq, i, &text) != 0 ||
            cluster_config_addr(cfg, redis, "sentinels", text, &c->sentinels[i]) != 0)
            return -1;
        c->sentinel_count = i + 1;
    }
    return 0;
}

static int cluster_config_redis(config_t *cfg, const config_node_t *sec, cluster_config_t *c)
{
    static const char *const keys[] = {"address", "sentinels", "master_name", "password",
                                       "database", "timeout", NULL};
    const config_node_t *redis = NULL, *seq = NULL;
    const char *address = NULL, *master = NULL, *password = NULL;
    uint64_t db = 0;
    if (config_map(cfg, sec, "redis", true, &redis) != 0 || config_expect_keys(cfg, redis, keys) != 0 ||
        config_str(cfg, redis, "address", false, &address) != 0 ||
        config_seq(cfg, redis, "sentinels", false, &seq) != 0 ||
        config_str(cfg, redis, "master_name", false, &master) != 0 ||
        config_str(cfg, redis, "password", false, &password) != 0 ||
        config_uint(cfg, redis, "database", false, 0, 15, &db) != 0 ||
        config_duration_ms(cfg, redis, "timeout", false, &c->timeout_ms) != 0)
        return -1;
    if ((address != NULL) == (seq != NULL))
        return config_fail(cfg, sec, "redis",
                           "expected either \"address\" (one Redis) or \"sentinels\" with "
                           "\"master_name\" (Redis Sentinel)");
    if (address && cluster_config_addr(cfg, redis, "address", address, &c->redis) != 0)
        return -1;
    if (seq) {
        if (!master || !*master)
            return config_fail(cfg, redis, "master_name",
                               "expected the name the sentinels monitor (with \"sentinels\")");
        if (cluster_config_sentinels(cfg, redis, seq, c) != 0)
            return -1;
        c->master_name = strdup(master);
    } else if (master) {
        return config_fail(cfg, redis, "master_name", "expected only together with \"sentinels\"");
    }
    if (c->timeout_ms < 10 || c->timeout_ms > 10000)
        return config_fail(cfg, redis, "timeout", "expected a duration from 10ms to 10s");
    if (password)
        c->password = strdup(password);
    c->database = (uint32_t)db;
    return 0;
}

int cluster_config_parse(config_t *cfg, const config_node_t *root, cluster_config_t *c)
{
    static const char *const keys[] = {"name", "redis", "lease_ttl", "publish_interval", NULL};
    const config_node_t *sec = NULL;
    const char *name = NULL;
    if (config_map(cfg, root, "cluster", false, &sec) != 0)
        return -1;
    if (!sec)
        return 0;
    if (config_expect_keys(cfg, sec, keys) != 0 || config_str(cfg, sec, "name", true, &name) != 0 ||
        config_duration_ms(cfg, sec, "lease_ttl", false, &c->lease_ttl_ms) != 0 ||
        config_duration_ms(cfg, sec, "publish_interval", false, &c->publish_interval_ms) != 0)
        return -1;
    if (!cluster_name_valid(name))
        return config_fail(cfg, sec, "name",
                           "expected 1 to 64 letters, digits, '.', '_' or '-', got \"%s\"", name);
    if (c->lease_ttl_ms < 300 || c->lease_ttl_ms > 600000)
        return config_fail(cfg, sec, "lease_ttl", "expected a duration from 300ms to 10m");
    if (c->publish_interval_ms < 50 || c->publish_interval_ms > 60000)
        return config_fail(cfg, sec, "publish_interval", "expected a duration from 50ms to 1m");
    snprintf(c->name, sizeof c->name, "%s", name);
    if (cluster_config_redis(cfg, sec, c) != 0)
        return -1;
    c->enabled = true;
    return 0;
}

void cluster_config_free(cluster_config_t *c)
{
    free(c->sentinels);
    free(c->master_name);
    free(c->password);
    c->sentinels = NULL;
    c->master_name = NULL;
    c->password = NULL;
    c->sentinel_count = 0;
}
