/*
 * cluster_redis.c — the Redis master connection, direct or through Sentinel
 * (cluster_redis.h).
 */
#include "cluster_redis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"

struct cluster_redis {
    const cluster_config_t *cfg;
    redisContext *data;       /* the master */
    redisContext *watch;      /* a sentinel, subscribed to +switch-master */
    char master[CLUSTER_HOST_MAX + 8];
    unsigned generation;
};

/* The reason into err (cut to errlen: messages name a host of up to 255
 * bytes and a server's error text). */
__attribute__((format(printf, 3, 4))) static void cluster_redis_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static struct timeval cluster_redis_tv(const cluster_redis_t *self)
{
    struct timeval tv = {.tv_sec = (time_t)(self->cfg->timeout_ms / 1000),
                         .tv_usec = (suseconds_t)(self->cfg->timeout_ms % 1000) * 1000};
    return tv;
}

cluster_redis_t *cluster_redis_new(const cluster_config_t *cfg)
{
    cluster_redis_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    return self;
}

void cluster_redis_destroy(cluster_redis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cluster_redis_t *self = *self_p;
    cluster_redis_close(self);
    if (self->watch)
        redisFree(self->watch);
    free(self);
    *self_p = NULL;
}

void cluster_redis_close(cluster_redis_t *self)
{
    if (self->data)
        redisFree(self->data);
    self->data = NULL;
}

bool cluster_redis_connected(const cluster_redis_t *self)
{
    return self->data != NULL;
}

const char *cluster_redis_master(const cluster_redis_t *self)
{
    return self->master;
}

unsigned cluster_redis_generation(const cluster_redis_t *self)
{
    return self->generation;
}

/* A connection with the timeout on connect and on every command, or NULL. */
static redisContext *cluster_redis_open(const cluster_redis_t *self, const char *host, int port,
                                        char *err, size_t errlen)
{
    struct timeval tv = cluster_redis_tv(self);
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        cluster_redis_err(err, errlen, "could not connect to Redis at %s:%d: %s", host, port,
                 c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
        cluster_redis_err(err, errlen, "could not set up the connection to %s:%d", host, port);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* One command on c; the reply if it is not an error, else NULL with err. */
static redisReply *cluster_redis_expect(redisContext *c, const char *what, int argc, const char **argv,
                                        char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r) {
        cluster_redis_err(err, errlen, "%s: %s", what, c->errstr[0] ? c->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        cluster_redis_err(err, errlen, "%s: %s", what, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Ask the sentinels in turn where the master is. 0, or -1 with err. */
static int cluster_redis_ask_sentinels(cluster_redis_t *self, cluster_addr_t *out, char *err,
                                       size_t errlen)
{
    const cluster_config_t *cfg = self->cfg;
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", cfg->master_name};
    cluster_redis_err(err, errlen, "no sentinel answered");
    for (size_t i = 0; i < cfg->sentinel_count; i++) {
        const cluster_addr_t *s = &cfg->sentinels[i];
        redisContext *c = cluster_redis_open(self, s->host, s->port, err, errlen);
        if (!c)
            continue;
        redisReply *r = cluster_redis_expect(c, "SENTINEL get-master-addr-by-name", 3, argv, err, errlen);
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING;
        if (ok) {
            char *end = NULL;
            long port = strtol(r->element[1]->str, &end, 10);
            ok = *end == '\0' && port > 0 && port < 65536 && r->element[0]->len < sizeof out->host;
            if (ok) {
                snprintf(out->host, sizeof out->host, "%s", r->element[0]->str);
                out->port = (int)port;
            }
        } else if (r) {
            cluster_redis_err(err, errlen, "sentinel %s:%d does not know master \"%s\"", s->host, s->port,
                     cfg->master_name);
        }
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (ok)
            return 0;
    }
    return -1;
}

/* AUTH, SELECT, and ROLE must say "master" (a sentinel's answer may be stale). */
static int cluster_redis_prepare(cluster_redis_t *self, redisContext *c, char *err, size_t errlen)
{
    const cluster_config_t *cfg = self->cfg;
    redisReply *r;
    if (cfg->password) {
        const char *auth[] = {"AUTH", cfg->password};
        if (!(r = cluster_redis_expect(c, "AUTH", 2, auth, err, errlen)))
            return -1;
        freeReplyObject(r);
    }
    if (cfg->database) {
        char db[16];
        snprintf(db, sizeof db, "%u", cfg->database);
        const char *sel[] = {"SELECT", db};
        if (!(r = cluster_redis_expect(c, "SELECT", 2, sel, err, errlen)))
            return -1;
        freeReplyObject(r);
    }
    const char *role[] = {"ROLE"};
    if (!(r = cluster_redis_expect(c, "ROLE", 1, role, err, errlen)))
        return -1;
    bool master = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                  r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0;
    freeReplyObject(r);
    if (!master) {
        cluster_redis_err(err, errlen, "the server is a replica, not the master");
        return -1;
    }
    return 0;
}

static int cluster_redis_connect_to(cluster_redis_t *self, cluster_addr_t addr, char *err, size_t errlen)
{
    redisContext *c = cluster_redis_open(self, addr.host, addr.port, err, errlen);
    if (!c)
        return -1;
    char why[256];
    if (cluster_redis_prepare(self, c, why, sizeof why) != 0) {
        cluster_redis_err(err, errlen, "Redis at %s:%d: %s", addr.host, addr.port, why);
        redisFree(c);
        return -1;
    }
    self->data = c;
    self->generation++;
    snprintf(self->master, sizeof self->master, "%s:%d", addr.host, addr.port);
    return 0;
}

int cluster_redis_connect(cluster_redis_t *self, char *err, size_t errlen)
{
    if (self->data)
        return 0;
    cluster_addr_t addr = self->cfg->redis;
    if (self->cfg->sentinel_count && cluster_redis_ask_sentinels(self, &addr, err, errlen) != 0)
        return -1;
    return cluster_redis_connect_to(self, addr, err, errlen);
}

int cluster_redis_connect_addr(cluster_redis_t *self, const char *hostport, char *err, size_t errlen)
{
    cluster_addr_t addr;
    cluster_redis_close(self);
    if (cluster_addr_parse(hostport, &addr) != 0) {
        cluster_redis_err(err, errlen, "no Redis master known yet");
        return -1;
    }
    return cluster_redis_connect_to(self, addr, err, errlen);
}

/* Error replies after which this server cannot serve us as master. */
static bool cluster_redis_fatal_error(const char *msg)
{
    static const char *const prefixes[] = {"READONLY", "LOADING", "NOAUTH", "MASTERDOWN", "WRONGPASS", NULL};
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

redisReply *cluster_redis_argv(cluster_redis_t *self, int argc, const char **argv, const size_t *lens)
{
    if (!self->data)
        return NULL;
    redisReply *r = redisCommandArgv(self->data, argc, argv, lens);
    if (!r || (r->type == REDIS_REPLY_ERROR && cluster_redis_fatal_error(r->str))) {
        log_warning("Redis at %s: %s failed: %s", self->master, argv[0],
                    r ? r->str : self->data->errstr);
        if (r)
            freeReplyObject(r);
        cluster_redis_close(self);
        return NULL;
    }
    return r;
}

int cluster_redis_watch(cluster_redis_t *self)
{
    if (self->watch || self->cfg->sentinel_count == 0)
        return 0;
    char err[256];
    const char *sub[] = {"SUBSCRIBE", "+switch-master"};
    for (size_t i = 0; i < self->cfg->sentinel_count; i++) {
        const cluster_addr_t *s = &self->cfg->sentinels[i];
        redisContext *c = cluster_redis_open(self, s->host, s->port, err, sizeof err);
        if (!c)
            continue;
        redisReply *r = cluster_redis_expect(c, "SUBSCRIBE", 2, sub, err, sizeof err);
        if (r) {
            freeReplyObject(r);
            self->watch = c;
            return 0;
        }
        redisFree(c);
    }
    return -1;
}

int cluster_redis_watch_fd(const cluster_redis_t *self)
{
    return self->watch ? self->watch->fd : -1;
}

/* "+switch-master" payload: "<name> <old-ip> <old-port> <new-ip> <new-port>". */
static bool cluster_redis_is_our_switch(const cluster_redis_t *self, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[2]->type != REDIS_REPLY_STRING)
        return false;
    const char *payload = r->element[2]->str, *space = strchr(payload, ' ');
    size_t n = strlen(self->cfg->master_name);
    return space && (size_t)(space - payload) == n && strncmp(payload, self->cfg->master_name, n) == 0;
}

int cluster_redis_watch_read(cluster_redis_t *self)
{
    if (!self->watch)
        return -1;
    if (redisBufferRead(self->watch) != REDIS_OK) {
        redisFree(self->watch);
        self->watch = NULL;
        return -1;
    }
    int switched = 0;
    void *reply = NULL;
    while (redisGetReplyFromReader(self->watch, &reply) == REDIS_OK && reply) {
        if (cluster_redis_is_our_switch(self, reply)) {
            log_info("Redis Sentinel announced a new master for \"%s\": %s", self->cfg->master_name,
                     ((redisReply *)reply)->element[2]->str);
            switched = 1;
        }
        freeReplyObject(reply);
        reply = NULL;
    }
    if (switched)
        cluster_redis_close(self);
    return switched;
}
