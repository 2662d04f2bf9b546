/*
 * pairing.h — which of a primary's pg_stat_replication rows is a given
 * replica node. Pure: reads two samples, no fleet state.
 *
 * The primary knows its standbys by WAL sender; the replica knows its WAL
 * receiver. Nothing names both, so they are paired by what each side can
 * see, most specific first:
 *   1. the replication slot: the row's slot (pg_replication_slots.active_pid
 *      = the sender's pid) is the replica's primary_slot_name;
 *   2. the address: the row's client_addr is the replica's server address,
 *      only one row comes from that address, and the replica's WAL receiver
 *      streams from this primary's address and port;
 *   3. the application_name equals the node's name, in one row only.
 * Replicas made with pg_basebackup -R all call themselves "walreceiver",
 * so 3 alone pairs none of them; 1 and 2 do.
 */
#ifndef PGVIGIL_PAIRING_H
#define PGVIGIL_PAIRING_H

#include "pgvigil.pb-c.h"

typedef enum {
    PAIRING_NONE = 0,
    PAIRING_SLOT,
    PAIRING_ADDRESS,
    PAIRING_APPLICATION_NAME,
} pairing_how_t;

/* The primary's row for the replica node named node, or NULL; *how says by
 * what (PAIRING_NONE when NULL). primary and replica are the latest samples. */
const Pgvigil__Standby *pairing_standby(const Pgvigil__Sample *primary, const Pgvigil__Sample *replica,
                                        const char *node, pairing_how_t *how);
/* "slot", "address", "application_name"; NULL for PAIRING_NONE. */
const char *pairing_how_name(pairing_how_t how);

#endif
