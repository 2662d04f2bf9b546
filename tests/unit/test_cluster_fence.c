/*
 * test_cluster_fence.c — the fencing rule (aggregator/cluster/cluster_fence.c):
 * act only under the epoch held and within the lease on the monotonic clock;
 * own nothing while starting; own everything under epoch 0 while Redis is
 * unreachable; a lone aggregator (no fence) owns everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "cluster_fence.h"
#include "cluster_hrw.h"

#define CID 7301234567890123456ULL
#define SECOND_US 1000000LL

static void test_no_fence_owns_everything(void **state)
{
    (void)state;
    uint64_t epoch = 99;
    assert_true(cluster_may_act(NULL, CID, 0));
    assert_true(cluster_owns(NULL, CID, &epoch));
    assert_true(epoch == 0);
    assert_int_equal(cluster_fence_state(NULL), CLUSTER_STATE_OK);
    char *m = cluster_fence_metrics(NULL);
    assert_string_equal(m, "");
    free(m);
}

static void test_starting_owns_nothing(void **state)
{
    (void)state;
    cluster_fence_t *f = cluster_fence_new("agg-1");
    assert_int_equal(cluster_fence_state(f), CLUSTER_STATE_STARTING);
    assert_false(cluster_owns(f, CID, NULL));
    assert_false(cluster_may_act(f, CID, 0));
    cluster_fence_destroy(&f);
    assert_null(f);
}

static void test_acts_only_under_its_epoch_and_lease(void **state)
{
    (void)state;
    cluster_fence_t *f = cluster_fence_new("agg-1");
    cluster_fence_set_state(f, CLUSTER_STATE_OK);
    cluster_fence_set_lease(f, clock_mono_us() + 5 * SECOND_US);
    cluster_fence_acquire(f, CID, 7);
    uint64_t epoch = 0;
    assert_true(cluster_owns(f, CID, &epoch));
    assert_true(epoch == 7);
    assert_true(cluster_may_act(f, CID, 7));
    assert_false(cluster_may_act(f, CID, 6)); /* an effect prepared under an older epoch */
    assert_false(cluster_may_act(f, CID, 0));
    assert_false(cluster_may_act(f, CID + 1, 7)); /* not ours */
    /* the lease ran out (a pause): nothing, even under the right epoch */
    cluster_fence_set_lease(f, clock_mono_us() - 1);
    assert_false(cluster_may_act(f, CID, 7));
    cluster_fence_set_lease(f, clock_mono_us() + 5 * SECOND_US);
    assert_true(cluster_may_act(f, CID, 7));
    cluster_fence_release(f, CID);
    assert_false(cluster_may_act(f, CID, 7));
    assert_false(cluster_owns(f, CID, NULL));
    cluster_fence_acquire(f, CID, 8);
    cluster_fence_acquire(f, CID + 1, 3);
    assert_int_equal(cluster_fence_release_all(f), 2);
    assert_false(cluster_may_act(f, CID, 8));
    char *m = cluster_fence_metrics(f);
    assert_non_null(strstr(m, "pgvigil_cluster_degraded 0\n"));
    assert_non_null(strstr(m, "pgvigil_cluster_fenced_total "));
    free(m);
    cluster_fence_destroy(&f);
}

static void test_degraded_owns_everything_under_epoch_zero(void **state)
{
    (void)state;
    cluster_fence_t *f = cluster_fence_new("agg-1");
    cluster_fence_set_state(f, CLUSTER_STATE_DEGRADED);
    uint64_t epoch = 5;
    assert_true(cluster_owns(f, CID, &epoch));
    assert_true(epoch == 0);
    assert_true(cluster_may_act(f, CID, 0)); /* fail open, whatever the lease */
    char owner[64];
    cluster_owner_of(f, CID, owner, sizeof owner);
    assert_string_equal(owner, "agg-1");
    char *m = cluster_fence_metrics(f);
    assert_non_null(strstr(m, "pgvigil_cluster_degraded 1\n"));
    free(m);
    /* back to coordination: an effect prepared while failing open is fenced */
    cluster_fence_set_state(f, CLUSTER_STATE_OK);
    assert_false(cluster_may_act(f, CID, 0));
    cluster_fence_destroy(&f);
}

static void test_owner_names_follow_the_members(void **state)
{
    (void)state;
    cluster_fence_t *f = cluster_fence_new("agg-1");
    const char *members[] = {"agg-1", "agg-2", "agg-3"};
    cluster_fence_set_state(f, CLUSTER_STATE_OK);
    cluster_fence_set_members(f, members, 3);
    char owner[64];
    for (uint64_t id = CID; id < CID + 50; id++) {
        cluster_owner_of(f, id, owner, sizeof owner);
        assert_string_equal(owner, members[cluster_hrw_owner(members, 3, id)]);
    }
    json_t *fleet = cluster_fence_fleet(f);
    assert_true(json_is_object(fleet));
    json_decref(fleet);
    cluster_fence_set_fleet(f, json_pack("{s:{s:s}}", "1", "owner", "agg-2"));
    fleet = cluster_fence_fleet(f);
    assert_string_equal(json_string_value(json_object_get(json_object_get(fleet, "1"), "owner")), "agg-2");
    json_decref(fleet);
    cluster_fence_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_fence_owns_everything),
        cmocka_unit_test(test_starting_owns_nothing),
        cmocka_unit_test(test_acts_only_under_its_epoch_and_lease),
        cmocka_unit_test(test_degraded_owns_everything_under_epoch_zero),
        cmocka_unit_test(test_owner_names_follow_the_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
