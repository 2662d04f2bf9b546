/*
 * auth.h — who may call the HTTP API, and how often.
 *
 *   auth:
 *     tokens:
 *       - {name: dashboard-alice, role: operator, sha256: 9f86d0...}   # hex SHA-256 of the token
 *     anonymous: none            # or viewer: what a request without a token may do
 *   http:
 *     rate_limit: {per_second: 20, burst: 40}   # per client address and per token;
 *                                               # default 50/100 with auth, none without
 *     tls_certificate: /etc/pgvigil/https.pem   # PEM holding certificate and key
 *     redirect_from: 0.0.0.0:80                 # plain HTTP port redirecting to HTTPS
 *     cors_origin: https://ops.example.org      # absent: no CORS headers at all
 *
 * Roles: viewer (read), operator (acknowledge, resolve, silence, light
 * maintenance), admin (everything, heavy operations, the audit log).
 * Tokens are bearer tokens (Authorization: Bearer ...); only their SHA-256
 * is configured, and `pgvigil-aggregator token` prints a new random token
 * with its hash. Without an auth section the API is open (a warning at
 * start), which suits a loopback-only listener and nothing else.
 */
#ifndef PGVIGIL_AUTH_H
#define PGVIGIL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { AUTH_NONE = 0, AUTH_VIEWER, AUTH_OPERATOR, AUTH_ADMIN } auth_role_t;

typedef struct {
    char *name;
    auth_role_t role;
    unsigned char sha256[32];
} auth_token_t;

typedef struct {
    bool enabled;             /* an auth section exists */
    auth_token_t *tokens;
    size_t token_count;
    auth_role_t anonymous;    /* default AUTH_NONE */
    double rate_per_second;   /* 0: no limit */
    double rate_burst;
    char *tls_certificate, *redirect_from, *cors_origin;
    char *web_dir;            /* the dashboard's files; NULL: the built-in default */
    char *public_name;        /* host name in HTTPS redirects; NULL: the listen address's host */
} auth_config_t;

struct config;
struct config_node;
int auth_config_parse(struct config *cfg, const struct config_node *root, auth_config_t *out);
void auth_config_free(auth_config_t *c);

const char *auth_role_name(auth_role_t r);

/* The token's entry for an Authorization header value, or NULL (no header,
 * not "Bearer ...", or unknown token). Compared in constant time. */
const auth_token_t *auth_check(const auth_config_t *c, const char *authorization);

/* Token bucket per key ("ip:127.0.0.1", "token:alice"). Returns 0 when the
 * request may proceed, else the seconds to wait (for Retry-After). Thread
 * safe. */
typedef struct auth_limiter auth_limiter_t;
auth_limiter_t *auth_limiter_new(double per_second, double burst);
void auth_limiter_destroy(auth_limiter_t **self_p);
int auth_limiter_take(auth_limiter_t *self, const char *key, int64_t now_us);

/* A new random token (43 characters, base64url of 32 random bytes) and its
 * hex SHA-256. */
int auth_new_token(char token[64], char hex[65]);
void auth_sha256_hex(const char *text, char hex[65]);

#endif
