/*
 * test_pairing.c — pairing a replica node with its row in the primary's
 * pg_stat_replication (aggregator/fleet/pairing.c): by slot, by a unique
 * address with the replica streaming from that primary, then by
 * application_name; replicas all named "walreceiver" (pg_basebackup -R)
 * pair by slot or address, never by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pairing.h"

static Pgvigil__Standby row(char *app, char *addr, char *slot)
{
    Pgvigil__Standby sb = PGVIGIL__STANDBY__INIT;
    sb.application_name = app;
    sb.client_addr = addr;
    sb.slot_name = slot;
    return sb;
}

static void test_pairing_order(void **state)
{
    (void)state;
    Pgvigil__Standby a = row("walreceiver", "10.0.0.2", "replica_a");
    Pgvigil__Standby b = row("walreceiver", "10.0.0.3", NULL);
    Pgvigil__Standby c = row("replica-c", "10.0.0.3", NULL);
    Pgvigil__Standby *rows[] = {&a, &b, &c};
    Pgvigil__PrimaryReplication pr = PGVIGIL__PRIMARY_REPLICATION__INIT;
    pr.standbys = rows;
    pr.n_standbys = 3;
    Pgvigil__Sample primary = PGVIGIL__SAMPLE__INIT;
    primary.primary_replication = &pr;
    primary.server_address = "10.0.0.1";
    primary.has_server_port = 1;
    primary.server_port = 5432;

    Pgvigil__ReplicaReplication rr = PGVIGIL__REPLICA_REPLICATION__INIT;
    rr.slot_name = "replica_a";
    rr.upstream_host = "10.0.0.1";
    rr.has_upstream_port = 1;
    rr.upstream_port = 5432;
    Pgvigil__Sample replica = PGVIGIL__SAMPLE__INIT;
    replica.replica_replication = &rr;
    replica.server_address = "10.0.0.2";
    pairing_how_t how;

    /* by slot, although its name says nothing */
    assert_ptr_equal(pairing_standby(&primary, &replica, "replica-a", &how), &a);
    assert_int_equal(how, PAIRING_SLOT);
    assert_string_equal(pairing_how_name(how), "slot");

    /* no slot, a unique address, streaming from this primary */
    rr.slot_name = NULL;
    assert_ptr_equal(pairing_standby(&primary, &replica, "replica-a", &how), &a);
    assert_int_equal(how, PAIRING_ADDRESS);
    /* ... but not when it streams from elsewhere (a cascading replica) */
    rr.upstream_port = 5433;
    assert_null(pairing_standby(&primary, &replica, "replica-a", &how));
    assert_int_equal(how, PAIRING_NONE);
    rr.upstream_port = 5432;

    /* an address two rows share is not evidence; the name is */
    replica.server_address = "10.0.0.3";
    assert_ptr_equal(pairing_standby(&primary, &replica, "replica-c", &how), &c);
    assert_int_equal(how, PAIRING_APPLICATION_NAME);
    /* and "walreceiver" twice pairs nothing */
    assert_null(pairing_standby(&primary, &replica, "walreceiver", &how));

    /* no primary sample, or no replication section */
    assert_null(pairing_standby(NULL, &replica, "replica-c", &how));
    primary.primary_replication = NULL;
    assert_null(pairing_standby(&primary, &replica, "replica-c", &how));
    assert_null(pairing_how_name(PAIRING_NONE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairing_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
