/*
 * notify_render.c — receiver requests from notification payloads (see
 * notify_render.h).
 */
#include "notify_render.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

void notify_hmac_sha256_hex(const char *key, const void *data, size_t len, char hex[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), data, len, mac, &maclen);
    for (unsigned i = 0; i < maclen && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    hex[64] = '\0';
}

static const char *nr_str(const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

void notify_one_line(const json_t *payload, char *buf, size_t len)
{
    const json_t *a = json_object_get(payload, "alert");
    char sev[16] = "", kind[16] = "";
    snprintf(sev, sizeof sev, "%s", nr_str(a, "severity"));
    snprintf(kind, sizeof kind, "%s", nr_str(payload, "kind"));
    for (char *p = sev; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    for (char *p = kind; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    snprintf(buf, len, "[%s]%s %s %s on %s (%s): %s", sev, json_is_true(json_object_get(a, "peak")) ? " [PEAK]" : "",
             kind, nr_str(a, "rule"), nr_str(a, "node"), nr_str(a, "cluster"), nr_str(a, "summary"));
}

static int nr_header(notify_request_t *out, const char *fmt_name, const char *value)
{
    if (out->header_count >= NOTIFY_HEADERS_MAX)
        return -1;
    size_t n = strlen(fmt_name) + strlen(value) + 3;
    char *h = malloc(n);
    if (!h)
        return -1;
    snprintf(h, n, "%s: %s", fmt_name, value);
    out->headers[out->header_count++] = h;
    return 0;
}

static int nr_json_body(notify_request_t *out, json_t *body)
{
    out->body = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(body);
    if (!out->body)
        return -1;
    out->body_len = strlen(out->body);
    return nr_header(out, "Content-Type", "application/json");
}

static int nr_pagerduty(const receiver_t *r, const json_t *payload, notify_request_t *out)
{
    const json_t *a = json_object_get(payload, "alert");
    const char *kind = nr_str(payload, "kind");
    char dedup[64], line[512];
    snprintf(dedup, sizeof dedup, "pgvigil-%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(a, "id")));
    const char *action = strcmp(kind, "resolved") == 0       ? "resolve"
                         : strcmp(kind, "acknowledged") == 0 ? "acknowledge"
                                                             : "trigger";
    json_t *ev = json_pack("{s:s,s:s,s:s}", "routing_key", r->secret ? r->secret : "", "event_action", action,
                           "dedup_key", dedup);
    if (ev && strcmp(action, "trigger") == 0) {
        notify_one_line(payload, line, sizeof line);
        const char *sev = nr_str(a, "severity");
        json_object_set_new(ev, "payload",
                            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O}", "summary", line, "source", nr_str(a, "node"),
                                      "severity", strcmp(sev, "critical") == 0 ? "critical" : "warning", "component",
                                      nr_str(a, "cluster"), "group", nr_str(a, "region"), "class", nr_str(a, "rule"),
                                      "custom_details", a));
    }
    return nr_json_body(out, ev);
}

static int nr_email(const receiver_t *r, const json_t *payload, notify_request_t *out)
{
    const json_t *a = json_object_get(payload, "alert");
    char subject[512], date[64], to[1024] = "";
    notify_one_line(payload, subject, sizeof subject);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    for (size_t i = 0; i < r->to_count; i++) {
        strncat(to, i ? ", " : "", sizeof to - strlen(to) - 1);
        strncat(to, r->to[i], sizeof to - strlen(to) - 1);
    }
    for (char *p = subject; *p; p++) /* no header injection through a summary */
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    char *details = json_dumps(a, JSON_INDENT(2) | JSON_SORT_KEYS);
    char *msg = NULL;
    int n = asprintf(&msg,
                     "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\n"
                     "Message-ID: <pgvigil-%" JSON_INTEGER_FORMAT "@pgvigil>\r\n"
                     "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                     "%s\r\n\r\nAlert %" JSON_INTEGER_FORMAT ", state %s, since %s.\r\n\r\n%s\r\n",
                     date, r->from, to, subject, json_integer_value(json_object_get(payload, "id")), subject,
                     json_integer_value(json_object_get(a, "id")), nr_str(a, "state"), nr_str(a, "started_at"),
                     details ? details : "");
    free(details);
    if (n < 0)
        return -1;
    out->body = msg;
    out->body_len = (size_t)n;
    return 0;
}

/* Replace {name} placeholders, escaping each value for the content type. */
/* val escaped for the template's content type (JSON string contents
 * without the quotes, or form encoding), or a plain copy; caller frees. */
static char *nr_escape(const char *val, bool json, bool form)
{
    if (json) {
        json_t *s = json_string(val);
        char *esc = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        json_decref(s);
        if (esc) { /* drop the quotes: the template has its own */
            size_t l = strlen(esc);
            memmove(esc, esc + 1, l - 2);
            esc[l - 2] = '\0';
        }
        return esc;
    }
    if (form) {
        char *c = curl_easy_escape(NULL, val, 0), *esc = c ? strdup(c) : NULL;
        curl_free(c);
        return esc;
    }
    return strdup(val);
}

/* Append n bytes to *buf (growing it); -1 when out of memory. */
static int nr_append(char **buf, size_t *len, size_t *cap, const char *piece, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t grown_cap = (*len + n + 1) * 2;
        char *grown = realloc(*buf, grown_cap);
        if (!grown)
            return -1;
        *buf = grown;
        *cap = grown_cap;
    }
    memcpy(*buf + *len, piece, n);
    *len += n;
    return 0;
}

static int nr_template(const receiver_t *r, const json_t *payload, notify_request_t *out)
{
    const json_t *a = json_object_get(payload, "alert");
    const char *ctype = r->content_type ? r->content_type : "application/json";
    bool json = strstr(ctype, "json") != NULL, form = strstr(ctype, "x-www-form-urlencoded") != NULL;
    char idtext[32], line[512];
    snprintf(idtext, sizeof idtext, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(a, "id")));
    notify_one_line(payload, line, sizeof line);
    const char *names[] = {"summary", "severity", "state", "kind", "rule", "node", "cluster", "id", "line"};
    const char *values[] = {nr_str(a, "summary"), nr_str(a, "severity"), nr_str(a, "state"), nr_str(payload, "kind"),
                            nr_str(a, "rule"), nr_str(a, "node"), nr_str(a, "cluster"), idtext, line};
    size_t cap = strlen(r->body_template) * 2 + 1024, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    for (const char *p = r->body_template; *p;) {
        const char *val = NULL;
        size_t skip = 0;
        for (size_t i = 0; *p == '{' && i < sizeof names / sizeof names[0] && !val; i++) {
            size_t l = strlen(names[i]);
            if (strncmp(p + 1, names[i], l) == 0 && p[1 + l] == '}') {
                val = values[i];
                skip = l + 2;
            }
        }
        char *esc = val ? nr_escape(val, json, form) : NULL;
        int rc = val ? (esc ? nr_append(&buf, &len, &cap, esc, strlen(esc)) : 0) : nr_append(&buf, &len, &cap, p, 1);
        free(esc);
        if (rc != 0) {
            free(buf);
            return -1;
        }
        p += val ? skip : 1;
    }
    buf[len] = '\0';
    out->body = buf;
    out->body_len = len;
    return nr_header(out, "Content-Type", ctype);
}

int notify_render(const receiver_t *r, const json_t *payload, notify_request_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = -1;
    char line[512];
    switch (r->type) {
    case RECEIVER_WEBHOOK: {
        rc = nr_json_body(out, json_deep_copy(payload));
        char id[32];
        snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(payload, "id")));
        if (rc == 0)
            rc = nr_header(out, "X-Pgvigil-Delivery", id) | nr_header(out, "X-Pgvigil-Event", nr_str(payload, "kind"));
        if (rc == 0 && r->secret) {
            char hex[65], sig[80];
            notify_hmac_sha256_hex(r->secret, out->body, out->body_len, hex);
            snprintf(sig, sizeof sig, "sha256=%s", hex);
            rc = nr_header(out, "X-Pgvigil-Signature", sig);
        }
        break;
    }
    case RECEIVER_SLACK:
        notify_one_line(payload, line, sizeof line);
        rc = nr_json_body(out, json_pack("{s:s}", "text", line));
        break;
    case RECEIVER_PAGERDUTY: rc = nr_pagerduty(r, payload, out); break;
    case RECEIVER_EMAIL: rc = nr_email(r, payload, out); break;
    case RECEIVER_SMS: rc = nr_template(r, payload, out); break;
    }
    if (rc != 0)
        notify_request_free(out);
    return rc;
}

void notify_request_free(notify_request_t *req)
{
    free(req->body);
    for (size_t i = 0; i < req->header_count; i++)
        free(req->headers[i]);
    memset(req, 0, sizeof *req);
}
