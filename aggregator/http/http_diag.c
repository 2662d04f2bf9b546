/*
 * http_diag.c — diagnostics and maintenance endpoints.
 *
 *   GET  /api/v1/nodes/{node}/tables        ?needs_vacuum=true ?needs_analyze=true ?database=
 *   GET  /api/v1/nodes/{node}/indexes       ?unused=true ?duplicate=true ?invalid=true
 *   GET  /api/v1/nodes/{node}/statements    ?regressions=true
 *   GET  /api/v1/nodes/{node}/recommendations
 *   GET  /api/v1/nodes/{node}/backup         the last verification and restore test
 *   GET  /api/v1/nodes/{node}/diagnostics    the whole document (diag.h), with "pressure"
 *   GET  /api/v1/recommendations            ?node= ?kind= ?severity=
 *   POST /api/v1/maintenance                (operator; heavy operations admin)
 *   GET  /api/v1/maintenance                ?state=active|running|queued|history|all ?node=
 *   GET  /api/v1/maintenance/{id}
 *
 * Everything is read from the snapshot (diag.h documents the shapes); the
 * POST goes to the core, which checks it (maint.h) and hands it to the
 * node's collector.
 */
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "http_internal.h"

static bool hd_flag(const http_req_t *r, const char *name)
{
    char v[8];
    return http_param(r, name, v, sizeof v) && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Copy of list keeping the items where every filter holds. */
static json_t *hd_filter(const json_t *list, bool (*keep)(const http_req_t *, const json_t *), const http_req_t *r)
{
    json_t *out = json_array();
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) if (keep(r, v)) json_array_append_new(out, http_copy(v));
    return out;
}

static bool hd_keep_table(const http_req_t *r, const json_t *t)
{
    char db[128];
    if (hd_flag(r, "needs_vacuum") && !json_is_true(json_object_get(t, "needs_vacuum")))
        return false;
    if (hd_flag(r, "needs_analyze") && !json_is_true(json_object_get(t, "needs_analyze")))
        return false;
    if (http_param(r, "database", db, sizeof db) &&
        strcmp(db, json_string_value(json_object_get(t, "database")) ?: "") != 0)
        return false;
    return true;
}

static bool hd_keep_index(const http_req_t *r, const json_t *x)
{
    if (hd_flag(r, "unused") && !json_is_true(json_object_get(x, "unused")))
        return false;
    if (hd_flag(r, "duplicate") && json_array_size(json_object_get(x, "duplicates")) == 0)
        return false;
    if (hd_flag(r, "invalid") && json_is_true(json_object_get(x, "valid")))
        return false;
    return true;
}

static bool hd_keep_rec(const http_req_t *r, const json_t *x)
{
    char v[128];
    if (http_param(r, "kind", v, sizeof v) && strcmp(v, json_string_value(json_object_get(x, "kind")) ?: "") != 0)
        return false;
    if (http_param(r, "severity", v, sizeof v) &&
        strcmp(v, json_string_value(json_object_get(x, "severity")) ?: "") != 0)
        return false;
    return true;
}

int http_node_diag(const http_req_t *r)
{
    const char *node = r->arg[0], *sub = r->part;
    if (!frag_set_find_node(r->snap->node_frags, node))
        return http_error(r->conn, 404, "not_found", "no node named \"%s\"", node);
    const json_t *doc = json_object_get(r->snap->diag, node);
    if (strcmp(sub, "recommendations") == 0)
        return http_json(r->conn, 200,
                         json_pack("{s:s,s:o}", "node", node, "recommendations",
                                   hd_filter(json_object_get(doc, "recommendations"), hd_keep_rec, r)));
    if (strcmp(sub, "diagnostics") == 0)
        return doc ? http_json(r->conn, 200, json_pack("{s:o}", "diagnostics", http_copy(doc)))
                   : http_error(r->conn, 404, "not_found", "no diagnostics from \"%s\" yet", node);
    const json_t *part = json_object_get(doc, sub);
    if (strcmp(sub, "backup") == 0)
        return http_json(r->conn, 200, json_pack("{s:s,s:o?}", "node", node, "backup", http_copy(part)));
    json_t *collected = json_object_get(part, "collected_at");
    if (strcmp(sub, "tables") == 0)
        return http_json(r->conn, 200,
                         json_pack("{s:s,s:o?,s:o}", "node", node, "collected_at", http_copy(collected), "tables",
                                   hd_filter(json_object_get(part, "tables"), hd_keep_table, r)));
    if (strcmp(sub, "indexes") == 0)
        return http_json(r->conn, 200,
                         json_pack("{s:s,s:o?,s:o}", "node", node, "collected_at", http_copy(collected), "indexes",
                                   hd_filter(json_object_get(part, "indexes"), hd_keep_index, r)));
    /* statements */
    json_t *out = json_pack("{s:s,s:o?,s:o?,s:o?}", "node", node, "collected_at", http_copy(collected),
                            "window_seconds", http_copy(json_object_get(part, "window_seconds")),
                            "reset_detected", http_copy(json_object_get(part, "reset_detected")));
    json_t *regs = json_object_get(part, "regressions");
    json_object_set_new(out, "regressions", regs ? http_copy(regs) : json_array());
    if (!hd_flag(r, "regressions")) {
        json_t *st = json_object_get(part, "statements");
        json_object_set_new(out, "statements", st ? http_copy(st) : json_array());
    }
    if (!part)
        json_object_set_new(out, "note", json_string("pg_stat_statements has not reported yet (is the extension "
                                                     "installed and the collector's statements section on?)"));
    return http_json(r->conn, 200, out);
}

int http_recommendations(const http_req_t *r)
{
    char node[128];
    bool one = http_param(r, "node", node, sizeof node);
    json_t *all = json_array();
    const char *name;
    const json_t *doc;
    json_object_foreach((json_t *)r->snap->diag, name, doc)
    {
        if (one && strcmp(name, node) != 0)
            continue;
        json_t *recs = hd_filter(json_object_get(doc, "recommendations"), hd_keep_rec, r);
        json_array_extend(all, recs);
        json_decref(recs);
    }
    diag_sort_by_priority(all);
    return http_json(r->conn, 200, json_pack("{s:o}", "recommendations", all));
}

static bool hd_state_in(const char *state, const char *filter)
{
    bool active = strcmp(state, "queued") == 0 || strcmp(state, "running") == 0;
    if (strcmp(filter, "all") == 0)
        return true;
    if (strcmp(filter, "active") == 0)
        return active;
    if (strcmp(filter, "history") == 0)
        return !active;
    return strcmp(filter, state) == 0;
}

/* POST /api/v1/maintenance */
int http_maintenance_add(const http_req_t *r)
{
    char msg[256];
    json_t *body = http_read_json(r);
    if (!body)
        return 400;
    if (!http_body_maintenance(body, msg, sizeof msg)) {
        json_decref(body);
        return http_error(r->conn, 400, "bad_request", "%s", msg);
    }
    char target[300];
    snprintf(target, sizeof target, "%s %s", json_string_value(json_object_get(body, "operation")) ?: "?",
             json_string_value(json_object_get(body, "node")) ?: "?");
    json_object_set_new(body, "cmd", json_string("maintenance"));
    json_object_set_new(body, "role", json_string(auth_role_name(r->role)));
    return http_core_command(r, body, "maintenance", target);
}

int http_maintenance(const http_req_t *r)
{
    char state[16] = "all", node[128];
    http_param(r, "state", state, sizeof state);
    static const char *const states[] = {"all",       "active", "history", "queued",
                                         "running",   "completed", "failed", NULL};
    size_t i = 0;
    while (states[i] && strcmp(states[i], state) != 0)
        i++;
    if (!states[i])
        return http_error(r->conn, 400, "bad_request",
                          "state must be one of all, active, history, queued, running, completed, failed");
    bool one = http_param(r, "node", node, sizeof node);
    json_t *out = json_array();
    const json_t *op;
    json_array_foreach(r->snap->maintenance, i, op)
    {
        if (!hd_state_in(json_string_value(json_object_get(op, "state")) ?: "", state))
            continue;
        if (one && strcmp(node, json_string_value(json_object_get(op, "node")) ?: "") != 0)
            continue;
        json_array_append_new(out, http_copy(op));
    }
    return http_json(r->conn, 200, json_pack("{s:o}", "operations", out));
}

int http_maintenance_one(const http_req_t *r)
{
    const char *rest = r->arg[0];
    uint64_t id;
    if (!http_id(rest, &id))
        return http_error(r->conn, 404, "not_found", "no operation \"%s\"", rest);
    return http_item(r, r->snap->maintenance, id, "operation",
                     " (the most recent 500 are kept here; maintenance_operations in the history database has them "
                     "all)");
}
