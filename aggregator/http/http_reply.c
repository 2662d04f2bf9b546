/*
 * http_reply.c — what every handler uses to answer: one write per reply
 * with the security headers, JSON bodies, the one error shape
 *   {"error": {"code": "not_found", "message": "..."}},
 * query parameters, time parameters checked for range, request bodies
 * (through http_body.c) and copies of snapshot values.
 *
 * Owns nothing; runs on civetweb's worker threads.
 */
#include "http_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 201: return "Created";
    case 204: return "No Content";
    case 429: return "Too Many Requests";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

int http_send_ex(struct mg_connection *conn, int status, const char *ctype, const char *body, size_t len,
                 const char *extra)
{
    const http_t *self = mg_get_user_data(mg_get_context(conn));
    const char *cors = self && self->cfg ? self->cfg->auth.cors_origin : NULL;
    /* Headers and body in one write: two small writes on a keep-alive
     * connection meet Nagle's algorithm and the peer's delayed ACK. */
    char head[1024];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
                     "%sReferrer-Policy: no-referrer\r\n%s%s%s%s\r\n",
                     status, http_reason(status), ctype, len,
                     extra && strstr(extra, "Cache-Control:") ? "" : "Cache-Control: no-store\r\n",
                     extra && strstr(extra, "Content-Security-Policy:")
                         ? ""
                         : "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n",
                     cors ? "Access-Control-Allow-Origin: " : "", cors ? cors : "", cors ? "\r\nVary: Origin\r\n" : "",
                     extra ? extra : "");
    if (h < 0 || (size_t)h >= sizeof head)
        return 500;
    if (len <= 4096) {
        char buf[1024 + 4096];
        memcpy(buf, head, (size_t)h);
        memcpy(buf + h, body, len);
        mg_write(conn, buf, (size_t)h + len);
    } else {
        mg_write(conn, head, (size_t)h);
        mg_write(conn, body, len);
    }
    return status;
}

int http_send(struct mg_connection *conn, int status, const char *ctype, const char *body, size_t len)
{
    return http_send_ex(conn, status, ctype, body, len, NULL);
}

static const char http_internal_error[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"the answer could not be built\"}}";

int http_json(struct mg_connection *conn, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return http_send(conn, 500, "application/json", http_internal_error, sizeof http_internal_error - 1);
    int rc = http_send(conn, status, "application/json", text, strlen(text));
    free(text);
    return rc;
}

char *http_error_text(const char *code, const char *message)
{
    json_t *j = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
    if (!j) /* the message quoted bytes that are not UTF-8 (a request's path or parameter) */
        j = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
                      "the request names bytes that are not UTF-8");
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

int http_error(struct mg_connection *conn, int status, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *text = http_error_text(code, msg);
    if (!text)
        return http_send(conn, 500, "application/json", http_internal_error, sizeof http_internal_error - 1);
    int rc = http_send(conn, status, "application/json", text, strlen(text));
    free(text);
    return rc;
}

bool http_param(const http_req_t *r, const char *name, char *buf, size_t len)
{
    char tmp[256];
    if (!r->query || mg_get_var(r->query, strlen(r->query), name, tmp, sizeof tmp) < 0)
        return false; /* mg_get_var empties its buffer even when absent */
    size_t n = strnlen(tmp, sizeof tmp);
    n = n < len ? n : len - 1; /* an overlong value is cut and then fails validation */
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return true;
}

/* Latest instant accepted as Unix seconds: 9999-12-31T23:59:59Z. */
#define HTTP_TIME_MAX_S 253402300799.0

bool http_time_valid(const char *text)
{
    if (!text || !*text)
        return true;
    uint64_t ms;
    if (text[0] == '-')
        return config_parse_duration_ms(text + 1, &ms) == 0;
    char *end;
    errno = 0;
    double s = strtod(text, &end);
    if (end == text || *end != '\0')
        return true; /* not a number: RFC 3339 text, which the database checks */
    return errno == 0 && isfinite(s) && s >= 0 && s <= HTTP_TIME_MAX_S;
}

int http_time_param(const http_req_t *r, const char *name, char *buf, size_t len, const char **out)
{
    *out = NULL;
    if (!http_param(r, name, buf, len))
        return 0;
    if (!http_time_valid(buf))
        return http_error(r->conn, 400, "bad_request",
                          "\"%s\" must be RFC 3339, Unix seconds from 0 to %.0f, or a duration ago such as -1h",
                          name, HTTP_TIME_MAX_S);
    *out = buf;
    return 0;
}

json_t *http_copy(const json_t *shared)
{
    return shared ? json_deep_copy(shared) : NULL;
}

json_t *http_read_json(const http_req_t *r)
{
    const struct mg_request_info *ri = mg_get_request_info(r->conn);
    char msg[256];
    if (ri->content_length > HTTP_BODY_MAX) {
        http_error(r->conn, 413, "payload_too_large", "request bodies are limited to %d bytes", HTTP_BODY_MAX);
        return NULL;
    }
    char *buf = malloc(HTTP_BODY_MAX + 1);
    if (!buf) {
        http_error(r->conn, 500, "internal", "out of memory");
        return NULL;
    }
    size_t len = 0;
    int n;
    while (len <= HTTP_BODY_MAX && (n = mg_read(r->conn, buf + len, HTTP_BODY_MAX + 1 - len)) > 0)
        len += (size_t)n;
    json_t *body = NULL;
    int status = http_body_parse(buf, len, &body, msg, sizeof msg);
    free(buf);
    if (status != 0)
        http_error(r->conn, status, status == 413 ? "payload_too_large" : "bad_request", "%s", msg);
    return body;
}
