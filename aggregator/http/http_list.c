/*
 * http_list.c — the fleet lists that scale with the fleet:
 *
 *   GET /api/v1/clusters?region=&status=&cluster=&prefix=&sort=worst&limit=&cursor=
 *   GET /api/v1/nodes?region=&status=&role=&cluster=&prefix=&sort=worst&limit=&cursor=
 *
 * Answers {"clusters"|"nodes":[...],"matched":N,"next":"<cursor>"|null},
 * written straight from the snapshot's fragments (frag.h) without building
 * JSON values; "next" is the cursor of the following page. Each answer has
 * an ETag that changes only when what it returns changed, honours
 * If-None-Match (304), and is gzip-compressed when the client accepts it
 * (http_send_compressed, which /metrics uses too).
 */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_LIST_LIMIT_MAX 100000
#define HTTP_GZIP_MIN 1024 /* smaller answers are sent as they are */

int http_send_compressed(const http_req_t *r, int status, const char *ctype, const char *body, size_t len,
                         const char *extra)
{
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    char headers[512];
    if (len < HTTP_GZIP_MIN || !http_accepts_gzip(r->conn) || http_gzip(body, len, &gz, &gz_len) != 0)
        return http_send_ex(r->conn, status, ctype, body, len, extra);
    snprintf(headers, sizeof headers, "%sContent-Encoding: gzip\r\nVary: Accept-Encoding\r\n", extra ? extra : "");
    int rc = http_send_ex(r->conn, status, ctype, (const char *)gz, gz_len, headers);
    free(gz);
    return rc;
}

/* Parameters into q (pointing into buf); non-zero: the error already sent. */
static int hl_query(const http_req_t *r, bool clusters, frag_query_t *q, char (*buf)[128])
{
    static const char *const names[] = {"region", "status", "role", "cluster", "prefix", "cursor"};
    const char **slots[] = {&q->region, &q->status, &q->role, &q->cluster, &q->prefix, &q->cursor};
    char limit[24] = "", sort[16] = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (http_param(r, names[i], buf[i], sizeof buf[i]) && buf[i][0])
            *slots[i] = buf[i];
    if (clusters && q->role)
        return http_error(r->conn, 400, "bad_request", "clusters have no role filter (filter nodes by role)");
    if (http_param(r, "limit", limit, sizeof limit) && limit[0]) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*end || v < 1 || v > HTTP_LIST_LIMIT_MAX)
            return http_error(r->conn, 400, "bad_request", "limit must be a number from 1 to %d",
                              HTTP_LIST_LIMIT_MAX);
        q->limit = (size_t)v;
    }
    if (http_param(r, "sort", sort, sizeof sort) && sort[0]) {
        if (strcmp(sort, "worst") != 0 && strcmp(sort, "name") != 0)
            return http_error(r->conn, 400, "bad_request", "sort must be worst or name, not \"%s\"", sort);
        q->worst_first = strcmp(sort, "worst") == 0;
    }
    return 0;
}

/* The request's If-None-Match holds etag. */
static bool hl_not_modified(const http_req_t *r, const char *etag)
{
    const char *inm = mg_get_header(r->conn, "If-None-Match");
    return inm && (strstr(inm, etag) || strcmp(inm, "*") == 0);
}

int http_list(const http_req_t *r, bool clusters)
{
    frag_query_t q = {0};
    char params[6][128];
    int sent = hl_query(r, clusters, &q, params);
    if (sent)
        return sent;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return http_error(r->conn, 500, "internal", "out of memory");
    frag_page_t page;
    fprintf(f, "{\"%s\":[", clusters ? "clusters" : "nodes");
    int rc = frag_set_write_json(clusters ? r->snap->cluster_frags : r->snap->node_frags, clusters, &q, f, &page);
    if (rc == 0) {
        fprintf(f, "],\"matched\":%zu,\"next\":", page.matched);
        if (page.next[0])
            fprintf(f, "\"%s\"}", page.next); /* [A-Za-z0-9._:-] only: names are validated at ingest */
        else
            fputs("null}", f);
    }
    fclose(f);
    if (rc != 0) {
        free(text);
        return http_error(r->conn, 400, "bad_request", "the cursor does not belong to this list or order");
    }
    char extra[96];
    snprintf(extra, sizeof extra, "ETag: %s\r\nCache-Control: no-cache\r\n", page.etag);
    if (hl_not_modified(r, page.etag))
        rc = http_send_ex(r->conn, 304, "application/json", "", 0, extra);
    else
        rc = http_send_compressed(r, 200, "application/json", text ? text : "{}", text ? len : 2, extra);
    free(text);
    return rc;
}
