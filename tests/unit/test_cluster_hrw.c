/*
 * test_cluster_hrw.c — rendezvous hashing of clusters over aggregators
 * (aggregator/cluster/cluster_hrw.c): one owner whatever the member order,
 * an even spread, and a membership change moves only the changed member's
 * share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cluster_hrw.h"

#define KEYS 10000

/* Keys spread like system identifiers: large, close together in time. */
static uint64_t key_at(int i)
{
    return 7301234567890000000ULL + (uint64_t)i * 1237;
}

static void test_owner_does_not_depend_on_member_order(void **state)
{
    (void)state;
    const char *abc[] = {"agg-a", "agg-b", "agg-c"}, *cab[] = {"agg-c", "agg-a", "agg-b"};
    assert_int_equal(cluster_hrw_owner(abc, 0, 1), -1);
    for (int i = 0; i < 1000; i++) {
        int x = cluster_hrw_owner(abc, 3, key_at(i)), y = cluster_hrw_owner(cab, 3, key_at(i));
        assert_string_equal(abc[x], cab[y]);
    }
    const char *one[] = {"only"};
    assert_int_equal(cluster_hrw_owner(one, 1, 42), 0);
    /* the score is a fixed function: other hosts compute the same owner */
    assert_true(cluster_hrw_score("agg-a", 1) == cluster_hrw_score("agg-a", 1));
    assert_true(cluster_hrw_score("agg-a", 1) != cluster_hrw_score("agg-b", 1));
}

static void test_three_members_share_keys_evenly(void **state)
{
    (void)state;
    const char *m[] = {"agg-eu-1", "agg-eu-2", "agg-us-1"};
    int count[3] = {0};
    for (int i = 0; i < KEYS; i++)
        count[cluster_hrw_owner(m, 3, key_at(i))]++;
    for (int j = 0; j < 3; j++) {
        /* a third each, within 5% of the total (binomial sd is ~0.5%) */
        if (count[j] < KEYS / 3 - KEYS / 20 || count[j] > KEYS / 3 + KEYS / 20)
            fail_msg("%s owns %d of %d keys", m[j], count[j], KEYS);
    }
}

static void test_adding_a_member_moves_only_its_share(void **state)
{
    (void)state;
    const char *four[] = {"agg-1", "agg-2", "agg-3", "agg-4"};
    int moved = 0;
    for (int i = 0; i < KEYS; i++) {
        int before = cluster_hrw_owner(four, 3, key_at(i)), after = cluster_hrw_owner(four, 4, key_at(i));
        if (before != after) {
            assert_int_equal(after, 3); /* a moved key moved to the new member */
            moved++;
        }
    }
    if (moved < KEYS / 4 - KEYS / 20 || moved > KEYS / 4 + KEYS / 20)
        fail_msg("%d of %d keys moved to the fourth member, expected about a quarter", moved, KEYS);
}

static void test_removing_a_member_moves_only_its_keys(void **state)
{
    (void)state;
    const char *all[] = {"agg-1", "agg-2", "agg-3"}, *left[] = {"agg-1", "agg-3"};
    for (int i = 0; i < KEYS; i++) {
        const char *before = all[cluster_hrw_owner(all, 3, key_at(i))];
        const char *after = left[cluster_hrw_owner(left, 2, key_at(i))];
        if (strcmp(before, "agg-2") != 0)
            assert_string_equal(before, after); /* keys of the survivors stay */
    }
}

static void test_heir_becomes_owner_when_the_owner_leaves(void **state)
{
    (void)state;
    const char *all[] = {"agg-1", "agg-2", "agg-3", "agg-4"};
    assert_int_equal(cluster_hrw_heir(all, 1, 7), -1);
    for (int i = 0; i < 1000; i++) {
        uint64_t key = key_at(i);
        int owner = cluster_hrw_owner(all, 4, key), heir = cluster_hrw_heir(all, 4, key);
        assert_true(heir >= 0 && heir != owner);
        const char *rest[3];
        for (int j = 0, k = 0; j < 4; j++)
            if (j != owner)
                rest[k++] = all[j];
        assert_string_equal(rest[cluster_hrw_owner(rest, 3, key)], all[heir]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_does_not_depend_on_member_order),
        cmocka_unit_test(test_three_members_share_keys_evenly),
        cmocka_unit_test(test_adding_a_member_moves_only_its_share),
        cmocka_unit_test(test_removing_a_member_moves_only_its_keys),
        cmocka_unit_test(test_heir_becomes_owner_when_the_owner_leaves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
