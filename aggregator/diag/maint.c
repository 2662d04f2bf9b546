/*
 * maint.c — maintenance operations (see maint.h).
 *
 * Operations are JSON objects replaced, never modified, once a view has
 * been handed out (copy on write), so snapshots share them safely.
 */
#include "maint.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "core.h"

struct maint {
    json_t *ops; /* array, oldest first */
    json_t *view; /* cached newest-first array, NULL when stale */
    uint64_t last_id;
    maint_emit_fn *emit;
    maint_send_fn *send;
    void *arg;
};

maint_t *maint_new(maint_emit_fn *emit, maint_send_fn *send, void *arg)
{
    maint_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ops = json_array();
    self->emit = emit;
    self->send = send;
    self->arg = arg;
    return self;
}

void maint_destroy(maint_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    json_decref((*self_p)->ops);
    json_decref((*self_p)->view);
    free(*self_p);
    *self_p = NULL;
}

static const char *ms(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static bool maint_active(const json_t *op)
{
    const char *s = ms(op, "state");
    return strcmp(s, "queued") == 0 || strcmp(s, "running") == 0;
}

/* The table or index entry of the node's latest statistics that matches. */
static const json_t *maint_find(const json_t *diag, const char *part, const char *key, const char *database,
                                const char *schema, const char *name)
{
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(json_object_get(diag, part), part), i, t)
    {
        if ((!*database || strcmp(ms(t, "database"), database) == 0) && strcmp(ms(t, "schema"), schema) == 0 &&
            strcmp(ms(t, key), name) == 0)
            return t;
    }
    return NULL;
}

static bool maint_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static void maint_store(maint_t *self, const json_t *op)
{
    if (self->emit)
        self->emit(self->arg, json_pack("{s:s,s:O}", "op", "maintenance", "operation", op));
    json_decref(self->view);
    self->view = NULL;
}

/* The request alone: a known operation, the fields it takes, valid names. */
static int maint_check_shape(const json_t *cmd, json_t **body)
{
    const char *opn = ms(cmd, "operation");
    const char *schema = json_object_get(cmd, "schema") ? ms(cmd, "schema") : "public";
    const char *db = ms(cmd, "database"), *tname = ms(cmd, "table"), *iname = ms(cmd, "index");
    bool vacuum = strcmp(opn, "VACUUM") == 0, full = strcmp(opn, "VACUUM FULL") == 0;
    bool analyze = strcmp(opn, "ANALYZE") == 0, reindex = strcmp(opn, "REINDEX") == 0;
    bool conc = json_is_true(json_object_get(cmd, "concurrently"));
    if (!vacuum && !full && !analyze && !reindex) {
        *body = core_error("bad_request", "\"operation\" must be one of VACUUM, VACUUM FULL, ANALYZE, REINDEX");
        return 400;
    }
    if (!*ms(cmd, "node")) {
        *body = core_error("bad_request", "\"node\" is required");
        return 400;
    }
    if (conc && !reindex) {
        *body = core_error("bad_request", "\"concurrently\" applies to REINDEX only");
        return 400;
    }
    if (json_is_true(json_object_get(cmd, "analyze")) && !vacuum && !full) {
        *body = core_error("bad_request", "\"analyze\" applies to VACUUM only (use the ANALYZE operation)");
        return 400;
    }
    if (!*tname && !(reindex && *iname)) {
        *body = core_error("bad_request", reindex ? "\"table\" or \"index\" is required" : "\"table\" is required");
        return 400;
    }
    if (*iname && !reindex) {
        *body = core_error("bad_request", "\"index\" applies to REINDEX only");
        return 400;
    }
    if (!maint_name_ok(schema) || !maint_name_ok(tname) || !maint_name_ok(iname) || !maint_name_ok(db)) {
        *body = core_error("bad_request", "names are at most 63 bytes without control characters");
        return 400;
    }
    return 0;
}

/* The request against the node: known, role, up, primary, the table or
 * index exists, not heavy during peak unless forced. */
static int maint_check(const json_t *cmd, const maint_node_t *node, json_t **body, const json_t **table,
                       const json_t **index)
{
    int rc = maint_check_shape(cmd, body);
    if (rc)
        return rc;
    const char *opn = ms(cmd, "operation"), *role = ms(cmd, "role");
    const char *schema = json_object_get(cmd, "schema") ? ms(cmd, "schema") : "public";
    const char *db = ms(cmd, "database"), *tname = ms(cmd, "table"), *iname = ms(cmd, "index");
    bool full = strcmp(opn, "VACUUM FULL") == 0, reindex = strcmp(opn, "REINDEX") == 0;
    bool conc = json_is_true(json_object_get(cmd, "concurrently"));
    if (!node->known) {
        *body = core_error("not_found", "no node named \"%s\"", ms(cmd, "node"));
        return 404;
    }
    bool heavy = full || (reindex && !conc);
    if (heavy && strcmp(role, "admin") != 0) {
        *body = core_error("forbidden", "%s%s takes an ACCESS EXCLUSIVE lock: it needs the admin role", opn,
                          reindex ? " without CONCURRENTLY" : "");
        return 403;
    }
    if (!node->up || !node->primary) {
        *body = core_error("conflict", "node \"%s\" is %s", ms(cmd, "node"),
                          !node->up ? "down" : "not a primary (replicas are read-only)");
        return 409;
    }
    if (!node->diag || !json_object_get(node->diag, "tables")) {
        *body = core_error("conflict", "no table statistics from \"%s\" yet; retry after its next stats round",
                          ms(cmd, "node"));
        return 409;
    }
    if (*iname) {
        *index = maint_find(node->diag, "indexes", "index", db, schema, iname);
        if (!*index || (*tname && strcmp(ms(*index, "table"), tname) != 0)) {
            *body = core_error("not_found", "no index %s.%s%s%s on \"%s\"", schema, iname, *tname ? " of table " : "",
                              tname, ms(cmd, "node"));
            return 404;
        }
        tname = ms(*index, "table");
    }
    *table = maint_find(node->diag, "tables", "table", db, schema, tname);
    if (!*table) {
        *body = core_error("not_found", "no table %s.%s%s%s on \"%s\"", schema, tname, *db ? " in database " : "", db,
                          ms(cmd, "node"));
        return 404;
    }
    if (heavy && node->peak && !json_is_true(json_object_get(cmd, "force"))) {
        *body = core_error("conflict",
                          "%s is refused during peak hours in the node's region; an admin may send \"force\": true",
                          opn);
        return 409;
    }
    return 0;
}

int maint_request(maint_t *self, const json_t *cmd, const maint_node_t *node, int64_t now_us, json_t **body)
{
    const json_t *table = NULL, *index = NULL;
    int status = maint_check(cmd, node, body, &table, &index);
    if (status)
        return status;
    const char *nname = ms(cmd, "node"), *db = ms(table, "database"), *schema = ms(table, "schema");
    const char *tname = ms(table, "table");
    size_t i;
    const json_t *op;
    json_array_foreach(self->ops, i, op)
    {
        if (maint_active(op) && strcmp(ms(op, "node"), nname) == 0 && strcmp(ms(op, "database"), db) == 0 &&
            strcmp(ms(op, "schema"), schema) == 0 && strcmp(ms(op, "table"), tname) == 0) {
            *body = core_error("conflict", "operation %" JSON_INTEGER_FORMAT " (%s) is already %s on %s.%s",
                              json_integer_value(json_object_get(op, "id")), ms(op, "operation"), ms(op, "state"),
                              schema, tname);
            return 409;
        }
    }
    uint64_t id = (uint64_t)now_us;
    self->last_id = id = id > self->last_id ? id : self->last_id + 1;
    char at[40];
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s?,s:b,s:b,s:b,s:b,s:b,s:s,s:s,s:s,s:s?,s:s,s:n,s:n,s:n,s:n,"
                          "s:n,s:n}",
                          "id", (json_int_t)id, "node", nname, "operation", ms(cmd, "operation"), "database", db,
                          "schema", schema, "table", tname, "index", index ? ms(index, "index") : NULL,
                          "concurrently", json_is_true(json_object_get(cmd, "concurrently")), "verbose",
                          json_is_true(json_object_get(cmd, "verbose")), "analyze",
                          json_is_true(json_object_get(cmd, "analyze")), "force",
                          json_is_true(json_object_get(cmd, "force")), "peak", node->peak, "state", "queued",
                          "requested_by", ms(cmd, "by"), "role", ms(cmd, "role"), "comment",
                          json_string_value(json_object_get(cmd, "comment")), "requested_at",
                          clock_format_rfc3339(now_us, at, sizeof at), "started_at", "finished_at", "duration_ms",
                          "statement", "error", "output");
    if (!o) {
        *body = core_error("internal", "out of memory");
        return 500;
    }
    json_array_append_new(self->ops, o);
    maint_store(self, o);
    Pgvigil__Command c = PGVIGIL__COMMAND__INIT;
    c.has_id = c.has_concurrently = c.has_verbose = c.has_analyze = 1;
    c.id = id;
    c.operation = (char *)ms(o, "operation");
    c.database = (char *)db;
    c.schema = (char *)schema;
    c.table = (char *)tname;
    c.index = index ? (char *)ms(index, "index") : NULL;
    c.concurrently = json_is_true(json_object_get(o, "concurrently"));
    c.verbose = json_is_true(json_object_get(o, "verbose"));
    c.analyze = json_is_true(json_object_get(o, "analyze"));
    if (self->send)
        self->send(self->arg, nname, &c);
    *body = json_pack("{s:O}", "operation", o);
    return 202;
}

static size_t maint_index_of(maint_t *self, uint64_t id)
{
    size_t i;
    const json_t *op;
    json_array_foreach(self->ops, i, op) if ((uint64_t)json_integer_value(json_object_get(op, "id")) == id) return i;
    return (size_t)-1;
}

/* Replace op i with a changed copy (views hold the old one). */
static json_t *maint_edit(maint_t *self, size_t i)
{
    json_t *copy = json_deep_copy(json_array_get(self->ops, i));
    json_array_set_new(self->ops, i, copy);
    return copy;
}

static void maint_trim(maint_t *self)
{
    size_t done = 0, i;
    const json_t *op;
    json_array_foreach(self->ops, i, op) done += !maint_active(op);
    for (i = 0; done > MAINT_KEEP && i < json_array_size(self->ops);) {
        if (!maint_active(json_array_get(self->ops, i))) {
            json_array_remove(self->ops, i);
            done--;
        } else {
            i++;
        }
    }
}

bool maint_result(maint_t *self, const char *node, const Pgvigil__CommandResult *r, int64_t now_us)
{
    if (!r->has_id || !r->state)
        return false;
    size_t i = maint_index_of(self, r->id);
    if (i == (size_t)-1 || strcmp(ms(json_array_get(self->ops, i), "node"), node) != 0)
        return false; /* not ours (another aggregator's), or from the wrong collector */
    const char *state = r->state;
    if (strcmp(state, "running") != 0 && strcmp(state, "completed") != 0 && strcmp(state, "failed") != 0)
        return false;
    if (!maint_active(json_array_get(self->ops, i)))
        return false; /* already finished (e.g. failed by the take timeout) */
    json_t *o = maint_edit(self, i);
    char at[40];
    json_object_set_new(o, "state", json_string(state));
    if (r->has_started_at_us)
        json_object_set_new(o, "started_at", json_string(clock_format_rfc3339(r->started_at_us, at, sizeof at)));
    if (r->has_finished_at_us)
        json_object_set_new(o, "finished_at", json_string(clock_format_rfc3339(r->finished_at_us, at, sizeof at)));
    else if (strcmp(state, "running") != 0)
        json_object_set_new(o, "finished_at", json_string(clock_format_rfc3339(now_us, at, sizeof at)));
    if (r->has_duration_ms)
        json_object_set_new(o, "duration_ms", json_integer(r->duration_ms));
    if (r->statement)
        json_object_set_new(o, "statement", json_string(r->statement));
    if (r->error)
        json_object_set_new(o, "error", json_string(r->error));
    if (r->output)
        json_object_set_new(o, "output", json_string(r->output));
    maint_store(self, o);
    maint_trim(self);
    return true;
}

static void maint_fail(maint_t *self, size_t i, int64_t now_us, const char *why)
{
    json_t *o = maint_edit(self, i);
    char at[40];
    json_object_set_new(o, "state", json_string("failed"));
    json_object_set_new(o, "finished_at", json_string(clock_format_rfc3339(now_us, at, sizeof at)));
    json_object_set_new(o, "error", json_string(why));
    maint_store(self, o);
}

bool maint_collector_restarted(maint_t *self, const char *node, int64_t now_us)
{
    bool changed = false;
    size_t i;
    json_t *op;
    json_array_foreach(self->ops, i, op)
    {
        if (maint_active(op) && strcmp(ms(op, "node"), node) == 0) {
            maint_fail(self, i, now_us, "the node's collector restarted before the operation finished");
            changed = true;
        }
    }
    return changed;
}

bool maint_tick(maint_t *self, int64_t now_us)
{
    bool changed = false;
    size_t i;
    json_t *op;
    json_array_foreach(self->ops, i, op)
    {
        if (strcmp(ms(op, "state"), "queued") != 0 ||
            now_us - (int64_t)json_integer_value(json_object_get(op, "id")) < MAINT_TAKE_TIMEOUT_US)
            continue;
        maint_fail(self, i, now_us,
                   "the node's collector did not take the operation (not connected to this aggregator?)");
        changed = true;
    }
    return changed;
}

json_t *maint_view(maint_t *self)
{
    if (!self->view) {
        self->view = json_array();
        for (size_t i = json_array_size(self->ops); i > 0; i--)
            json_array_append(self->view, json_array_get(self->ops, i - 1));
    }
    return json_incref(self->view);
}
