/*
 * cluster_hrw.h — rendezvous (highest random weight) hashing: which live
 * aggregator owns a PostgreSQL cluster.
 *
 * The key is the cluster's system identifier, so a primary and its replicas
 * (one system identifier) always land on the same aggregator. Each member
 * scores every key with a hash of (member name, key); the highest score wins.
 * Adding a member moves to it only the keys it now wins; removing one moves
 * only the keys it held, each to its runner-up. Pure functions: every
 * aggregator computes the same answer from the same member list, whatever
 * its order.
 */
#ifndef PGVIGIL_CLUSTER_HRW_H
#define PGVIGIL_CLUSTER_HRW_H

#include <stddef.h>
#include <stdint.h>

/* The score of member for key (deterministic across processes and hosts). */
uint64_t cluster_hrw_score(const char *member, uint64_t key);

/* Index in members[0..count) of the owner of key, or -1 when count is 0.
 * Ties (practically impossible) go to the smaller name, so the answer does
 * not depend on the order of members. */
int cluster_hrw_owner(const char *const *members, size_t count, uint64_t key);

/* Index of the heir of key: the runner-up, who owns it once the owner is
 * gone (-1 with fewer than two members). */
int cluster_hrw_heir(const char *const *members, size_t count, uint64_t key);

#endif
