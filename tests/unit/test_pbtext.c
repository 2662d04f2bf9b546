/*
 * test_pbtext.c — UTF-8 checks and repair (common/pbtext.c): what a
 * LATIN1-localized server's error text becomes before a collector sends it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pbtext.h"
#include "pgvigil.pb-c.h"

static void test_check_str(void **state)
{
    (void)state;
    const char *good[] = {"", "plain", "tab\there\nnewline", "caf\xc3\xa9", "\xe2\x82\xac",
                          "\xf0\x9f\x98\x80"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(pbtext_check_str(good[i], strlen(good[i])), PBTEXT_OK);
    const char *bad[] = {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xe2\x82", "\xc3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(pbtext_check_str(bad[i], strlen(bad[i])), PBTEXT_BAD_UTF8);
    assert_int_equal(pbtext_check_str("a\x01", 2), PBTEXT_CONTROL);
    assert_int_equal(pbtext_check_str("a\x7f", 2), PBTEXT_CONTROL);
    assert_int_equal(pbtext_check_str("\xc2\x85", 2), PBTEXT_CONTROL); /* C1 NEL */
}

static void test_latin1_becomes_utf8(void **state)
{
    (void)state;
    char *s = pbtext_to_utf8("FATAL:  la base de donn\xe9" "es \xab x \xbb n'existe pas", 1000);
    assert_string_equal(s, "FATAL:  la base de donn\xc3\xa9" "es \xc2\xab x \xc2\xbb n'existe pas");
    assert_int_equal(pbtext_check_str(s, strlen(s)), PBTEXT_OK);
    free(s);
    s = pbtext_to_utf8("ok caf\xc3\xa9 then \x85 and \x01", 1000); /* valid kept, controls '?' */
    assert_string_equal(s, "ok caf\xc3\xa9 then ? and ?");
    free(s);
    s = pbtext_to_utf8("\xe9\xe9\xe9", 3); /* cut on a character boundary */
    assert_string_equal(s, "\xc3\xa9");
    free(s);
}

static void test_repair_message(void **state)
{
    (void)state;
    Pgvigil__Sample *s = calloc(1, sizeof *s);
    pgvigil__sample__init(s);
    s->node = strdup("db-1");
    s->error = strdup("connexion refus\xe9" "e");
    s->n_section_errors = 1;
    s->section_errors = calloc(1, sizeof *s->section_errors);
    s->section_errors[0] = calloc(1, sizeof **s->section_errors);
    pgvigil__section_error__init(s->section_errors[0]);
    s->section_errors[0]->message = strdup("relation \xab t \xbb");
    char where[64];
    assert_int_equal(pbtext_check_message(&s->base, 100, where, sizeof where), PBTEXT_BAD_UTF8);
    assert_string_equal(where, "error");
    assert_int_equal(pbtext_repair_message(&s->base, 100), 2);
    assert_int_equal(pbtext_check_message(&s->base, 100, where, sizeof where), PBTEXT_OK);
    assert_string_equal(s->error, "connexion refus\xc3\xa9" "e");
    assert_string_equal(s->node, "db-1");
    pgvigil__sample__free_unpacked(s, NULL);
}

/* A bad string inside a nested message is named by its path, outermost
 * first, and a path longer than the buffer is cut, never overflowing. */
static void test_nested_path(void **state)
{
    (void)state;
    Pgvigil__Sample *s = calloc(1, sizeof *s);
    pgvigil__sample__init(s);
    s->node = strdup("db-1");
    s->n_section_errors = 2;
    s->section_errors = calloc(2, sizeof *s->section_errors);
    for (int i = 0; i < 2; i++) {
        s->section_errors[i] = calloc(1, sizeof **s->section_errors);
        pgvigil__section_error__init(s->section_errors[i]);
        s->section_errors[i]->message = strdup(i ? "bad \xff" : "fine");
    }
    char where[64], tiny[8];
    assert_int_equal(pbtext_check_message(&s->base, 100, where, sizeof where), PBTEXT_BAD_UTF8);
    assert_string_equal(where, "section_errors.message");
    memset(tiny, 'x', sizeof tiny);
    assert_int_equal(pbtext_check_message(&s->base, 100, tiny, sizeof tiny), PBTEXT_BAD_UTF8);
    assert_string_equal(tiny, "section");
    pgvigil__sample__free_unpacked(s, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_str),
        cmocka_unit_test(test_latin1_becomes_utf8),
        cmocka_unit_test(test_repair_message),
        cmocka_unit_test(test_nested_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
