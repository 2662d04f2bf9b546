/*
 * test_ingest.c — decoding and validation of what collectors send
 * (aggregator/ingest/ingest.c): every reject reason, and a valid sample accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest.h"
#include "pbarena.h"

static void valid(Pgvigil__Sample *s)
{
    pgvigil__sample__init(s);
    s->has_format_version = 1;
    s->format_version = 1;
    s->node = "db-1";
    s->region = "eu";
    s->has_collected_at_us = 1;
    s->collected_at_us = 1795000000000000;
    s->has_sequence = 1;
    s->sequence = 7;
    s->has_up = 1;
    s->up = 1;
    s->has_system_identifier = 1;
    s->system_identifier = 7301234567890123456ull;
    s->has_role = 1;
    s->role = PGVIGIL__ROLE__ROLE_REPLICA;
    s->has_interval_ms = 1;
    s->interval_ms = 1000;
}

static size_t envelope(const char *node, uint8_t *buf)
{
    envelope_t e = {.version = ENVELOPE_VERSION, .type = ENVELOPE_SAMPLE};
    snprintf(e.node, sizeof e.node, "%s", node);
    return envelope_encode(&e, buf, ENVELOPE_MAX_BYTES);
}

static ingest_reject_t decode(const Pgvigil__Sample *s, const char *env_node)
{
    uint8_t env[ENVELOPE_MAX_BYTES], body[4096];
    size_t elen = envelope(env_node, env);
    size_t blen = pgvigil__sample__pack(s, body);
    envelope_t out;
    ingest_reject_t why = INGEST_REASON_COUNT;
    Pgvigil__Sample *u = ingest_decode(env, elen, body, blen, &out, &why);
    if (u) {
        assert_int_equal(why, INGEST_OK);
        assert_string_equal(u->node, s->node);
        pbarena_free(&u->base);
    }
    return why;
}

static void test_valid_sample(void **state)
{
    (void)state;
    Pgvigil__Sample s;
    valid(&s);
    assert_int_equal(decode(&s, "db-1"), INGEST_OK);
    s.up = 0; /* a down sample needs no identity */
    s.has_system_identifier = 0;
    s.role = PGVIGIL__ROLE__ROLE_UNKNOWN;
    assert_int_equal(decode(&s, "db-1"), INGEST_OK);
}

static void test_invalid_fields(void **state)
{
    (void)state;
    Pgvigil__Sample s;
    char why[128];
    valid(&s); s.format_version = 2;
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    assert_non_null(strstr(why, "format_version"));
    valid(&s); s.node = "bad name";
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    valid(&s); s.region = "";
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    valid(&s); s.collected_at_us = 12;
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    assert_non_null(strstr(why, "collected_at_us"));
    valid(&s); s.sequence = 0;
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    valid(&s); s.has_up = 0;
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    valid(&s); s.system_identifier = 0; /* up without identity */
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    valid(&s); s.role = (Pgvigil__Role)9;
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    valid(&s); s.interval_ms = 0;
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    valid(&s);
    Pgvigil__PrimaryReplication pr = PGVIGIL__PRIMARY_REPLICATION__INIT;
    pr.n_standbys = 5000;
    pr.standbys = calloc(5000, sizeof *pr.standbys);
    s.primary_replication = &pr;
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    free(pr.standbys);
    valid(&s);
    char *long_text = malloc(5000);
    memset(long_text, 'x', 4999);
    long_text[4999] = '\0';
    s.error = long_text;
    assert_int_equal(ingest_validate(&s, why, sizeof why), -1);
    free(long_text);
}

static void test_reject_reasons(void **state)
{
    (void)state;
    Pgvigil__Sample s;
    valid(&s);
    assert_int_equal(decode(&s, "db-2"), INGEST_NAME_MISMATCH);
    s.sequence = 0;
    assert_int_equal(decode(&s, "db-1"), INGEST_INVALID);

    envelope_t out;
    ingest_reject_t why;
    uint8_t env[ENVELOPE_MAX_BYTES];
    size_t elen = envelope("db-1", env);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    assert_null(ingest_decode(env, elen, junk, sizeof junk, &out, &why));
    assert_int_equal(why, INGEST_BAD_BODY);
    assert_null(ingest_decode((const uint8_t *)"XX", 2, junk, sizeof junk, &out, &why));
    assert_int_equal(why, INGEST_BAD_ENVELOPE);
    assert_null(ingest_decode(env, elen, junk, ENVELOPE_BODY_MAX_BYTES + 1, &out, &why));
    assert_int_equal(why, INGEST_OVERSIZED);
    env[3] = ENVELOPE_COMMAND_RESULT;
    assert_null(ingest_decode(env, elen, junk, sizeof junk, &out, &why));
    assert_int_equal(why, INGEST_BAD_FRAMES);
    assert_string_equal(ingest_reject_name(INGEST_BAD_BODY), "bad_body");
    assert_string_equal(ingest_reject_name(INGEST_REASON_COUNT), "unknown");
}

/* The poison sample of issue 14: one non-UTF-8 byte in region (or in any
 * string at any depth) is refused before it can reach COPY. */
static void test_text_is_utf8_at_every_depth(void **state)
{
    (void)state;
    Pgvigil__Sample s;
    valid(&s);
    s.region = "eu-\xff";
    assert_int_equal(decode(&s, "db-1"), INGEST_BAD_TEXT);
    valid(&s);
    s.region = "eu/../x";
    assert_int_equal(decode(&s, "db-1"), INGEST_BAD_TEXT);
    valid(&s);
    s.up = 0;
    s.error = "FATAL:  la base de donn\xe9" "es n'existe pas"; /* LATIN1 */
    assert_int_equal(decode(&s, "db-1"), INGEST_BAD_TEXT);
    s.error = "FATAL:  la base de donn\xc3\xa9" "es n'existe pas"; /* the same in UTF-8 */
    assert_int_equal(decode(&s, "db-1"), INGEST_OK);
    s.error = "bell \x07";
    assert_int_equal(decode(&s, "db-1"), INGEST_BAD_TEXT);
    s.error = "overlong \xc0\xaf";
    assert_int_equal(decode(&s, "db-1"), INGEST_BAD_TEXT);
    s.error = "surrogate \xed\xa0\x80";
    assert_int_equal(decode(&s, "db-1"), INGEST_BAD_TEXT);
    s.error = "cut \xe2\x82";
    assert_int_equal(decode(&s, "db-1"), INGEST_BAD_TEXT);
    s.error = NULL;

    Pgvigil__Tables tables = PGVIGIL__TABLES__INIT;
    Pgvigil__TableStats t = PGVIGIL__TABLE_STATS__INIT, *tp[1] = {&t};
    t.database = "app";
    t.schema = "public";
    t.table = "orders\x80";
    tables.tables = tp;
    tables.n_tables = 1;
    s.tables = &tables;
    char why[128] = "";
    assert_int_equal(ingest_validate_text(&s, why, sizeof why), -1);
    assert_non_null(strstr(why, "tables.table"));
    t.table = "orders";
    assert_int_equal(ingest_validate_text(&s, why, sizeof why), 0);
}

static void test_hostile_node_names(void **state)
{
    (void)state;
    Pgvigil__Sample s;
    valid(&s);
    const char *bad[] = {"..", ".", ".hidden", "a..b", "-x", "db/1", "db 1", "db\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s.node = (char *)bad[i];
        assert_int_not_equal(decode(&s, "db-1"), INGEST_OK);
        assert_false(envelope_node_name_valid(bad[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_sample),
        cmocka_unit_test(test_invalid_fields),
        cmocka_unit_test(test_reject_reasons),
        cmocka_unit_test(test_text_is_utf8_at_every_depth),
        cmocka_unit_test(test_hostile_node_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
