/*
 * test_metric.c — the metric catalogue: every metric has a unit, a help
 * text, a cadence and a derivation; names are unique and valid Prometheus
 * names; history slots are unique; built-in rules name distinct rules;
 * aliases resolve; and the derivation engine turns counters into rates and
 * deltas (none on the first sample or after a reset), keeps a value whose
 * section is absent, and forgets values when the node goes down or stale.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metric.h"
#include "nodeview.h"

#define S 1000000LL

static bool prom_name_ok(const char *n)
{
    if (!n[0] || !(n[0] == '_' || n[0] == ':' || (n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z')))
        return false;
    for (const char *p = n + 1; *p; p++)
        if (!(*p == '_' || *p == ':' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

static void test_every_row_is_complete(void **state)
{
    (void)state;
    assert_true(metric_count() >= METRIC_NAMED);
    assert_true(metric_count() <= METRIC_MAX);
    for (size_t i = 0; i < metric_count(); i++) {
        const metric_t *m = metric_info((int)i);
        assert_non_null(m);
        assert_non_null(m->name);
        assert_true(m->unit && m->unit[0]);
        assert_true(m->help && m->help[0]);
        assert_true(m->cadence >= METRIC_FAST && m->cadence <= METRIC_NODE);
        assert_non_null(m->derive);
        char prom[128];
        assert_true(prom_name_ok(metric_prom_name((int)i, prom, sizeof prom)));
        assert_true(prom_name_ok(m->name));
        assert_int_equal(metric_find(m->name), (int)i);
        if (m->rule.name) {
            assert_non_null(m->rule.summary);
            assert_true(m->rule.roles != 0);
        }
        if (m->kind == METRIC_TOTAL)
            assert_non_null(strstr(prom, "_total"));
    }
    assert_null(metric_info(-1));
    assert_null(metric_info((int)metric_count()));
}

static void test_names_slots_rules_unique(void **state)
{
    (void)state;
    bool slot_used[METRIC_MAX + 1] = {false};
    assert_true(metric_history_slots() <= METRIC_MAX); /* metric_values is rendered up to METRIC_MAX */
    for (size_t i = 0; i < metric_count(); i++) {
        const metric_t *a = metric_info((int)i);
        assert_true(a->slot >= 0 && a->slot <= metric_history_slots());
        if (a->slot) {
            assert_false(slot_used[a->slot]);
            slot_used[a->slot] = true;
        }
        for (size_t j = i + 1; j < metric_count(); j++) {
            const metric_t *b = metric_info((int)j);
            char pa[128], pb[128];
            assert_string_not_equal(a->name, b->name);
            assert_string_not_equal(metric_prom_name((int)i, pa, sizeof pa), metric_prom_name((int)j, pb, sizeof pb));
            if (a->rule.name && b->rule.name)
                assert_string_not_equal(a->rule.name, b->rule.name);
        }
    }
    /* the history names the API accepted before the catalogue */
    assert_int_equal(metric_find("up"), METRIC_NODE_UP);
    assert_int_equal(metric_find("probe_rtt_ms"), METRIC_PROBE_LATENCY_MS);
    assert_int_equal(metric_find("nonsense"), -1);
    assert_string_equal(metric_role_name(PGVIGIL__ROLE__ROLE_PRIMARY), "primary");
    assert_string_equal(metric_role_name(PGVIGIL__ROLE__ROLE_REPLICA), "replica");
    assert_string_equal(metric_role_name(PGVIGIL__ROLE__ROLE_UNKNOWN), "unknown");
}

typedef struct {
    node_view_t v;
    metric_state_t st;
    Pgvigil__Sample s;
    Pgvigil__Databases dbs;
    Pgvigil__DatabaseStats db;
    Pgvigil__DatabaseStats *dbp[1];
    Pgvigil__Connections conn;
} node_t;

static void node_init(node_t *n)
{
    memset(n, 0, sizeof *n);
    pgvigil__sample__init(&n->s);
    pgvigil__databases__init(&n->dbs);
    pgvigil__database_stats__init(&n->db);
    pgvigil__connections__init(&n->conn);
    n->dbp[0] = &n->db;
    n->dbs.n_databases = 1;
    n->dbs.databases = n->dbp;
    n->s.up = true;
    n->v.up = n->v.seen = true;
    n->v.role = PGVIGIL__ROLE__ROLE_PRIMARY;
}

static double value(const node_t *n, const char *name)
{
    double v;
    return node_view_value(&n->v, metric_find(name), &v) ? v : NAN;
}

static void test_counters_become_rates(void **state)
{
    (void)state;
    static node_t n;
    node_init(&n);
    n.s.databases = &n.dbs;
    n.db.xact_commit = 1000;
    n.db.deadlocks = 2;
    n.s.collected_at_us = 10 * S;
    metric_update(&n.v, &n.st, &n.s, n.s.collected_at_us);
    assert_true(isnan(value(&n, "commits_per_s"))); /* first sample: no rate */
    assert_true(isnan(value(&n, "deadlocks")));
    n.db.xact_commit = 1500;
    n.db.deadlocks = 3;
    n.s.collected_at_us = 15 * S;
    metric_update(&n.v, &n.st, &n.s, n.s.collected_at_us);
    assert_true(fabs(value(&n, "commits_per_s") - 100.0) < 1e-9);
    assert_true(value(&n, "deadlocks") == 1); /* per interval */
    /* a sample without the databases section keeps the values */
    n.s.databases = NULL;
    n.s.collected_at_us = 16 * S;
    metric_update(&n.v, &n.st, &n.s, n.s.collected_at_us);
    assert_true(fabs(value(&n, "commits_per_s") - 100.0) < 1e-9);
    /* a stats reset: no value, then rates again */
    n.s.databases = &n.dbs;
    n.db.xact_commit = 10;
    n.s.collected_at_us = 20 * S;
    metric_update(&n.v, &n.st, &n.s, n.s.collected_at_us);
    assert_true(isnan(value(&n, "commits_per_s")));
    n.db.xact_commit = 30;
    n.s.collected_at_us = 22 * S;
    metric_update(&n.v, &n.st, &n.s, n.s.collected_at_us);
    assert_true(fabs(value(&n, "commits_per_s") - 10.0) < 1e-9);
}

static void test_liveness_forgets(void **state)
{
    (void)state;
    static node_t n;
    node_init(&n);
    n.s.connections = &n.conn;
    n.conn.max_connections = 103;
    n.conn.superuser_reserved = 3;
    n.conn.total = 50;
    metric_update(&n.v, &n.st, &n.s, 1 * S);
    assert_true(fabs(value(&n, "connection_saturation") - 0.5) < 1e-9);
    assert_true(value(&n, "node_up") == 1);
    assert_true(value(&n, "collector_stale") == 0);
    /* down: only liveness is known */
    n.v.up = false;
    assert_true(metric_tick(&n.v, &n.st, &n.s, 2 * S));
    assert_true(isnan(value(&n, "connection_saturation")));
    assert_true(value(&n, "node_up") == 0);
    /* stale: only staleness is known */
    n.v.stale = true;
    assert_true(metric_tick(&n.v, &n.st, &n.s, 3 * S));
    assert_true(isnan(value(&n, "node_up")));
    assert_true(value(&n, "collector_stale") == 1);
    assert_false(metric_tick(&n.v, &n.st, &n.s, 4 * S)); /* nothing moved */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_is_complete),
        cmocka_unit_test(test_names_slots_rules_unique),
        cmocka_unit_test(test_counters_become_rates),
        cmocka_unit_test(test_liveness_forgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
