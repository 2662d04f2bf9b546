/*
 * test_encoding.c — wire format round trips (pack, unpack, compare) with
 * every section filled, and the JSON rendering of samples (common/pbjson.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "pbjson.h"
#include "pgvigil.pb-c.h"

/* A sample built on the stack: every section present. */
typedef struct {
    Pgvigil__Sample s;
    Pgvigil__Probe probe;
    Pgvigil__Connections conn;
    Pgvigil__Locks locks;
    Pgvigil__PrimaryReplication prim;
    Pgvigil__Standby standby, *standbys[1];
    Pgvigil__ReplicaReplication rep;
    Pgvigil__ReplicationSlots slots;
    Pgvigil__ReplicationSlot slot, *slotv[1];
    Pgvigil__Databases dbs;
    Pgvigil__DatabaseStats db, *dbv[1];
    Pgvigil__Checkpointer ckpt;
    Pgvigil__Archiver arch;
    Pgvigil__Wraparound wrap;
    Pgvigil__DatabaseAge age, *agev[1];
    Pgvigil__Tables tables;
    Pgvigil__TableStats table, *tablev[1];
    Pgvigil__Indexes indexes;
    Pgvigil__IndexStats index, *indexv[1];
    Pgvigil__Statements stmts;
    Pgvigil__StatementDelta stmt, *stmtv[1];
} full_t;

#define SET(m, f, v) ((m).has_##f = 1, (m).f = (v))

static void fill(full_t *f)
{
    memset(f, 0, sizeof *f);
    pgvigil__sample__init(&f->s);
    SET(f->s, format_version, 1);
    f->s.node = "db-eu-1";
    f->s.region = "eu-west";
    SET(f->s, system_identifier, 0xF000000000000001ull); /* above 2^63 */
    SET(f->s, timeline, 3);
    SET(f->s, role, PGVIGIL__ROLE__ROLE_PRIMARY);
    SET(f->s, sequence, 42);
    SET(f->s, collected_at_us, 1795000000123456);
    SET(f->s, up, 1);
    pgvigil__probe__init(&f->probe);
    SET(f->probe, rtt_us, 850);
    f->s.probe = &f->probe;
    pgvigil__connections__init(&f->conn);
    SET(f->conn, total, 17);
    SET(f->conn, oldest_xact_age_ms, 123456789012ull);
    f->s.connections = &f->conn;
    pgvigil__locks__init(&f->locks);
    SET(f->locks, blocked_sessions, 2);
    f->s.locks = &f->locks;
    pgvigil__primary_replication__init(&f->prim);
    SET(f->prim, current_wal_lsn, 0x16B374D848ull);
    pgvigil__standby__init(&f->standby);
    f->standby.application_name = "replica-1";
    SET(f->standby, replay_lsn, 0x16B3000000ull);
    SET(f->standby, replay_lag_us, -1); /* negative survives */
    f->standbys[0] = &f->standby;
    f->prim.standbys = f->standbys;
    f->prim.n_standbys = 1;
    f->s.primary_replication = &f->prim;
    pgvigil__replica_replication__init(&f->rep);
    SET(f->rep, receive_lsn, 0xFFFFFFFFFFFFFFFFull);
    SET(f->rep, replay_paused, 1);
    f->s.replica_replication = &f->rep;
    pgvigil__replication_slots__init(&f->slots);
    pgvigil__replication_slot__init(&f->slot);
    f->slot.slot_name = "replica_1";
    SET(f->slot, retained_bytes, 1ull << 40);
    f->slotv[0] = &f->slot;
    f->slots.slots = f->slotv;
    f->slots.n_slots = 1;
    f->s.replication_slots = &f->slots;
    pgvigil__databases__init(&f->dbs);
    pgvigil__database_stats__init(&f->db);
    f->db.datname = "weddings";
    SET(f->db, xact_commit, 99);
    f->dbv[0] = &f->db;
    f->dbs.databases = f->dbv;
    f->dbs.n_databases = 1;
    f->s.databases = &f->dbs;
    pgvigil__checkpointer__init(&f->ckpt);
    SET(f->ckpt, write_time_ms, 12.5);
    f->s.checkpointer = &f->ckpt;
    pgvigil__archiver__init(&f->arch);
    SET(f->arch, failed_count, 4);
    f->s.archiver = &f->arch;
    pgvigil__wraparound__init(&f->wrap);
    pgvigil__database_age__init(&f->age);
    SET(f->age, datfrozenxid_age, 200000000);
    f->agev[0] = &f->age;
    f->wrap.databases = f->agev;
    f->wrap.n_databases = 1;
    f->s.wraparound = &f->wrap;
    pgvigil__tables__init(&f->tables);
    pgvigil__table_stats__init(&f->table);
    f->table.table = "guests";
    SET(f->table, dead_tuples, 4000);
    f->tablev[0] = &f->table;
    f->tables.tables = f->tablev;
    f->tables.n_tables = 1;
    f->s.tables = &f->tables;
    pgvigil__indexes__init(&f->indexes);
    pgvigil__index_stats__init(&f->index);
    f->index.index = "guests_pkey";
    SET(f->index, is_primary, 1);
    f->indexv[0] = &f->index;
    f->indexes.indexes = f->indexv;
    f->indexes.n_indexes = 1;
    f->s.indexes = &f->indexes;
    pgvigil__statements__init(&f->stmts);
    pgvigil__statement_delta__init(&f->stmt);
    SET(f->stmt, queryid, -4242424242424242);
    SET(f->stmt, mean_time_ms, 0.25);
    f->stmt.query = "select * from guests where id = $1";
    f->stmtv[0] = &f->stmt;
    f->stmts.statements = f->stmtv;
    f->stmts.n_statements = 1;
    f->s.statements = &f->stmts;
}

static void test_round_trip_every_section(void **state)
{
    (void)state;
    full_t f;
    fill(&f);
    size_t len = pgvigil__sample__get_packed_size(&f.s);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(pgvigil__sample__pack(&f.s, buf), len);
    Pgvigil__Sample *u = pgvigil__sample__unpack(NULL, len, buf);
    assert_non_null(u);
    assert_string_equal(u->node, "db-eu-1");
    assert_true(u->has_system_identifier && u->system_identifier == 0xF000000000000001ull);
    assert_int_equal(u->role, PGVIGIL__ROLE__ROLE_PRIMARY);
    assert_true(u->sequence == 42 && u->collected_at_us == 1795000000123456);
    assert_true(u->probe->rtt_us == 850);
    assert_true(u->connections->oldest_xact_age_ms == 123456789012ull);
    assert_false(u->connections->has_active); /* absent stays absent */
    assert_true(u->locks->blocked_sessions == 2);
    assert_true(u->primary_replication->current_wal_lsn == 0x16B374D848ull);
    assert_int_equal(u->primary_replication->n_standbys, 1);
    assert_string_equal(u->primary_replication->standbys[0]->application_name, "replica-1");
    assert_true(u->primary_replication->standbys[0]->replay_lag_us == -1);
    assert_true(u->replica_replication->receive_lsn == 0xFFFFFFFFFFFFFFFFull);
    assert_true(u->replica_replication->replay_paused);
    assert_true(u->replication_slots->slots[0]->retained_bytes == 1ull << 40);
    assert_string_equal(u->databases->databases[0]->datname, "weddings");
    assert_true(u->checkpointer->write_time_ms == 12.5);
    assert_true(u->archiver->failed_count == 4);
    assert_true(u->wraparound->databases[0]->datfrozenxid_age == 200000000);
    assert_string_equal(u->tables->tables[0]->table, "guests");
    assert_true(u->indexes->indexes[0]->is_primary);
    assert_true(u->statements->statements[0]->queryid == -4242424242424242);
    assert_string_equal(u->statements->statements[0]->query, "select * from guests where id = $1");
    /* and byte-identical when packed again */
    uint8_t *again = malloc(len);
    assert_int_equal(pgvigil__sample__pack(u, again), len);
    assert_memory_equal(buf, again, len);
    pgvigil__sample__free_unpacked(u, NULL);
    free(again);
    /* every truncation is refused or decodes without crashing */
    for (size_t cut = 0; cut < len; cut++) {
        Pgvigil__Sample *t = pgvigil__sample__unpack(NULL, cut, buf);
        if (t)
            pgvigil__sample__free_unpacked(t, NULL);
    }
    free(buf);
}

static void test_json_rendering(void **state)
{
    (void)state;
    full_t f;
    fill(&f);
    f.s.tables = NULL; /* an absent section */
    json_t *j = pbjson_from_message(&f.s.base);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "system_identifier")),
                        "17293822569102704641");
    assert_string_equal(json_string_value(json_object_get(j, "role")), "primary");
    json_t *prim = json_object_get(j, "primary_replication");
    assert_string_equal(json_string_value(json_object_get(prim, "current_wal_lsn")), "16/B374D848");
    json_t *sb = json_array_get(json_object_get(prim, "standbys"), 0);
    assert_string_equal(json_string_value(json_object_get(sb, "replay_lsn")), "16/B3000000");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "replica_replication"), "receive_lsn")),
        "FFFFFFFF/FFFFFFFF");
    assert_true(json_is_true(json_object_get(json_object_get(j, "replica_replication"), "replay_paused")));
    assert_null(json_object_get(j, "tables"));
    assert_null(json_object_get(j, "error"));
    assert_null(json_object_get(json_object_get(j, "connections"), "active"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "connections"), "total")), 17);
    assert_true(json_real_value(json_object_get(json_object_get(j, "checkpointer"), "write_time_ms")) == 12.5);
    json_t *st = json_array_get(json_object_get(json_object_get(j, "statements"), "statements"), 0);
    assert_true(json_integer_value(json_object_get(st, "queryid")) == -4242424242424242);
    json_decref(j);

    Pgvigil__Sample empty = PGVIGIL__SAMPLE__INIT;
    j = pbjson_from_message(&empty.base);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    empty.has_role = 1;
    empty.role = PGVIGIL__ROLE__ROLE_REPLICA;
    j = pbjson_from_message(&empty.base);
    assert_string_equal(json_string_value(json_object_get(j, "role")), "replica");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_section),
        cmocka_unit_test(test_json_rendering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
