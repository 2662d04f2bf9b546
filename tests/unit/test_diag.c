/*
 * test_diag.c — diagnostics logic: when a table needs VACUUM or ANALYZE,
 * which index is unused or a duplicate of which, the statement regression
 * test against its decayed baseline, identifier quoting in recommended SQL,
 * and the ranking of recommendations.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"

#define S 1000000LL

static Pgvigil__TableStats table(const char *name, uint64_t live, uint64_t dead, double vac_threshold)
{
    Pgvigil__TableStats t = PGVIGIL__TABLE_STATS__INIT;
    t.database = "app";
    t.schema = "public";
    t.table = (char *)name;
    t.has_live_tuples = t.has_dead_tuples = t.has_vacuum_threshold = 1;
    t.live_tuples = live;
    t.dead_tuples = dead;
    t.vacuum_threshold = vac_threshold;
    return t;
}

static void test_needs_vacuum_from_the_thresholds(void **state)
{
    (void)state;
    Pgvigil__TableStats t = table("guests", 10000, 2049, 2050);
    json_t *j = diag_table_json(&t);
    assert_false(json_is_true(json_object_get(j, "needs_vacuum")));
    json_decref(j);
    t.dead_tuples = 2051;
    j = diag_table_json(&t);
    assert_true(json_is_true(json_object_get(j, "needs_vacuum")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "vacuum_reasons"), 0)), "dead_tuples");
    assert_true(fabs(json_real_value(json_object_get(j, "dead_ratio")) - 2051.0 / 12051.0) < 1e-9);
    json_decref(j);
    /* Inserts alone trigger too (PG 13+), and -1 (absent) never does. */
    t.dead_tuples = 0;
    t.has_n_ins_since_vacuum = t.has_insert_threshold = 1;
    t.n_ins_since_vacuum = 5001;
    t.insert_threshold = 5000;
    j = diag_table_json(&t);
    assert_true(json_is_true(json_object_get(j, "needs_vacuum")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "vacuum_reasons"), 0)), "inserts");
    json_decref(j);
    t.has_insert_threshold = 0;
    j = diag_table_json(&t);
    assert_false(json_is_true(json_object_get(j, "needs_vacuum")));
    json_decref(j);
    /* Analyze: modifications past the analyze threshold. */
    t.has_mod_since_analyze = t.has_analyze_threshold = 1;
    t.mod_since_analyze = 100;
    t.analyze_threshold = 99.5;
    j = diag_table_json(&t);
    assert_true(json_is_true(json_object_get(j, "needs_analyze")));
    json_decref(j);
}

static Pgvigil__IndexStats index_(const char *name, const char *sig, uint64_t scans, bool unique, bool primary)
{
    Pgvigil__IndexStats x = PGVIGIL__INDEX_STATS__INIT;
    x.database = "app";
    x.schema = "public";
    x.table = "guests";
    x.index = (char *)name;
    x.signature = (char *)sig;
    x.has_idx_scan = x.has_is_unique = x.has_is_primary = x.has_is_valid = 1;
    x.idx_scan = scans;
    x.is_unique = unique;
    x.is_primary = primary;
    x.is_valid = 1;
    return x;
}

static const json_t *find(const json_t *list, const char *name)
{
    size_t i;
    const json_t *x;
    json_array_foreach(list, i, x) if (strcmp(json_string_value(json_object_get(x, "index")), name) == 0) return x;
    fail_msg("no index %s", name);
    return NULL;
}

static void test_unused_and_duplicate_indexes(void **state)
{
    (void)state;
    Pgvigil__IndexStats a = index_("guests_pkey", "1 1978", 0, true, true);
    Pgvigil__IndexStats b = index_("guests_id", "1 1978", 50, false, false);
    Pgvigil__IndexStats c = index_("guests_name", "2 3126", 0, false, false);
    Pgvigil__IndexStats d = index_("guests_name_partial", "2 3126 WHERE (name IS NOT NULL)", 3, false, false);
    Pgvigil__IndexStats *all[] = {&a, &b, &c, &d};
    Pgvigil__Indexes x = PGVIGIL__INDEXES__INIT;
    x.indexes = all;
    x.n_indexes = 4;
    json_t *j = diag_indexes_json(&x);
    /* The primary key is kept even though the copy is used more. */
    assert_true(json_is_null(json_object_get(find(j, "guests_pkey"), "duplicate_of")));
    assert_string_equal(json_string_value(json_object_get(find(j, "guests_id"), "duplicate_of")), "guests_pkey");
    /* Unused: never scanned, not unique, not a primary key. */
    assert_false(json_is_true(json_object_get(find(j, "guests_pkey"), "unused")));
    assert_true(json_is_true(json_object_get(find(j, "guests_name"), "unused")));
    /* A different predicate is a different index. */
    assert_true(json_is_null(json_object_get(find(j, "guests_name"), "duplicate_of")));
    assert_int_equal(json_array_size(json_object_get(find(j, "guests_name_partial"), "duplicates")), 0);
    json_t *tables = json_pack("{s:[]}", "tables");
    json_t *indexes = json_pack("{s:O}", "indexes", j);
    diag_options_t o;
    diag_options_default(&o);
    json_t *recs = diag_recommend("n1", tables, indexes, NULL, NULL, NULL, &o);
    /* Ranked: the duplicate (40) before the unused index (20+). */
    assert_int_equal(json_array_size(recs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "kind")), "drop_duplicate_index");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "sql")),
                        "DROP INDEX CONCURRENTLY \"public\".\"guests_id\";");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "kind")), "drop_unused_index");
    json_decref(recs);
    json_decref(tables);
    json_decref(indexes);
    json_decref(j);
}

static void test_quoting_in_recommended_sql(void **state)
{
    (void)state;
    char *q = diag_quote_ident("we\"ird; DROP TABLE x");
    assert_string_equal(q, "\"we\"\"ird; DROP TABLE x\"");
    free(q);
    Pgvigil__TableStats t = table("odd\"name", 100, 5000, 70);
    t.schema = "Sales";
    json_t *list = json_array();
    json_array_append_new(list, diag_table_json(&t));
    json_t *tables = json_pack("{s:o}", "tables", list);
    diag_options_t o;
    diag_options_default(&o);
    json_t *recs = diag_recommend("n1", tables, NULL, NULL, NULL, NULL, &o);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "sql")),
                        "VACUUM (ANALYZE) \"Sales\".\"odd\"\"name\";");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "severity")), "warning");
    json_decref(recs);
    json_decref(tables);
}

static void test_connection_and_checkpoint_advice(void **state)
{
    (void)state;
    diag_options_t o;
    diag_options_default(&o);
    Pgvigil__Connections c = PGVIGIL__CONNECTIONS__INIT;
    c.has_max_connections = c.has_total = c.has_superuser_reserved = 1;
    c.max_connections = 100;
    c.superuser_reserved = 3;
    c.total = 77; /* 79 % of 97 */
    Pgvigil__Checkpointer k = PGVIGIL__CHECKPOINTER__INIT;
    k.has_checkpoints_requested = k.has_checkpoints_timed = 1;
    k.checkpoints_requested = 1;
    k.checkpoints_timed = 20;
    json_t *recs = diag_recommend("n1", NULL, NULL, NULL, &c, &k, &o);
    assert_int_equal(json_array_size(recs), 0);
    json_decref(recs);
    c.total = 93;
    k.checkpoints_requested = 10;
    recs = diag_recommend("n1", NULL, NULL, NULL, &c, &k, &o);
    assert_int_equal(json_array_size(recs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "kind")), "connections");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "kind")), "checkpoints");
    json_decref(recs);
}

static diag_options_t reg_opts(void)
{
    diag_options_t o;
    diag_options_default(&o);
    o.regression_recent_ms = 5 * 60000;
    o.regression_min_baseline_ms = 3600000;
    o.regression_half_life_ms = 24 * 3600000ULL;
    return o;
}

static void test_regression_needs_a_slower_recent_window(void **state)
{
    (void)state;
    diag_options_t o = reg_opts();
    int64_t t0 = 1700000000 * S;
    diag_stmt_t *st = diag_stmt_new(t0);
    /* Two hours at 2 ms a call, one interval a minute. */
    int64_t t = t0;
    for (; t < t0 + 7200 * S; t += 60 * S) {
        diag_stmt_add(st, t, 100, 200.0, &o);
        diag_stmt_age(st, t, &o);
    }
    diag_stmt_verdict_t v = diag_stmt_judge(st, t, &o);
    assert_false(v.regression);
    assert_true(fabs(v.baseline_mean_ms - 2.0) < 1e-9);
    /* Then a recent window (5 minutes) at 8 ms: 4x, and 6 ms more. */
    for (int i = 0; i < 5; i++, t += 60 * S) {
        diag_stmt_add(st, t, 100, 800.0, &o);
        diag_stmt_age(st, t, &o);
    }
    v = diag_stmt_judge(st, t, &o);
    assert_true(v.recent_mean_ms > 6.5 && v.recent_mean_ms < 8.01);
    assert_true(v.regression);
    /* Back to normal: once the slow intervals age out, it is over. */
    for (int i = 0; i < 10; i++, t += 60 * S) {
        diag_stmt_add(st, t, 100, 200.0, &o);
        diag_stmt_age(st, t, &o);
    }
    v = diag_stmt_judge(st, t, &o);
    assert_false(v.regression);
    diag_stmt_free(st);
}

static void test_regression_guards(void **state)
{
    (void)state;
    diag_options_t o = reg_opts();
    int64_t t0 = 1700000000 * S, t = t0;
    /* A young statement has no baseline worth the name. */
    diag_stmt_t *st = diag_stmt_new(t0);
    for (; t < t0 + 1800 * S; t += 60 * S) {
        diag_stmt_add(st, t, 100, t < t0 + 1500 * S ? 10.0 : 1000.0, &o);
        diag_stmt_age(st, t, &o);
    }
    assert_false(diag_stmt_judge(st, t, &o).regression);
    diag_stmt_free(st);
    /* Too few calls recently. */
    st = diag_stmt_new(t0);
    for (t = t0; t < t0 + 7200 * S; t += 60 * S) {
        diag_stmt_add(st, t, t < t0 + 6900 * S ? 100 : 1, t < t0 + 6900 * S ? 10.0 : 1.0, &o);
        diag_stmt_age(st, t, &o);
    }
    assert_false(diag_stmt_judge(st, t, &o).regression);
    diag_stmt_free(st);
    /* 0.01 ms -> 0.04 ms is 4x but below min_increase. */
    st = diag_stmt_new(t0);
    for (t = t0; t < t0 + 7200 * S; t += 60 * S) {
        diag_stmt_add(st, t, 100, t < t0 + 6900 * S ? 1.0 : 4.0, &o);
        diag_stmt_age(st, t, &o);
    }
    diag_stmt_verdict_t v = diag_stmt_judge(st, t, &o);
    assert_true(v.recent_mean_ms >= 3 * v.baseline_mean_ms);
    assert_false(v.regression);
    diag_stmt_free(st);
}

static void test_baseline_decays(void **state)
{
    (void)state;
    diag_options_t o = reg_opts();
    int64_t t0 = 1700000000 * S, t = t0;
    diag_stmt_t *st = diag_stmt_new(t0);
    /* A week ago it took 1 ms; for the last day 4 ms: the baseline follows
     * the recent days (a slow drift is not a regression). */
    for (; t < t0 + 6 * 86400 * S; t += 3600 * S) {
        diag_stmt_add(st, t, 1000, 1000.0, &o);
        diag_stmt_age(st, t, &o);
    }
    for (; t < t0 + 7 * 86400 * S; t += 3600 * S) {
        diag_stmt_add(st, t, 1000, 4000.0, &o);
        diag_stmt_age(st, t, &o);
    }
    diag_stmt_verdict_t v = diag_stmt_judge(st, t, &o);
    assert_true(v.baseline_mean_ms > 2.0);
    assert_false(v.regression);
    diag_stmt_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needs_vacuum_from_the_thresholds),
        cmocka_unit_test(test_unused_and_duplicate_indexes),
        cmocka_unit_test(test_quoting_in_recommended_sql),
        cmocka_unit_test(test_connection_and_checkpoint_advice),
        cmocka_unit_test(test_regression_needs_a_slower_recent_window),
        cmocka_unit_test(test_regression_guards),
        cmocka_unit_test(test_baseline_decays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
