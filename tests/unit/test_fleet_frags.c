/*
 * test_fleet_frags.c — snapshots that cost what changed
 * (aggregator/fleet/fleet_frags.c, frag.c):
 *   - the fragments render exactly what the whole-fleet view renders (the
 *     clusters JSON and the Prometheus text), before and after a change;
 *   - a publish where 1% of the nodes changed renders those nodes and their
 *     clusters only, shares every other fragment with the previous snapshot,
 *     and costs a small fraction of the first (full) publish;
 *   - lists filter, page with a cursor, order worst first, and their ETag
 *     moves only when what they return moved;
 *   - samples ingest coalesced away are not counted as sequence gaps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "agg_config.h"
#include "fleet.h"
#include "fleet_frags.h"
#include "pbarena.h"

#define S 1000000LL
#define NODES 3000 /* clusters of a primary and two replicas */
#define T0 (1795000000LL * S)

static uint64_t seqs[FLEET_TICK_NODES + NODES];

static Pgvigil__Sample *sample(int i, int64_t t)
{
    Pgvigil__Sample s = PGVIGIL__SAMPLE__INIT;
    Pgvigil__PrimaryReplication pr = PGVIGIL__PRIMARY_REPLICATION__INIT;
    Pgvigil__ReplicaReplication rr = PGVIGIL__REPLICA_REPLICATION__INIT;
    Pgvigil__Connections c = PGVIGIL__CONNECTIONS__INIT;
    char name[32];
    bool primary = i % 3 == 0;
    uint64_t lsn = 1000000 + (uint64_t)(t - T0) / 1000;
    snprintf(name, sizeof name, "db-%05d", i);
    s.node = name;
    s.region = i % 6 < 3 ? "eu" : "us";
    s.has_system_identifier = s.has_role = s.has_sequence = s.has_collected_at_us = s.has_up = 1;
    s.has_interval_ms = s.has_collector_started_at_us = 1;
    s.system_identifier = 7300000000000000000ull + (uint64_t)(i / 3);
    s.role = primary ? PGVIGIL__ROLE__ROLE_PRIMARY : PGVIGIL__ROLE__ROLE_REPLICA;
    s.sequence = ++seqs[i];
    s.collected_at_us = t;
    s.collector_started_at_us = 1;
    s.up = true;
    s.interval_ms = 1000;
    c.has_total = c.has_max_connections = 1;
    c.total = (uint32_t)(i % 50);
    c.max_connections = 100;
    s.connections = &c;
    if (primary) {
        pr.has_current_wal_lsn = 1;
        pr.current_wal_lsn = lsn;
        s.primary_replication = &pr;
    } else {
        rr.has_replay_lsn = rr.has_receive_lsn = rr.has_replay_paused = 1;
        rr.replay_lsn = lsn - (i % 300 == 2 ? 50000 : 100); /* a few replicas far behind */
        rr.receive_lsn = lsn;
        rr.wal_receiver_status = "streaming";
        s.replica_replication = &rr;
    }
    uint8_t buf[4096];
    size_t len = pgvigil__sample__pack(&s, buf);
    return (Pgvigil__Sample *)pbarena_unpack(&pgvigil__sample__descriptor, len, buf);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    agg_config_t *cfg;
    fleet_t *fleet;
    fleet_frags_t *frags;
} fixture_t;

static int setup(void **state)
{
    char err[256];
    fixture_t *f = calloc(1, sizeof *f);
    f->cfg = agg_config_load_string("agg.yaml", "listen: {ingest: [tcp://127.0.0.1:1], http: '127.0.0.1:1'}\n", err,
                                    sizeof err);
    assert_non_null(f->cfg);
    f->fleet = fleet_new(f->cfg);
    f->frags = fleet_frags_new(f->fleet);
    for (int round = 0; round < 2; round++) /* twice: lag needs two primary points */
        for (int i = 0; i < NODES; i++)
            fleet_apply(f->fleet, sample(i, T0 + round * S + i), T0 + round * S + i, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fleet_frags_destroy(&f->frags);
    fleet_destroy(&f->fleet);
    agg_config_destroy(&f->cfg);
    free(f);
    return 0;
}

/* The fragments against the whole-fleet rendering. */
static void assert_same_as_full_view(fixture_t *f, const fleet_frags_view_t *v)
{
    fleet_view_t full;
    assert_int_equal(fleet_view(f->fleet, T0, &full), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    frag_set_write_prom(v->nodes, m);
    fclose(m);
    assert_string_equal(text, full.metrics_text);
    free(text);
    m = open_memstream(&text, &len);
    frag_query_t all = {0};
    frag_page_t page;
    fputc('[', m);
    assert_int_equal(frag_set_write_json(v->clusters, true, &all, m, &page), 0);
    fputc(']', m);
    fclose(m);
    json_t *clusters = json_loads(text, 0, NULL);
    assert_true(json_equal(clusters, full.clusters));
    assert_int_equal(page.matched, json_array_size(full.clusters));
    assert_string_equal(v->status, full.status);
    assert_int_equal(v->nodes_up, full.nodes_up);
    json_decref(clusters);
    free(text);
    json_decref(full.clusters);
    json_decref(full.nodes);
    json_decref(full.events);
    free(full.metrics_text);
}

static void release(fleet_frags_view_t *v)
{
    frag_set_unref(&v->nodes);
    frag_set_unref(&v->clusters);
    json_decref(v->events);
}

static void fragments_render_what_the_full_view_renders(void **state)
{
    fixture_t *f = *state;
    fleet_frags_view_t v;
    assert_int_equal(fleet_frags_publish(f->frags, &v), 0);
    assert_int_equal(v.nodes->count, NODES);
    assert_int_equal(v.clusters->count, NODES / 3);
    assert_same_as_full_view(f, &v);
    release(&v);
    for (int i = 0; i < NODES; i += 7) /* some change */
        fleet_apply(f->fleet, sample(i, T0 + 2 * S + i), T0 + 2 * S + i, NULL);
    assert_int_equal(fleet_frags_publish(f->frags, &v), 0);
    assert_same_as_full_view(f, &v);
    release(&v);
}

/* Every fragment's text, as a reader of the whole fleet would ask for it;
 * fragments rendered before (shared with an earlier set) cost nothing. */
static void render_all(const fleet_frags_view_t *v)
{
    for (size_t i = 0; i < v->nodes->count; i++)
    {
        assert_non_null(frag_json(v->nodes->items[i]));
        assert_non_null(frag_prom(v->nodes->items[i]));
    }
    for (size_t i = 0; i < v->clusters->count; i++)
        assert_non_null(frag_json(v->clusters->items[i]));
}

static void a_publish_costs_what_changed(void **state)
{
    fixture_t *f = *state;
    fleet_frags_view_t first, next;
    assert_int_equal(fleet_frags_publish(f->frags, &first), 0);
    assert_int_equal(first.nodes_rendered, NODES);
    release(&first);
    for (int i = 0; i < NODES; i++) /* every node changed: the cost of a full rebuild */
        fleet_apply(f->fleet, sample(i, T0 + 2 * S + i), T0 + 2 * S + i, NULL);
    double t = now_s();
    assert_int_equal(fleet_frags_publish(f->frags, &first), 0);
    render_all(&first); /* what a full rebuild produced: every node's and cluster's text */
    double full_s = now_s() - t;
    assert_int_equal(first.nodes_rendered, NODES);
    int changed = NODES / 100;
    for (int i = 0; i < changed; i++)
        fleet_apply(f->fleet, sample(i * 100, T0 + 3 * S), T0 + 3 * S, NULL);
    t = now_s();
    assert_int_equal(fleet_frags_publish(f->frags, &next), 0);
    render_all(&next); /* renders only the fragments that are new */
    double part_s = now_s() - t;
    assert_int_equal(next.nodes_rendered, changed);
    assert_true(next.clusters_rendered <= (size_t)changed);
    size_t shared = 0;
    for (size_t i = 0; i < next.nodes->count; i++)
        shared += next.nodes->items[i] == first.nodes->items[i];
    assert_int_equal(shared, NODES - changed);
    print_message("every node changed: publish and render %.2f ms (%.1f us a node); 1%% changed: %.3f ms (%.1f%%)\n",
                  full_s * 1e3, full_s * 1e6 / NODES, part_s * 1e3, 100 * part_s / full_s);
    /* ~1% of the work plus a pointer per node; generous for a shared machine */
    assert_true(part_s < full_s * 0.10);
    release(&first); /* the first snapshot goes; the second's fragments stay */
    assert_non_null(frag_set_find_node(next.nodes, "db-00100"));
    release(&next);
}

static void lists_filter_page_and_tag(void **state)
{
    fixture_t *f = *state;
    fleet_frags_view_t v;
    assert_int_equal(fleet_frags_publish(f->frags, &v), 0);
    frag_query_t q = {.role = "replica", .region = "eu", .limit = 100};
    frag_page_t p1, p2, again;
    char *text = NULL;
    size_t len = 0, seen = 0;
    char cursor[80] = "";
    do { /* every eu replica exactly once, in pages of 100 */
        FILE *m = open_memstream(&text, &len);
        q.cursor = cursor[0] ? cursor : NULL;
        fputc('[', m);
        assert_int_equal(frag_set_write_json(v.nodes, false, &q, m, &p1), 0);
        fputc(']', m);
        fclose(m);
        json_t *page = json_loads(text, 0, NULL);
        assert_int_equal(json_array_size(page), p1.returned);
        seen += p1.returned;
        json_decref(page);
        free(text);
        snprintf(cursor, sizeof cursor, "%s", p1.next);
    } while (cursor[0]);
    assert_int_equal(seen, p1.matched);
    assert_int_equal(seen, NODES / 3); /* two replicas of three, half in eu */

    frag_query_t worst = {.worst_first = true, .limit = 5};
    FILE *m = open_memstream(&text, &len);
    assert_int_equal(frag_set_write_json(v.nodes, false, &worst, m, &p2), 0);
    fclose(m);
    assert_non_null(strstr(text, "db-00002")); /* a replica far behind comes first */
    assert_int_equal(strncmp(text, "{\"node\":\"db-00002\"", 18), 0);
    free(text);
    m = open_memstream(&text, &len);
    assert_int_equal(frag_set_write_json(v.nodes, false, &worst, m, &again), 0);
    fclose(m);
    free(text);
    assert_string_equal(p2.etag, again.etag);
    release(&v);
    fleet_apply(f->fleet, sample(2, T0 + 5 * S), T0 + 5 * S, NULL); /* the worst node changed */
    assert_int_equal(fleet_frags_publish(f->frags, &v), 0);
    m = open_memstream(&text, &len);
    assert_int_equal(frag_set_write_json(v.nodes, false, &worst, m, &again), 0);
    fclose(m);
    free(text);
    assert_string_not_equal(p2.etag, again.etag);
    frag_query_t bad = {.cursor = "o:5"};
    m = open_memstream(&text, &len);
    assert_int_equal(frag_set_write_json(v.nodes, false, &bad, m, &again), -1);
    fclose(m);
    free(text);
    release(&v);
}

static void coalesced_samples_are_not_gaps(void **state)
{
    fixture_t *f = *state;
    seqs[4] += 3; /* three samples of db-00004 coalesced away by ingest */
    fleet_superseded(f->fleet, "db-00004", 3);
    assert_true(fleet_apply(f->fleet, sample(4, T0 + 9 * S), T0 + 9 * S, NULL));
    seqs[5] += 3; /* three samples of db-00005 lost */
    assert_true(fleet_apply(f->fleet, sample(5, T0 + 9 * S), T0 + 9 * S, NULL));
    assert_int_equal(fleet_node_view(f->fleet, "db-00004")->gaps, 0);
    assert_int_equal(fleet_node_view(f->fleet, "db-00005")->gaps, 3);
}

/* A tick judges a bounded slice of a fleet bigger than FLEET_TICK_NODES,
 * the next slice at the next tick, so every node is judged within a few. */
static void a_tick_judges_a_slice_of_a_big_fleet(void **state)
{
    (void)state;
    char err[256];
    agg_config_t *cfg = agg_config_load_string("agg.yaml", "listen: {ingest: [tcp://127.0.0.1:1], http: '127.0.0.1:1'}\n",
                                               err, sizeof err);
    assert_non_null(cfg);
    fleet_t *fl = fleet_new(cfg);
    size_t n = FLEET_TICK_NODES + 904;
    for (size_t i = 0; i < n; i++)
        assert_true(fleet_apply(fl, sample((int)i, T0 + (int64_t)i), T0 + (int64_t)i, NULL));
    assert_int_equal(fleet_node_count(fl), n);
    int64_t silent = T0 + 600 * S; /* every collector silent for ten minutes */
    size_t stale[2];
    for (int tick = 0; tick < 2; tick++) {
        assert_true(fleet_tick(fl, silent));
        stale[tick] = 0;
        for (size_t i = 0; i < n; i++)
            stale[tick] += fleet_node_at(fl, i)->stale;
    }
    assert_int_equal(stale[0], FLEET_TICK_NODES);
    assert_int_equal(stale[1], n);
    fleet_destroy(&fl);
    agg_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fragments_render_what_the_full_view_renders, setup, teardown),
        cmocka_unit_test_setup_teardown(a_publish_costs_what_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(lists_filter_page_and_tag, setup, teardown),
        cmocka_unit_test_setup_teardown(coalesced_samples_are_not_gaps, setup, teardown),
        cmocka_unit_test(a_tick_judges_a_slice_of_a_big_fleet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
