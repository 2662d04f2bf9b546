/*
 * test_maint.c — maintenance requests as the aggregator judges them: what
 * is refused and with which status, what reaches the collector, and the
 * life of an operation (queued -> running -> completed / failed, the take
 * timeout, a collector restart).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "maint.h"

#define S 1000000LL

static int sent, stored;
static char sent_table[64], sent_index[64], sent_op[32];
static uint64_t sent_id;

static void on_emit(void *arg, json_t *msg)
{
    (void)arg;
    assert_string_equal(json_string_value(json_object_get(msg, "op")), "maintenance");
    stored++;
    json_decref(msg);
}

static void on_send(void *arg, const char *node, const Pgvigil__Command *cmd)
{
    (void)arg;
    assert_string_equal(node, "db-1");
    sent++;
    sent_id = cmd->id;
    snprintf(sent_op, sizeof sent_op, "%s", cmd->operation);
    snprintf(sent_table, sizeof sent_table, "%s", cmd->table ? cmd->table : "");
    snprintf(sent_index, sizeof sent_index, "%s", cmd->index ? cmd->index : "");
}

static json_t *diag_doc(void)
{
    return json_pack("{s:{s:[{s:s,s:s,s:s}]},s:{s:[{s:s,s:s,s:s,s:s}]}}", "tables", "tables", "database", "app",
                     "schema", "public", "table", "guests", "indexes", "indexes", "database", "app", "schema",
                     "public", "table", "guests", "index", "guests_name");
}

static int request(maint_t *m, const char *json, const maint_node_t *n, int64_t now, json_t **body)
{
    json_t *cmd = json_loads(json, 0, NULL);
    assert_non_null(cmd);
    int status = maint_request(m, cmd, n, now, body);
    json_decref(cmd);
    return status;
}

static int code(maint_t *m, const char *json, const maint_node_t *n)
{
    json_t *body = NULL;
    int status = request(m, json, n, 1000 * S, &body);
    json_decref(body);
    return status;
}

static void test_refusals(void **state)
{
    (void)state;
    json_t *doc = diag_doc();
    maint_node_t n = {.known = true, .up = true, .primary = true, .peak = false, .diag = doc};
    maint_t *m = maint_new(on_emit, on_send, NULL);
    sent = stored = 0;
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"TRUNCATE\",\"table\":\"guests\",\"role\":\"admin\"}", &n),
                     400);
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"VACUUM\",\"role\":\"admin\"}", &n), 400);
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"VACUUM\",\"table\":\"guests\",\"concurrently\":true,"
                             "\"role\":\"admin\"}", &n), 400);
    /* Names are looked up, never spliced: SQL in a name is just not found. */
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"VACUUM\",\"table\":\"guests; DROP TABLE guests\","
                             "\"role\":\"operator\"}", &n), 404);
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"REINDEX\",\"index\":\"nope\",\"role\":\"admin\"}", &n),
                     404);
    /* Heavy operations: admin only, and forced in peak hours. */
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"VACUUM FULL\",\"table\":\"guests\","
                             "\"role\":\"operator\"}", &n), 403);
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"REINDEX\",\"table\":\"guests\",\"role\":\"operator\"}",
                          &n), 403);
    n.peak = true;
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"VACUUM FULL\",\"table\":\"guests\",\"role\":\"admin\"}",
                          &n), 409);
    n.peak = false;
    n.primary = false;
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"VACUUM\",\"table\":\"guests\",\"role\":\"operator\"}",
                          &n), 409);
    n.primary = true;
    n.known = false;
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"VACUUM\",\"table\":\"guests\",\"role\":\"operator\"}",
                          &n), 404);
    assert_int_equal(sent, 0);
    assert_int_equal(stored, 0);
    maint_destroy(&m);
    json_decref(doc);
}

static void test_life_of_an_operation(void **state)
{
    (void)state;
    json_t *doc = diag_doc(), *body = NULL;
    maint_node_t n = {.known = true, .up = true, .primary = true, .peak = true, .diag = doc};
    maint_t *m = maint_new(on_emit, on_send, NULL);
    sent = stored = 0;
    /* REINDEX CONCURRENTLY is light: an operator may, even in peak. */
    assert_int_equal(request(m, "{\"node\":\"db-1\",\"operation\":\"REINDEX\",\"index\":\"guests_name\","
                                "\"concurrently\":true,\"role\":\"operator\",\"by\":\"alice\"}", &n, 1000 * S, &body),
                     202);
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "operation"), "state")), "queued");
    json_decref(body);
    assert_int_equal(sent, 1);
    assert_string_equal(sent_op, "REINDEX");
    assert_string_equal(sent_index, "guests_name");
    assert_string_equal(sent_table, "guests");
    /* A second one on the same table waits its turn. */
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"ANALYZE\",\"table\":\"guests\",\"role\":\"operator\"}",
                          &n), 409);
    json_t *view = maint_view(m);
    const json_t *before = json_array_get(view, 0);
    Pgvigil__CommandResult r = PGVIGIL__COMMAND_RESULT__INIT;
    r.has_id = 1;
    r.id = sent_id;
    r.state = "running";
    assert_false(maint_result(m, "db-2", &r, 1001 * S)); /* from another node: ignored */
    assert_true(maint_result(m, "db-1", &r, 1001 * S));
    /* Views handed out before stay as they were. */
    assert_string_equal(json_string_value(json_object_get(before, "state")), "queued");
    json_decref(view);
    r.state = "completed";
    r.has_duration_ms = 1;
    r.duration_ms = 1234;
    r.statement = "REINDEX INDEX CONCURRENTLY \"public\".\"guests_name\"";
    assert_true(maint_result(m, "db-1", &r, 1002 * S));
    assert_false(maint_result(m, "db-1", &r, 1003 * S)); /* finished is final */
    view = maint_view(m);
    const json_t *op = json_array_get(view, 0);
    assert_string_equal(json_string_value(json_object_get(op, "state")), "completed");
    assert_int_equal(json_integer_value(json_object_get(op, "duration_ms")), 1234);
    assert_string_equal(json_string_value(json_object_get(op, "requested_by")), "alice");
    json_decref(view);
    assert_int_equal(stored, 3); /* queued, running, completed */

    /* Not taken in time, and lost with a restarting collector. */
    assert_int_equal(code(m, "{\"node\":\"db-1\",\"operation\":\"VACUUM\",\"table\":\"guests\",\"role\":\"operator\"}",
                          &n), 202);
    assert_false(maint_tick(m, 1000 * S + MAINT_TAKE_TIMEOUT_US - S));
    assert_true(maint_tick(m, 1000 * S + MAINT_TAKE_TIMEOUT_US + S));
    view = maint_view(m);
    assert_string_equal(json_string_value(json_object_get(json_array_get(view, 0), "state")), "failed");
    json_decref(view);
    assert_int_equal(request(m, "{\"node\":\"db-1\",\"operation\":\"VACUUM\",\"table\":\"guests\",\"role\":\"operator\"}",
                             &n, 2000 * S, &body),
                     202);
    json_decref(body);
    assert_true(maint_collector_restarted(m, "db-1", 2001 * S));
    assert_false(maint_collector_restarted(m, "db-1", 2002 * S));
    maint_destroy(&m);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_life_of_an_operation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
