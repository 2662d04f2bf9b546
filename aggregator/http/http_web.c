/*
 * http_web.c — the dashboard's files and /api/v1/whoami.
 *
 *   GET /               the dashboard (index.html)
 *   GET /ui/<file>      its scripts and styles from http.web_dir
 *                       (default: the source tree's aggregator/http/web if it is
 *                       there, else the installed share/pgvigil/web);
 *   GET /ui/vendor/<f>  front-end packages, from web_dir/node_modules
 *                       (npm ci in aggregator/http/web; see deploy/install-deps.sh)
 *   GET /api/v1/whoami  {"name","role","auth"}: what the page may offer
 *
 * The files are public (the page must load to sign in); everything they
 * show comes from the API with the bearer token the page holds for the
 * browser session. Names are checked character by character: no "..", no
 * absolute paths, only [A-Za-z0-9._/-].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "http_internal.h"

#ifndef PGVIGIL_WEB_DIR
#define PGVIGIL_WEB_DIR "/usr/local/share/pgvigil/web"
#endif
#ifndef PGVIGIL_WEB_INSTALL_DIR
#define PGVIGIL_WEB_INSTALL_DIR PGVIGIL_WEB_DIR
#endif

#define WEB_FILE_MAX (4 * 1024 * 1024)

static const struct {
    const char *prefix, *dir; /* URL prefix -> directory under web_dir */
} hw_vendor[] = {
    {"/ui/vendor/uplot/", "node_modules/uplot/dist/"},
};

static const char *hw_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return "application/octet-stream";
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    if (strcmp(dot, ".json") == 0)
        return "application/json";
    return "application/octet-stream";
}

bool http_accepts_gzip(struct mg_connection *conn)
{
    const char *ae = mg_get_header(conn, "Accept-Encoding");
    return ae && strstr(ae, "gzip");
}

int http_gzip(const void *in, size_t len, unsigned char **out, size_t *out_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)len);
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

static bool hw_safe(const char *rel)
{
    if (!*rel || rel[0] == '/' || strstr(rel, ".."))
        return false;
    for (const char *p = rel; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-' || *p == '/'))
            return false;
    return true;
}

static int hw_file(const http_req_t *r, const char *dir, const char *rel)
{
    char path[4096];
    if (!hw_safe(rel))
        return http_error(r->conn, 404, "not_found", "no file %s", r->path);
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct stat st;
    FILE *f = stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= WEB_FILE_MAX ? fopen(path, "rb") : NULL;
    if (!f)
        return http_error(r->conn, 404, "not_found", "no file %s", r->path);
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!buf)
        return http_error(r->conn, 500, "internal", "out of memory");
    /* index.html revalidates (a new version shows at once); the rest
     * may be cached for an hour. */
    bool html = strstr(rel, ".html") != NULL;
    const char *cache = html ? "Cache-Control: no-cache\r\nVary: Accept-Encoding\r\n"
                             : "Cache-Control: public, max-age=3600\r\nVary: Accept-Encoding\r\n";
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    int rc;
    if (http_accepts_gzip(r->conn) && http_gzip(buf, n, &gz, &gz_len) == 0) {
        char extra[160];
        snprintf(extra, sizeof extra, "%sContent-Encoding: gzip\r\n", cache);
        rc = http_send_ex(r->conn, 200, hw_type(rel), (const char *)gz, gz_len, extra);
    } else {
        rc = http_send_ex(r->conn, 200, hw_type(rel), buf, n, cache);
    }
    free(gz);
    free(buf);
    return rc;
}

int http_web(const http_req_t *r)
{
    /* Configured, else the source tree this binary was built from, else
     * where `make install` put the files. */
    const char *dir = r->http->cfg->auth.web_dir;
    struct stat st;
    if (!dir)
        dir = stat(PGVIGIL_WEB_DIR "/index.html", &st) == 0 ? PGVIGIL_WEB_DIR : PGVIGIL_WEB_INSTALL_DIR;
    if (strcmp(r->path, "/") == 0 || strcmp(r->path, "/index.html") == 0)
        return hw_file(r, dir, "index.html");
    for (size_t i = 0; i < sizeof hw_vendor / sizeof hw_vendor[0]; i++) {
        size_t n = strlen(hw_vendor[i].prefix);
        if (strncmp(r->path, hw_vendor[i].prefix, n) == 0) {
            char rel[1024];
            if (!hw_safe(r->path + n))
                return http_error(r->conn, 404, "not_found", "no file %s", r->path);
            snprintf(rel, sizeof rel, "%s%s", hw_vendor[i].dir, r->path + n);
            return hw_file(r, dir, rel);
        }
    }
    if (strncmp(r->path, "/ui/", 4) == 0 && strncmp(r->path, "/ui/node_modules", 16) != 0)
        return hw_file(r, dir, r->path + 4);
    return http_error(r->conn, 404, "not_found", "no resource at %s", r->path);
}

int http_whoami(const http_req_t *r)
{
    return http_json(r->conn, 200,
                     json_pack("{s:s,s:s,s:b}", "name", r->who, "role", auth_role_name(r->role), "auth",
                               http_auth(r->http)->enabled));
}
