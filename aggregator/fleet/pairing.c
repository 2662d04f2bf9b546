/*
 * pairing.c — see pairing.h.
 */
#include "pairing.h"

#include <stdbool.h>
#include <string.h>

static bool pairing_eq(const char *a, const char *b)
{
    return a && b && a[0] && strcmp(a, b) == 0;
}

/* The one row whose field (chosen by which) equals value; NULL when none or
 * several. */
static const Pgvigil__Standby *pairing_unique(const Pgvigil__PrimaryReplication *pr, int which,
                                              const char *value)
{
    const Pgvigil__Standby *found = NULL;
    for (size_t i = 0; i < pr->n_standbys; i++) {
        const Pgvigil__Standby *sb = pr->standbys[i];
        const char *v = which == 0 ? sb->slot_name : which == 1 ? sb->client_addr : sb->application_name;
        if (!pairing_eq(v, value))
            continue;
        if (found)
            return NULL;
        found = sb;
    }
    return found;
}

/* The replica's WAL receiver streams from the primary's address and port. */
static bool pairing_streams_from(const Pgvigil__Sample *primary, const Pgvigil__ReplicaReplication *rr)
{
    return rr && rr->has_upstream_port && primary->has_server_port && rr->upstream_port == primary->server_port &&
           pairing_eq(rr->upstream_host, primary->server_address);
}

const Pgvigil__Standby *pairing_standby(const Pgvigil__Sample *primary, const Pgvigil__Sample *replica,
                                        const char *node, pairing_how_t *how)
{
    const Pgvigil__PrimaryReplication *pr = primary ? primary->primary_replication : NULL;
    const Pgvigil__ReplicaReplication *rr = replica ? replica->replica_replication : NULL;
    const Pgvigil__Standby *sb = NULL;
    *how = PAIRING_NONE;
    if (!pr)
        return NULL;
    if (rr && (sb = pairing_unique(pr, 0, rr->slot_name)))
        *how = PAIRING_SLOT;
    else if (pairing_streams_from(primary, rr) && (sb = pairing_unique(pr, 1, replica->server_address)))
        *how = PAIRING_ADDRESS;
    else if ((sb = pairing_unique(pr, 2, node)))
        *how = PAIRING_APPLICATION_NAME;
    return sb;
}

const char *pairing_how_name(pairing_how_t how)
{
    switch (how) {
    case PAIRING_SLOT:
        return "slot";
    case PAIRING_ADDRESS:
        return "address";
    case PAIRING_APPLICATION_NAME:
        return "application_name";
    default:
        return NULL;
    }
}
