/*
 * auth.c — bearer tokens, roles and rate limits (see auth.h).
 */
#include "auth.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "config.h"

static const char *const auth_roles[] = {"none", "viewer", "operator", "admin", NULL};

const char *auth_role_name(auth_role_t r)
{
    return r <= AUTH_ADMIN ? auth_roles[r] : "none";
}

static void auth_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void auth_sha256_hex(const char *text, char hex[65])
{
    unsigned char d[32];
    auth_sha256(text, strlen(text), d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static int auth_unhex(const char *hex, unsigned char out[32])
{
    if (strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* auth.tokens: name, role (not none) and the SHA-256 of the token. */
static int auth_tokens_parse(config_t *cfg, const config_node_t *auth, const config_node_t *tokens,
                             auth_config_t *c)
{
    static const char *const tkeys[] = {"name", "role", "sha256", NULL};
    size_t n = tokens ? config_seq_len(tokens) : 0;
    if (n && !(c->tokens = calloc(n, sizeof *c->tokens)))
        return config_fail(cfg, auth, "tokens", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const config_node_t *t = config_seq_at(cfg, tokens, i);
        const char *name = NULL, *hex = NULL;
        int role = 0;
        if (config_expect_keys(cfg, t, tkeys) != 0 || config_str(cfg, t, "name", true, &name) != 0 ||
            config_enum(cfg, t, "role", true, auth_roles, &role) != 0 || config_str(cfg, t, "sha256", true, &hex) != 0)
            return -1;
        if (role == AUTH_NONE)
            return config_fail(cfg, t, "role", "expected viewer, operator or admin");
        if (auth_unhex(hex, c->tokens[i].sha256) != 0)
            return config_fail(cfg, t, "sha256", "expected the 64 hex digits printed by `pgvigil-aggregator token`");
        c->tokens[i].name = strdup(name);
        c->tokens[i].role = (auth_role_t)role;
        c->token_count = i + 1;
    }
    return 0;
}

int auth_config_parse(config_t *cfg, const config_node_t *root, auth_config_t *c)
{
    static const char *const keys[] = {"tokens", "anonymous", NULL};
    static const char *const hkeys[] = {"rate_limit", "tls_certificate", "redirect_from", "cors_origin",
                                        "web_dir", "public_name", NULL};
    static const char *const rkeys[] = {"per_second", "burst", NULL};
    const config_node_t *auth = NULL, *tokens = NULL, *http = NULL, *rl = NULL;
    const char *cert = NULL, *redirect = NULL, *cors = NULL, *web = NULL, *pub = NULL;
    int anon = AUTH_NONE;
    c->rate_per_second = -1; /* unset: 50/s (burst 100) with auth, none without */
    c->rate_burst = 100;
    if (config_map(cfg, root, "auth", false, &auth) != 0 || config_map(cfg, root, "http", false, &http) != 0)
        return -1;
    if (http && (config_expect_keys(cfg, http, hkeys) != 0 || config_map(cfg, http, "rate_limit", false, &rl) != 0 ||
                 config_str(cfg, http, "tls_certificate", false, &cert) != 0 ||
                 config_str(cfg, http, "redirect_from", false, &redirect) != 0 ||
                 config_str(cfg, http, "cors_origin", false, &cors) != 0 ||
                 config_str(cfg, http, "web_dir", false, &web) != 0 ||
                 config_str(cfg, http, "public_name", false, &pub) != 0))
        return -1;
    if (rl && (config_expect_keys(cfg, rl, rkeys) != 0 ||
               config_double(cfg, rl, "per_second", false, 0, 1e6, &c->rate_per_second) != 0 ||
               config_double(cfg, rl, "burst", false, 1, 1e6, &c->rate_burst) != 0))
        return -1;
    if (redirect && !cert)
        return config_fail(cfg, http, "redirect_from", "expected tls_certificate too: it redirects to HTTPS");
    c->tls_certificate = cert ? strdup(cert) : NULL;
    c->redirect_from = redirect ? strdup(redirect) : NULL;
    c->cors_origin = cors ? strdup(cors) : NULL;
    c->web_dir = web ? strdup(web) : NULL;
    c->public_name = pub ? strdup(pub) : NULL;
    if (!auth) {
        if (c->rate_per_second < 0)
            c->rate_per_second = 0;
        return 0;
    }
    c->enabled = true;
    if (c->rate_per_second < 0)
        c->rate_per_second = 50;
    if (config_expect_keys(cfg, auth, keys) != 0 || config_seq(cfg, auth, "tokens", false, &tokens) != 0 ||
        config_enum(cfg, auth, "anonymous", false, auth_roles, &anon) != 0)
        return -1;
    if (anon > AUTH_VIEWER)
        return config_fail(cfg, auth, "anonymous", "expected none or viewer");
    c->anonymous = (auth_role_t)anon;
    return auth_tokens_parse(cfg, auth, tokens, c);
}

void auth_config_free(auth_config_t *c)
{
    for (size_t i = 0; i < c->token_count; i++)
        free(c->tokens[i].name);
    free(c->tokens);
    free(c->tls_certificate);
    free(c->redirect_from);
    free(c->cors_origin);
    free(c->web_dir);
    free(c->public_name);
    memset(c, 0, sizeof *c);
}

const auth_token_t *auth_check(const auth_config_t *c, const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    unsigned char d[32];
    auth_sha256(tok, strlen(tok), d);
    const auth_token_t *found = NULL;
    for (size_t i = 0; i < c->token_count; i++) /* every entry compared: no early exit on a match */
        if (CRYPTO_memcmp(d, c->tokens[i].sha256, 32) == 0)
            found = &c->tokens[i];
    return found;
}

int auth_new_token(char token[64], char hex[65])
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            token[o++] = b64[(acc >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits)
        token[o++] = b64[(acc << (6 - bits)) & 63];
    token[o] = '\0';
    auth_sha256_hex(token, hex);
    return 0;
}

/* ---- rate limits ---- */

#define AUTH_BUCKETS 4096

typedef struct {
    char key[64];
    double tokens;
    int64_t at_us;
} auth_bucket_t;

struct auth_limiter {
    pthread_mutex_t mu;
    double rate, burst;
    auth_bucket_t b[AUTH_BUCKETS];
};

auth_limiter_t *auth_limiter_new(double per_second, double burst)
{
    if (per_second <= 0)
        return NULL;
    auth_limiter_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->mu, NULL);
    self->rate = per_second;
    self->burst = burst;
    return self;
}

void auth_limiter_destroy(auth_limiter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->mu);
    free(*self_p);
    *self_p = NULL;
}

int auth_limiter_take(auth_limiter_t *self, const char *key, int64_t now_us)
{
    if (!self)
        return 0;
    uint32_t h = 2166136261u; /* FNV-1a; a collision only shares a bucket */
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    pthread_mutex_lock(&self->mu);
    auth_bucket_t *b = &self->b[h % AUTH_BUCKETS];
    if (strncmp(b->key, key, sizeof b->key - 1) != 0) { /* new key (or an evicted one) starts full */
        snprintf(b->key, sizeof b->key, "%s", key);
        b->tokens = self->burst;
        b->at_us = now_us;
    }
    double elapsed = (double)(now_us - b->at_us) / 1e6;
    b->tokens = fmin(self->burst, b->tokens + (elapsed > 0 ? elapsed : 0) * self->rate);
    b->at_us = now_us;
    int wait = 0;
    if (b->tokens >= 1)
        b->tokens -= 1;
    else
        wait = (int)ceil((1 - b->tokens) / self->rate);
    pthread_mutex_unlock(&self->mu);
    return wait;
}
