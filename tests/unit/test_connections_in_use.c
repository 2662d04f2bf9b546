/*
 * test_connections_in_use.c — a per-node metric added through the catalogue
 * alone (proto field, collector column, one catalogue row) reaches every
 * reader: /metrics, the history values and the history API's names, and an
 * alert rule configured on it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerting.h"
#include "fleet.h"
#include "history.h"
#include "metric.h"
#include "pbarena.h"
#include "store_rows.h"

#define S 1000000LL

static Pgvigil__Sample *sample(int64_t t, uint64_t seq, uint32_t in_use)
{
    Pgvigil__Sample s = PGVIGIL__SAMPLE__INIT;
    Pgvigil__Connections c = PGVIGIL__CONNECTIONS__INIT;
    s.node = "db1";
    s.region = "eu";
    s.has_system_identifier = s.has_role = s.has_sequence = s.has_collected_at_us = s.has_up = 1;
    s.has_interval_ms = s.has_collector_started_at_us = 1;
    s.system_identifier = 42;
    s.role = PGVIGIL__ROLE__ROLE_PRIMARY;
    s.sequence = seq;
    s.collected_at_us = t;
    s.collector_started_at_us = 1;
    s.up = true;
    s.interval_ms = 1000;
    c.has_in_use = 1;
    c.in_use = in_use;
    s.connections = &c;
    uint8_t buf[1024];
    size_t len = pgvigil__sample__pack(&s, buf);
    return (Pgvigil__Sample *)pbarena_unpack(&pgvigil__sample__descriptor, len, buf);
}

static void drop(void *arg, json_t *msg)
{
    (void)arg;
    json_decref(msg);
}

static void test_in_use_everywhere(void **state)
{
    (void)state;
    char err[512];
    agg_config_t *cfg = agg_config_load_string(
        "agg.yaml",
        "listen: {ingest: [tcp://127.0.0.1:1], http: '127.0.0.1:1'}\n"
        "rules:\n  - {name: busy, metric: connections_in_use, warning: 5, critical: 50, for: 0s, summary: '{node} busy'}\n",
        err, sizeof err);
    if (!cfg)
        fail_msg("%s", err);
    int id = metric_find("connections_in_use");
    assert_true(id >= 0);
    fleet_t *f = fleet_new(cfg);
    alerting_t *al = alerting_new(cfg, drop, NULL);
    int64_t t0 = 1000 * S;
    assert_true(fleet_apply(f, sample(t0, 1, 9), t0, NULL));
    const node_view_t *v = fleet_node_view(f, "db1");
    double x;
    assert_true(node_view_value(v, id, &x) && x == 9);

    /* /metrics */
    fleet_view_t fv;
    assert_int_equal(fleet_view(f, t0, &fv), 0);
    assert_non_null(strstr(fv.metrics_text, "# TYPE pgvigil_connections_in_use gauge\n"));
    assert_non_null(strstr(fv.metrics_text, "pgvigil_connections_in_use{cluster=\"42\",node=\"db1\"} 9\n"));
    json_decref(fv.clusters);
    json_decref(fv.nodes);
    json_decref(fv.events);
    free(fv.metrics_text);

    /* history: its slot in metric_values, its name in the API */
    char values[4096];
    assert_true(store_rows_metric_values(v, values, sizeof values) > 0);
    const char *at = values;
    for (int k = 1; k < metric_info(id)->slot; k++)
        at = strchr(at + 1, ',');
    assert_int_equal(strncmp(at, ",9", 2), 0);
    bool named = false;
    for (const char *const *n = history_metric_names(); *n; n++)
        named = named || strcmp(*n, "connections_in_use") == 0;
    assert_true(named);

    /* a rule on it */
    assert_true(alerting_node(al, v, t0));
    json_t *view = alerting_view(al, t0);
    json_t *a = json_array_get(json_object_get(view, "alerts"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "rule")), "busy");
    assert_string_equal(json_string_value(json_object_get(a, "severity")), "warning");
    assert_true(json_real_value(json_object_get(a, "value")) == 9);
    json_decref(view);

    alerting_destroy(&al);
    fleet_destroy(&f);
    agg_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_use_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
