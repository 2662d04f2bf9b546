/*
 * diag_backup.c — the backup verification (pg_verifybackup) and restore
 * test of a node as the API shows it and the history stores it. Pure.
 */
#include "diag_internal.h"

json_t *diag_backup_json(const char *node, const Pgvigil__Backup *b)
{
    json_t *o = json_object();
    json_object_set_new(o, "node", json_string(node));
    json_object_set_new(o, "path", b->path ? json_string(b->path) : json_null());
    json_object_set_new(o, "ok", json_boolean(b->ok));
    json_object_set_new(o, "error", b->error ? json_string(b->error) : json_null());
    json_object_set_new(o, "verified_at", diag_time(b->has_verified_at_us, b->verified_at_us));
    json_object_set_new(o, "duration_ms", diag_uint(b->has_duration_ms, b->duration_ms));
    json_object_set_new(o, "backup_at", diag_time(b->has_backup_at_us, b->backup_at_us));
    json_object_set_new(o, "size_bytes", diag_uint(b->has_size_bytes, b->size_bytes));
    json_object_set_new(o, "interval_ms", diag_uint(b->has_interval_ms, b->interval_ms));
    if (b->restore) {
        const Pgvigil__RestoreTest *r = b->restore;
        json_object_set_new(o, "restore_ok", json_boolean(r->ok));
        json_object_set_new(o, "restore_error", r->error ? json_string(r->error) : json_null());
        json_object_set_new(o, "restore_finished_at", diag_time(r->has_finished_at_us, r->finished_at_us));
        json_object_set_new(o, "restore_ms", diag_uint(r->has_duration_ms, r->duration_ms));
        json_object_set_new(o, "restore_rto_ms", diag_uint(r->has_rto_ms, r->rto_ms));
        json_object_set_new(o, "restore_result", r->result ? json_string(r->result) : json_null());
    }
    return o;
}
