/*
 * cluster_ops.c — coordination operations in Redis (cluster_ops.h).
 *
 * Compound steps that must not interleave with another aggregator's (raise a
 * counter above a floor, check an epoch and record an effect) are Lua
 * scripts, which Redis runs atomically.
 */
#include "cluster_ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

/* KEYS[1] epoch counter, ARGV[1] floor: INCR, then lift above the floor. */
static const char cluster_ops_acquire_lua[] =
    "local v = redis.call('INCR', KEYS[1])\n"
    "local floor = tonumber(ARGV[1])\n"
    "if v <= floor then v = floor + 1; redis.call('SET', KEYS[1], v) end\n"
    "return v\n";

static const char cluster_ops_raise_lua[] =
    "local cur = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end\n"
    "return 1\n";

/* KEYS[1] epoch counter, KEYS[2] effect key; ARGV[1] epoch, ARGV[2] keep ms.
 * The effect key holds "<epoch>:pending" from the claim until the sender
 * confirms "<epoch>:done". A claim left pending by an older epoch (its owner
 * died between claim and delivery) is taken over: sent again rather than
 * never. */
static const char cluster_ops_once_lua[] =
    "local cur = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local mine = tonumber(ARGV[1])\n"
    "if mine < cur then return -2 end\n"
    "local v = redis.call('GET', KEYS[2])\n"
    "if v then\n"
    "  local e, st = string.match(v, '^(%d+):(%a+)$')\n"
    "  if st == 'done' then return 0 end\n"
    "  if e and tonumber(e) > mine then return 0 end\n"
    "  if e and tonumber(e) == mine then return 1 end\n"
    "end\n"
    "redis.call('SET', KEYS[2], ARGV[1] .. ':pending', 'PX', ARGV[2])\n"
    "return 1\n";

static const char cluster_ops_done_lua[] =
    "redis.call('SET', KEYS[1], ARGV[1] .. ':done', 'PX', ARGV[2])\n"
    "return 1\n";

/* KEYS[1] member key, ARGV[1] incarnation: delete only our own lease. */
static const char cluster_ops_leave_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

static redisReply *cluster_ops_cmd(cluster_redis_t *r, int argc, const char **argv)
{
    redisReply *rep = cluster_redis_argv(r, argc, argv, NULL);
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* Run a command whose reply does not matter beyond success. */
static int cluster_ops_do(cluster_redis_t *r, int argc, const char **argv)
{
    redisReply *rep = cluster_ops_cmd(r, argc, argv);
    if (!rep)
        return -1;
    freeReplyObject(rep);
    return 0;
}

/* EVAL script with 1 or 2 keys; the integer result into *out. */
static int cluster_ops_eval(cluster_redis_t *r, const char *script, int nkeys, const char **keys_args,
                            int nargs, long long *out)
{
    const char *argv[8] = {"EVAL", script, nkeys == 1 ? "1" : "2"};
    int argc = 3;
    for (int i = 0; i < nkeys + nargs && argc < 8; i++)
        argv[argc++] = keys_args[i];
    redisReply *rep = cluster_ops_cmd(r, argc, argv);
    if (!rep)
        return -1;
    int rc = rep->type == REDIS_REPLY_INTEGER ? 0 : -1;
    if (rc == 0)
        *out = rep->integer;
    freeReplyObject(rep);
    return rc;
}

int cluster_ops_renew(cluster_redis_t *r, const char *name, const char *incarnation, uint64_t ttl_ms)
{
    char key[128], ttl[24];
    snprintf(key, sizeof key, CLUSTER_KEY_PREFIX "member:%s", name);
    snprintf(ttl, sizeof ttl, "%" PRIu64, ttl_ms);
    const char *argv[] = {"SET", key, incarnation, "PX", ttl};
    return cluster_ops_do(r, 5, argv);
}

int cluster_ops_leave(cluster_redis_t *r, const char *name, const char *incarnation)
{
    char key[128];
    long long n;
    snprintf(key, sizeof key, CLUSTER_KEY_PREFIX "member:%s", name);
    const char *ka[] = {key, incarnation};
    return cluster_ops_eval(r, cluster_ops_leave_lua, 1, ka, 1, &n);
}

void cluster_ops_free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

static int cluster_ops_by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* SCAN the keys under prefix; append each key's suffix to suffixes. */
static int cluster_ops_scan(cluster_redis_t *r, const char *prefix, zlist_t *suffixes)
{
    char cursor[32] = "0", pattern[128];
    size_t plen = strlen(prefix);
    snprintf(pattern, sizeof pattern, "%s*", prefix);
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        redisReply *rep = cluster_ops_cmd(r, 6, argv);
        if (!rep)
            return -1;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++) {
            const redisReply *k = rep->element[1]->element[i];
            if (k->type == REDIS_REPLY_STRING && k->len > plen)
                zlist_append(suffixes, k->str + plen);
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

int cluster_ops_members(cluster_redis_t *r, char ***names, size_t *count)
{
    zlist_t *found = zlist_new();
    if (!found)
        return -1;
    zlist_autofree(found);
    int rc = cluster_ops_scan(r, CLUSTER_KEY_PREFIX "member:", found);
    size_t n = zlist_size(found), i = 0;
    char **out = rc == 0 ? calloc(n ? n : 1, sizeof *out) : NULL;
    for (char *s = zlist_first(found); out && s; s = zlist_next(found))
        if ((out[i] = strdup(s)))
            i++;
    zlist_destroy(&found);
    if (!out)
        return -1;
    qsort(out, i, sizeof *out, cluster_ops_by_name);
    *names = out;
    *count = i;
    return 0;
}

static void cluster_ops_epoch_key(uint64_t cluster_id, char *key, size_t len)
{
    snprintf(key, len, CLUSTER_KEY_PREFIX "epoch:%" PRIu64, cluster_id);
}

int cluster_ops_acquire(cluster_redis_t *r, uint64_t cluster_id, uint64_t floor, uint64_t *epoch)
{
    char key[64], fl[24];
    long long v;
    cluster_ops_epoch_key(cluster_id, key, sizeof key);
    snprintf(fl, sizeof fl, "%" PRIu64, floor);
    const char *ka[] = {key, fl};
    if (cluster_ops_eval(r, cluster_ops_acquire_lua, 1, ka, 1, &v) != 0 || v <= 0)
        return -1;
    *epoch = (uint64_t)v;
    return 0;
}

int cluster_ops_raise(cluster_redis_t *r, uint64_t cluster_id, uint64_t epoch)
{
    char key[64], ep[24];
    long long v;
    cluster_ops_epoch_key(cluster_id, key, sizeof key);
    snprintf(ep, sizeof ep, "%" PRIu64, epoch);
    const char *ka[] = {key, ep};
    return cluster_ops_eval(r, cluster_ops_raise_lua, 1, ka, 1, &v);
}

int cluster_ops_epochs(cluster_redis_t *r, const uint64_t *cluster_ids, size_t n, uint64_t *epochs)
{
    char keys[CLUSTER_OPS_EPOCHS_MAX][48];
    const char *argv[CLUSTER_OPS_EPOCHS_MAX + 1] = {"MGET"};
    if (n == 0)
        return 0;
    if (n > CLUSTER_OPS_EPOCHS_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        cluster_ops_epoch_key(cluster_ids[i], keys[i], sizeof keys[i]);
        argv[i + 1] = keys[i];
    }
    redisReply *rep = cluster_ops_cmd(r, (int)n + 1, argv);
    if (!rep)
        return -1;
    int rc = rep->type == REDIS_REPLY_ARRAY && rep->elements == n ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const redisReply *e = rep->element[i];
        epochs[i] = e->type == REDIS_REPLY_STRING ? strtoull(e->str, NULL, 10) : 0;
    }
    freeReplyObject(rep);
    return rc;
}

int cluster_ops_run_token(cluster_redis_t *r, char *known)
{
    const char *get[] = {"GET", CLUSTER_KEY_PREFIX "run"};
    redisReply *rep = cluster_ops_cmd(r, 2, get);
    if (!rep)
        return -1;
    char current[CLUSTER_OPS_TOKEN] = "";
    if (rep->type == REDIS_REPLY_STRING)
        snprintf(current, sizeof current, "%s", rep->str);
    freeReplyObject(rep);
    if (!current[0]) {
        char mine[CLUSTER_OPS_TOKEN];
        zuuid_t *u = zuuid_new();
        if (!u)
            return -1;
        snprintf(mine, sizeof mine, "%s", zuuid_str(u));
        zuuid_destroy(&u);
        const char *set[] = {"SET", CLUSTER_KEY_PREFIX "run", mine, "NX"};
        if (cluster_ops_do(r, 4, set) != 0)
            return -1;
        rep = cluster_ops_cmd(r, 2, get); /* another aggregator may have won the NX */
        if (!rep)
            return -1;
        if (rep->type == REDIS_REPLY_STRING)
            snprintf(current, sizeof current, "%s", rep->str);
        freeReplyObject(rep);
    }
    int lost = known[0] && strcmp(known, current) != 0;
    snprintf(known, CLUSTER_OPS_TOKEN, "%s", current);
    return lost;
}

int cluster_ops_publish(cluster_redis_t *r, const char *name, json_t *views, uint64_t ttl_ms)
{
    char key[128], tmp[160], ttl[24];
    snprintf(key, sizeof key, CLUSTER_KEY_PREFIX "view:%s", name);
    snprintf(tmp, sizeof tmp, CLUSTER_KEY_PREFIX "staging:%s", name);
    snprintf(ttl, sizeof ttl, "%" PRIu64, ttl_ms);
    size_t n = json_object_size(views), argc = 0;
    if (n == 0) {
        const char *del[] = {"DEL", key};
        return cluster_ops_do(r, 2, del);
    }
    const char **argv = calloc(2 + 2 * n, sizeof *argv);
    char **texts = calloc(n, sizeof *texts);
    int rc = -1;
    if (!argv || !texts)
        goto out;
    argv[argc++] = "HSET";
    argv[argc++] = tmp;
    const char *cid;
    json_t *v;
    size_t i = 0;
    json_object_foreach(views, cid, v) {
        if (!(texts[i] = json_dumps(v, JSON_COMPACT)))
            goto out;
        argv[argc++] = cid;
        argv[argc++] = texts[i++];
    }
    const char *del[] = {"DEL", tmp};
    const char *rename[] = {"RENAME", tmp, key};
    const char *expire[] = {"PEXPIRE", key, ttl};
    /* built aside and renamed in place: readers never see it half written */
    if (cluster_ops_do(r, 2, del) != 0 || cluster_ops_do(r, (int)argc, argv) != 0 ||
        cluster_ops_do(r, 3, rename) != 0 || cluster_ops_do(r, 3, expire) != 0)
        goto out;
    rc = 0;
out:
    for (size_t j = 0; texts && j < n; j++)
        free(texts[j]);
    free(texts);
    free(argv);
    return rc;
}

/* Merge one owner's hash (HGETALL reply) into fleet. */
static void cluster_ops_merge(json_t *fleet, const char *owner, const redisReply *rep)
{
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *f = rep->element[i], *v = rep->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        json_t *doc = json_loadb(v->str, v->len, 0, NULL);
        json_t *epoch = json_object_get(doc, "epoch");
        json_t *have = json_object_get(fleet, f->str);
        if (!json_is_object(doc) || !json_is_integer(epoch) ||
            (have && json_integer_value(json_object_get(have, "epoch")) >= json_integer_value(epoch))) {
            json_decref(doc);
            continue;
        }
        json_object_set_new(doc, "owner", json_string(owner));
        json_object_set_new(fleet, f->str, doc);
    }
}

int cluster_ops_fleet(cluster_redis_t *r, json_t **out)
{
    zlist_t *owners = zlist_new();
    json_t *fleet = json_object();
    int rc = -1;
    if (!owners || !fleet)
        goto out;
    zlist_autofree(owners);
    if (cluster_ops_scan(r, CLUSTER_KEY_PREFIX "view:", owners) != 0)
        goto out;
    for (char *owner = zlist_first(owners); owner; owner = zlist_next(owners)) {
        char key[128];
        snprintf(key, sizeof key, CLUSTER_KEY_PREFIX "view:%s", owner);
        const char *argv[] = {"HGETALL", key};
        redisReply *rep = cluster_ops_cmd(r, 2, argv);
        if (!rep)
            goto out;
        if (rep->type == REDIS_REPLY_ARRAY)
            cluster_ops_merge(fleet, owner, rep);
        freeReplyObject(rep);
    }
    *out = fleet;
    fleet = NULL;
    rc = 0;
out:
    zlist_destroy(&owners);
    json_decref(fleet);
    return rc;
}

int cluster_ops_inbox_push(cluster_redis_t *r, const char *owner, const char *text)
{
    char key[128];
    snprintf(key, sizeof key, CLUSTER_KEY_PREFIX "inbox:%s", owner);
    const char *push[] = {"RPUSH", key, text};
    const char *expire[] = {"PEXPIRE", key, "60000"};
    return cluster_ops_do(r, 3, push) == 0 && cluster_ops_do(r, 3, expire) == 0 ? 0 : -1;
}

int cluster_ops_inbox_pop(cluster_redis_t *r, const char *name, size_t max, json_t *out)
{
    char key[128], count[24];
    snprintf(key, sizeof key, CLUSTER_KEY_PREFIX "inbox:%s", name);
    snprintf(count, sizeof count, "%zu", max);
    const char *argv[] = {"LPOP", key, count};
    redisReply *rep = cluster_ops_cmd(r, 3, argv);
    if (!rep)
        return -1;
    int n = 0;
    if (rep->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < rep->elements; i++)
            if (rep->element[i]->type == REDIS_REPLY_STRING &&
                json_array_append_new(out, json_stringn(rep->element[i]->str, rep->element[i]->len)) == 0)
                n++;
    freeReplyObject(rep);
    return n;
}

int cluster_ops_once(cluster_redis_t *r, uint64_t cluster_id, uint64_t epoch, const char *what,
                     uint64_t keep_ms)
{
    char key[64], once[512], ep[24], keep[24];
    long long v;
    cluster_ops_epoch_key(cluster_id, key, sizeof key);
    snprintf(once, sizeof once, CLUSTER_KEY_PREFIX "once:%" PRIu64 ":%s", cluster_id, what);
    snprintf(ep, sizeof ep, "%" PRIu64, epoch);
    snprintf(keep, sizeof keep, "%" PRIu64, keep_ms);
    const char *ka[] = {key, once, ep, keep};
    if (cluster_ops_eval(r, cluster_ops_once_lua, 2, ka, 2, &v) != 0)
        return -1;
    return (int)v;
}

int cluster_ops_once_done(cluster_redis_t *r, uint64_t cluster_id, uint64_t epoch, const char *what,
                          uint64_t keep_ms)
{
    char once[512], ep[24], keep[24];
    long long v;
    snprintf(once, sizeof once, CLUSTER_KEY_PREFIX "once:%" PRIu64 ":%s", cluster_id, what);
    snprintf(ep, sizeof ep, "%" PRIu64, epoch);
    snprintf(keep, sizeof keep, "%" PRIu64, keep_ms);
    const char *ka[] = {once, ep, keep};
    return cluster_ops_eval(r, cluster_ops_done_lua, 1, ka, 2, &v);
}
