/*
 * alerting_test.h — shared by the alerting unit tests: a streaming replica
 * "db2" of cluster "c1" in region "eu", as the core's node view would show it.
 */
#ifndef PGVIGIL_ALERTING_TEST_H
#define PGVIGIL_ALERTING_TEST_H

#include <stdio.h>

#include "nodeview.h"
#include "pgvigil.pb-c.h"

/* Fill node, sample and rr (the sample's replica section) for that replica. */
static inline void alerting_test_replica(node_view_t *node, Pgvigil__Sample *sample,
                                         Pgvigil__ReplicaReplication *rr)
{
    pgvigil__sample__init(sample);
    pgvigil__replica_replication__init(rr);
    sample->up = true;
    sample->replica_replication = rr;
    rr->wal_receiver_status = "streaming";
    snprintf(node->name, sizeof node->name, "db2");
    snprintf(node->region, sizeof node->region, "eu");
    snprintf(node->cluster, sizeof node->cluster, "c1");
    node->cluster_id = 1;
    snprintf(node->wal_status, sizeof node->wal_status, "streaming");
    node->role = PGVIGIL__ROLE__ROLE_REPLICA;
    node->up = node->seen = true;
    node->interval_ms = 1000;
    node->latest = sample;
}

#endif
