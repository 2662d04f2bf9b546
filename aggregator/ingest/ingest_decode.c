/*
 * ingest_decode.c — what ingest checks before it believes a message (see
 * ingest.h): the envelope, the body's size, the protobuf, ranges and
 * required fields, and the text of every string. Pure functions, so the
 * fuzz target and the unit tests exercise exactly what the socket sees.
 */
#include "ingest.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pbarena.h"
#include "pbtext.h"

#define INGEST_STR_MAX 4096
#define INGEST_LIST_MAX 100000

const char *ingest_reject_name(ingest_reject_t why)
{
    static const char *const names[] = {"ok", "bad_frames", "bad_envelope", "oversized",
                                        "bad_body", "invalid", "name_mismatch", "bad_text",
                                        "key_not_allowed", "sequence_jump"};
    return (unsigned)why < INGEST_REASON_COUNT ? names[why] : "unknown";
}

static bool ingest_str_ok(const char *s) { return !s || strnlen(s, INGEST_STR_MAX + 1) <= INGEST_STR_MAX; }

static int ingest_fail(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return -1;
}

/* Sections that carry lists: bounded so one sample cannot exhaust memory. */
static int ingest_validate_sections(const Pgvigil__Sample *s, char *why, size_t len)
{
    if (s->primary_replication && s->primary_replication->n_standbys > 1000)
        return ingest_fail(why, len, "too many standbys");
    if (s->replication_slots && s->replication_slots->n_slots > 10000)
        return ingest_fail(why, len, "too many replication slots");
    if ((s->databases && s->databases->n_databases > INGEST_LIST_MAX) ||
        (s->tables && s->tables->n_tables > INGEST_LIST_MAX) ||
        (s->indexes && s->indexes->n_indexes > INGEST_LIST_MAX) ||
        (s->statements && s->statements->n_statements > INGEST_LIST_MAX))
        return ingest_fail(why, len, "a section list is too long");
    if (s->replica_replication && !ingest_str_ok(s->replica_replication->wal_receiver_status))
        return ingest_fail(why, len, "wal_receiver_status is too long");
    if (s->primary_replication)
        for (size_t i = 0; i < s->primary_replication->n_standbys; i++)
            if (!ingest_str_ok(s->primary_replication->standbys[i]->application_name))
                return ingest_fail(why, len, "standby application_name is too long");
    return 0;
}

int ingest_validate(const Pgvigil__Sample *s, char *why, size_t len)
{
    static const int64_t year2000 = 946684800LL * 1000000, year2100 = 4102444800LL * 1000000;
    if (!s->has_format_version || s->format_version != 1)
        return ingest_fail(why, len, "format_version is not 1");
    if (!envelope_node_name_valid(s->node))
        return ingest_fail(why, len, "node name is missing or invalid");
    if (!s->region || !s->region[0] || strlen(s->region) > 63)
        return ingest_fail(why, len, "region is missing or longer than 63 characters");
    if (!s->has_collected_at_us || s->collected_at_us < year2000 || s->collected_at_us > year2100)
        return ingest_fail(why, len, "collected_at_us is missing or out of range");
    if (!s->has_sequence || s->sequence == 0)
        return ingest_fail(why, len, "sequence is missing or zero");
    if (!s->has_up)
        return ingest_fail(why, len, "up is missing");
    if (s->has_role && s->role != PGVIGIL__ROLE__ROLE_UNKNOWN && s->role != PGVIGIL__ROLE__ROLE_PRIMARY &&
        s->role != PGVIGIL__ROLE__ROLE_REPLICA)
        return ingest_fail(why, len, "role is unknown");
    if (s->up && (!s->has_system_identifier || s->system_identifier == 0 || !s->has_role ||
                  s->role == PGVIGIL__ROLE__ROLE_UNKNOWN))
        return ingest_fail(why, len, "an up sample needs a system identifier and a role");
    if (!s->has_interval_ms || s->interval_ms < 10 || s->interval_ms > 3600000)
        return ingest_fail(why, len, "interval_ms is missing or out of range");
    if (!ingest_str_ok(s->error) || !ingest_str_ok(s->hostname) || !ingest_str_ok(s->collector_version))
        return ingest_fail(why, len, "a text field is too long");
    return ingest_validate_sections(s, why, len);
}

static bool ingest_region_ok(const char *r)
{
    size_t n = r ? strlen(r) : 0;
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ' '))
            return false;
    }
    return true;
}

int ingest_validate_text(const Pgvigil__Sample *s, char *why, size_t len)
{
    char where[96];
    pbtext_result_t r = pbtext_check_message(&s->base, INGEST_TEXT_MAX, where, sizeof where);
    if (r != PBTEXT_OK) {
        snprintf(why, len, "%s: %s", where, pbtext_result_name(r));
        return -1;
    }
    if (s->region && !ingest_region_ok(s->region))
        return ingest_fail(why, len, "region holds a character outside [A-Za-z0-9._ -]");
    return 0;
}

Pgvigil__Sample *ingest_decode(const uint8_t *env_buf, size_t env_len, const uint8_t *body,
                               size_t body_len, envelope_t *env, ingest_reject_t *reject)
{
    char why[128];
    if (envelope_decode(env_buf, env_len, env) != 0) {
        *reject = INGEST_BAD_ENVELOPE;
        return NULL;
    }
    if (env->type != ENVELOPE_SAMPLE) {
        *reject = INGEST_BAD_FRAMES;
        return NULL;
    }
    if (body_len > ENVELOPE_BODY_MAX_BYTES) {
        *reject = INGEST_OVERSIZED;
        return NULL;
    }
    Pgvigil__Sample *s = (Pgvigil__Sample *)pbarena_unpack(&pgvigil__sample__descriptor, body_len, body);
    if (!s) {
        *reject = INGEST_BAD_BODY;
        return NULL;
    }
    if (ingest_validate_text(s, why, sizeof why) != 0) {
        *reject = INGEST_BAD_TEXT;
        pbarena_free(&s->base);
        return NULL;
    }
    if (ingest_validate(s, why, sizeof why) != 0) {
        *reject = INGEST_INVALID;
        pbarena_free(&s->base);
        return NULL;
    }
    if (strcmp(s->node, env->node) != 0) {
        *reject = INGEST_NAME_MISMATCH;
        pbarena_free(&s->base);
        return NULL;
    }
    *reject = INGEST_OK;
    return s;
}
