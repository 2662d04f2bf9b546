/*
 * metric_table.c — the catalogue's rows and their derivations (see metric.h).
 *
 * Adding a per-node metric is adding one row here (and its derivation, a few
 * lines): /metrics, history, the history API and alert rules pick it up from
 * the row. A history slot, once given, is never reused.
 */
#include "metric.h"
#include "metric_table.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "alert.h"
#include "alert_config.h"
#include "nodeview.h"

#define ALL (ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA)
#define PRI ALERT_ROLE_PRIMARY
#define REP ALERT_ROLE_REPLICA
#define GT ALERT_OP_GT
#define LT ALERT_OP_LT
#define RULE(name, op, w, c, for_ms, roles, pf, summary) {name, op, w, c, NAN, for_ms, roles, pf, summary}
#define NO_RULE {NULL, 0, NAN, NAN, NAN, 0, 0, NAN, NULL}

/* Tables with fewer dead tuples than this do not count: a 10-row table with
 * 5 dead rows is not a problem. */
#define METRIC_DEAD_TUPLES_MIN 1000
/* Block accesses per interval below which the cache hit ratio is noise. */
#define METRIC_CACHE_ACCESSES_MIN 1000
#define METRIC_XID_SPACE 2147483648.0

#define SET(x) (*out = (x), METRIC_SET)

/* ---- liveness and ingest ---- */

static metric_result_t d_node_up(const metric_input_t *in, double *out)
{
    return in->view->stale || !in->view->seen ? METRIC_UNKNOWN : SET(in->view->up ? 1 : 0);
}

static metric_result_t d_stale(const metric_input_t *in, double *out) { return SET(in->view->stale ? 1 : 0); }
static metric_result_t d_offset(const metric_input_t *in, double *out) { return SET((double)in->view->clock_offset_us / 1e6); }
static metric_result_t d_gaps(const metric_input_t *in, double *out) { return SET((double)in->view->gaps); }
static metric_result_t d_dups(const metric_input_t *in, double *out) { return SET((double)in->view->duplicates); }
static metric_result_t d_restarts(const metric_input_t *in, double *out) { return SET((double)in->view->restarts); }

/* ---- replication (the fleet measured lag; these read its view) ---- */

static metric_result_t d_split_brain(const metric_input_t *in, double *out)
{
    return in->view->cluster_id ? SET(in->view->split_brain ? 1 : 0) : METRIC_UNKNOWN;
}

static metric_result_t d_timeline(const metric_input_t *in, double *out)
{
    return in->view->up && in->view->timeline ? SET(in->view->timeline) : METRIC_UNKNOWN;
}

static metric_result_t d_receiver_streaming(const metric_input_t *in, double *out)
{
    const struct node_view *v = in->view;
    return v->role == PGVIGIL__ROLE__ROLE_REPLICA && v->wal_status[0] ? SET(strcmp(v->wal_status, "streaming") == 0)
                                                                      : METRIC_UNKNOWN;
}

static metric_result_t d_lag_seconds(const metric_input_t *in, double *out)
{
    return in->view->has_lag ? SET(in->view->lag.seconds) : METRIC_UNKNOWN;
}

static metric_result_t d_lag_bytes(const metric_input_t *in, double *out)
{
    return in->view->has_lag ? SET((double)in->view->lag.bytes) : METRIC_UNKNOWN;
}

static metric_result_t d_receive_lag(const metric_input_t *in, double *out)
{
    return in->view->has_lag ? SET((double)in->view->lag.receive_bytes) : METRIC_UNKNOWN;
}

static bool replica_section(const metric_input_t *in)
{
    return in->view->role == PGVIGIL__ROLE__ROLE_REPLICA && in->sample->replica_replication;
}

static metric_result_t d_disconnected(const metric_input_t *in, double *out)
{
    return replica_section(in) ? SET(in->view->disconnected ? 1 : 0) : METRIC_KEEP;
}

static metric_result_t d_paused(const metric_input_t *in, double *out)
{
    return replica_section(in) ? SET(in->view->replay_paused ? 1 : 0) : METRIC_KEEP;
}

static metric_result_t d_slot_retained(const metric_input_t *in, double *out)
{
    const Pgvigil__ReplicationSlots *rs = in->sample->replication_slots;
    if (!rs)
        return METRIC_KEEP;
    uint64_t most = 0;
    for (size_t i = 0; i < rs->n_slots; i++)
        most = rs->slots[i]->retained_bytes > most ? rs->slots[i]->retained_bytes : most;
    return SET((double)most);
}

static metric_result_t d_wal_position(const metric_input_t *in, double *out)
{
    const Pgvigil__PrimaryReplication *p = in->sample->primary_replication;
    return p && p->has_current_wal_lsn ? SET((double)p->current_wal_lsn) : METRIC_KEEP;
}

static metric_result_t d_replay_position(const metric_input_t *in, double *out)
{
    const Pgvigil__ReplicaReplication *r = in->sample->replica_replication;
    return r && r->has_replay_lsn ? SET((double)r->replay_lsn) : METRIC_KEEP;
}

/* ---- sessions and locks ---- */

static metric_result_t d_probe(const metric_input_t *in, double *out)
{
    return in->sample->probe ? SET((double)in->sample->probe->rtt_us / 1000.0) : METRIC_KEEP;
}

static metric_result_t d_saturation(const metric_input_t *in, double *out)
{
    const Pgvigil__Connections *c = in->sample->connections;
    if (!c)
        return METRIC_KEEP;
    double usable = (double)c->max_connections - (double)c->superuser_reserved;
    return usable > 0 ? SET((double)c->total / usable) : METRIC_KEEP;
}

#define CONN_FIELD(fn, expr)                                                                       \
    static metric_result_t fn(const metric_input_t *in, double *out)                               \
    {                                                                                              \
        const Pgvigil__Connections *c = in->sample->connections;                                   \
        return c ? SET((double)(expr)) : METRIC_KEEP;                                              \
    }
CONN_FIELD(d_conn_total, c->total)
CONN_FIELD(d_conn_active, c->active)
CONN_FIELD(d_conn_idle_xact, c->idle_in_transaction)
CONN_FIELD(d_conn_waiting, c->waiting)
CONN_FIELD(d_idle_xact_age, c->oldest_idle_in_transaction_age_ms / 1000.0)
CONN_FIELD(d_query_age, c->oldest_query_age_ms / 1000.0)
CONN_FIELD(d_xact_age, c->oldest_xact_age_ms / 1000.0)

#define LOCK_FIELD(fn, expr)                                                                       \
    static metric_result_t fn(const metric_input_t *in, double *out)                               \
    {                                                                                              \
        const Pgvigil__Locks *l = in->sample->locks;                                               \
        return l ? SET((double)(expr)) : METRIC_KEEP;                                              \
    }
LOCK_FIELD(d_blocked, l->blocked_sessions)
LOCK_FIELD(d_lock_waits, l->lock_waits)
LOCK_FIELD(d_lock_wait_age, l->longest_wait_ms / 1000.0)

static metric_result_t d_conn_in_use(const metric_input_t *in, double *out)
{
    const Pgvigil__Connections *c = in->sample->connections;
    return c && c->has_in_use ? SET((double)c->in_use) : METRIC_KEEP;
}

/* ---- databases: one sum per counter over the sample's databases ---- */

static metric_result_t db_sum(const metric_input_t *in, size_t field, double *out)
{
    const Pgvigil__Databases *d = in->sample->databases;
    if (!d)
        return METRIC_KEEP;
    uint64_t sum = 0;
    for (size_t i = 0; i < d->n_databases; i++) {
        uint64_t v;
        memcpy(&v, (const char *)d->databases[i] + field, sizeof v);
        sum += v;
    }
    return SET((double)sum);
}

#define DB_SUM(fn, field)                                                                          \
    static metric_result_t fn(const metric_input_t *in, double *out)                               \
    {                                                                                              \
        return db_sum(in, offsetof(Pgvigil__DatabaseStats, field), out);                           \
    }
DB_SUM(d_db_size, size_bytes)
DB_SUM(d_commits, xact_commit)
DB_SUM(d_rollbacks, xact_rollback)
DB_SUM(d_blks_read, blks_read)
DB_SUM(d_blks_hit, blks_hit)
DB_SUM(d_tup_inserted, tup_inserted)
DB_SUM(d_tup_updated, tup_updated)
DB_SUM(d_tup_deleted, tup_deleted)
DB_SUM(d_temp_bytes, temp_bytes)
DB_SUM(d_deadlocks, deadlocks)

/* From this interval's block deltas (rows METRIC_BLOCKS_HIT/READ, derived
 * before this one); too few accesses keep the previous ratio. */
static metric_result_t d_cache_hit(const metric_input_t *in, double *out)
{
    const node_view_t *v = in->view;
    if (!in->sample->databases || !v->known[METRIC_BLOCKS_HIT] || !v->known[METRIC_BLOCKS_READ])
        return METRIC_KEEP;
    double hit = v->value[METRIC_BLOCKS_HIT], read = v->value[METRIC_BLOCKS_READ];
    return hit + read >= METRIC_CACHE_ACCESSES_MIN ? SET(hit / (hit + read)) : METRIC_KEEP;
}

static metric_result_t d_wraparound(const metric_input_t *in, double *out)
{
    const Pgvigil__Wraparound *w = in->sample->wraparound;
    if (!w)
        return METRIC_KEEP;
    uint64_t oldest = 0;
    for (size_t i = 0; i < w->n_databases; i++)
        oldest = w->databases[i]->datfrozenxid_age > oldest ? w->databases[i]->datfrozenxid_age : oldest;
    return SET((double)oldest / METRIC_XID_SPACE);
}

static metric_result_t d_dead_tuples(const metric_input_t *in, double *out)
{
    const Pgvigil__Tables *ts = in->sample->tables;
    if (!ts)
        return METRIC_KEEP;
    double worst = 0;
    for (size_t i = 0; i < ts->n_tables; i++) {
        const Pgvigil__TableStats *t = ts->tables[i];
        if (t->dead_tuples >= METRIC_DEAD_TUPLES_MIN) {
            double r = (double)t->dead_tuples / (double)(t->dead_tuples + t->live_tuples);
            worst = r > worst ? r : worst;
        }
    }
    return SET(worst);
}

/* ---- archiving and backups ---- */

static bool archiving(const Pgvigil__Archiver *a)
{
    return a->archive_mode && strcmp(a->archive_mode, "off") != 0;
}

static metric_result_t d_archiver_failing(const metric_input_t *in, double *out)
{
    const Pgvigil__Archiver *a = in->sample->archiver;
    if (!a)
        return METRIC_KEEP;
    return archiving(a) ? SET(a->last_failed_at_us > a->last_archived_at_us ? 1 : 0) : METRIC_UNKNOWN;
}

static metric_result_t d_rpo(const metric_input_t *in, double *out)
{
    const Pgvigil__Archiver *a = in->sample->archiver;
    if (!a)
        return METRIC_KEEP;
    if (!archiving(a))
        return METRIC_UNKNOWN;
    if (a->last_archived_at_us <= 0 || in->view->role != PGVIGIL__ROLE__ROLE_PRIMARY)
        return METRIC_KEEP;
    return SET((double)(in->now_us - a->last_archived_at_us) / 1e6);
}

static metric_result_t d_regressions(const metric_input_t *in, double *out)
{
    return in->sample->statements ? SET(in->view->query_regressions) : METRIC_KEEP;
}

static metric_result_t d_backup_failed(const metric_input_t *in, double *out)
{
    return in->sample->backup ? SET(in->sample->backup->ok ? 0 : 1) : METRIC_KEEP;
}

static metric_result_t d_backup_taken_at(const metric_input_t *in, double *out)
{
    const Pgvigil__Backup *b = in->sample->backup;
    return b && b->ok && b->has_backup_at_us ? SET((double)b->backup_at_us / 1e6) : METRIC_KEEP;
}

static metric_result_t d_backup_age(const metric_input_t *in, double *out)
{
    const node_view_t *v = in->view;
    return v->known[METRIC_BACKUP_TAKEN_AT] && v->value[METRIC_BACKUP_TAKEN_AT] > 0
               ? SET((double)in->now_us / 1e6 - v->value[METRIC_BACKUP_TAKEN_AT])
               : METRIC_KEEP;
}

static metric_result_t d_restore_failed(const metric_input_t *in, double *out)
{
    const Pgvigil__Backup *b = in->sample->backup;
    return b && b->restore ? SET(b->restore->ok ? 0 : 1) : METRIC_KEEP;
}

static metric_result_t d_restore_rto(const metric_input_t *in, double *out)
{
    const Pgvigil__Backup *b = in->sample->backup;
    if (!b || !b->restore || !b->restore->ok || !b->restore->rto_ms)
        return METRIC_KEEP;
    return SET((double)b->restore->duration_ms / b->restore->rto_ms);
}

/* The rows. Order: the metric_id_t rows first (a derivation may read rows
 * above it), then rows named by the table only. */
const metric_t metric_table[] = {
    [METRIC_NODE_UP] = {"node_up", "bool", "1 when the node's last sample reached its server and is fresh",
        METRIC_FAST, METRIC_BOOL, METRIC_F_PROM | METRIC_F_CLOCK | METRIC_F_REPORTING | METRIC_F_PROM_ZERO |
        METRIC_F_PROM_NODE, 1, NULL, d_node_up, RULE("node_down", LT, NAN, 1, 0, ALL, NAN, "{node} is down")},
    [METRIC_COLLECTOR_STALE] = {"collector_stale", "bool", "1 when the node's collector has been silent for too long",
        METRIC_NODE, METRIC_BOOL, METRIC_F_PROM | METRIC_F_CLOCK | METRIC_F_ALWAYS, 0, "pgvigil_node_stale",
        d_stale, RULE("collector_stale", GT, 0.5, NAN, 0, ALL, NAN, "the collector of {node} stopped reporting")},
    [METRIC_LAG_SECONDS] = {"replication_lag_seconds", "s", "Time since the primary first wrote beyond the replica's replay position",
        METRIC_FAST, METRIC_GAUGE, METRIC_F_PROM | METRIC_F_CLOCK, 2, NULL, d_lag_seconds,
        RULE("replication_lag", GT, 5, 30, 10000, REP, NAN, "{node} replays {value} s behind its primary")},
    [METRIC_LAG_BYTES] = {"replication_lag_bytes", "bytes", "Primary WAL position minus replica replay position",
        METRIC_FAST, METRIC_GAUGE, METRIC_F_PROM | METRIC_F_CLOCK, 3, NULL, d_lag_bytes,
        RULE("replication_lag_bytes", GT, 64.0 * 1048576, 1024.0 * 1048576, 30000, REP, NAN,
             "{node} is {value} bytes of WAL behind its primary")},
    [METRIC_REPLICA_DISCONNECTED] = {"replica_disconnected", "bool", "1 when the replica's WAL receiver is not streaming",
        METRIC_FAST, METRIC_BOOL, 0, 0, NULL, d_disconnected,
        RULE("replica_disconnected", GT, NAN, 0.5, 5000, REP, NAN, "{node} does not stream from its upstream")},
    [METRIC_REPLAY_PAUSED] = {"replay_paused", "bool", "1 when WAL replay is paused on the replica",
        METRIC_FAST, METRIC_BOOL, METRIC_F_PROM, 0, "pgvigil_replication_replay_paused", d_paused,
        RULE("replay_paused", GT, 0.5, NAN, 60000, REP, NAN, "WAL replay on {node} is paused")},
    [METRIC_SLOT_RETAINED_BYTES] = {"slot_retained_bytes", "bytes", "WAL retained by the node's most demanding replication slot",
        METRIC_SLOW, METRIC_GAUGE, METRIC_F_PROM, 4, NULL, d_slot_retained,
        RULE("slot_retaining_wal", GT, 1024.0 * 1048576, 10240.0 * 1048576, 60000, ALL, NAN,
             "a replication slot on {node} retains {value} bytes of WAL")},
    [METRIC_CONNECTION_SATURATION] = {"connection_saturation", "ratio", "Client backends over the connections non-superusers may open",
        METRIC_FAST, METRIC_RATIO, METRIC_F_PROM | METRIC_F_PRESSURE, 5, NULL, d_saturation,
        RULE("connection_saturation", GT, 0.8, 0.95, 30000, ALL, 1, "{node} uses {value} of its connections")},
    [METRIC_IDLE_IN_TRANSACTION_SECONDS] = {"idle_in_transaction_seconds", "s", "Age of the oldest idle-in-transaction session",
        METRIC_FAST, METRIC_GAUGE, METRIC_F_PROM, 6, NULL, d_idle_xact_age,
        RULE("idle_in_transaction", GT, 300, 1800, 0, ALL, NAN, "a session on {node} is idle in transaction for {value} s")},
    [METRIC_LONG_QUERY_SECONDS] = {"long_running_query_seconds", "s", "Age of the oldest running query",
        METRIC_FAST, METRIC_GAUGE, METRIC_F_PROM, 7, NULL, d_query_age,
        RULE("long_running_query", GT, 600, 3600, 0, ALL, NAN, "a query on {node} runs for {value} s")},
    [METRIC_BLOCKED_SESSIONS] = {"blocked_sessions", "sessions", "Sessions waiting for a lock another session holds",
        METRIC_FAST, METRIC_GAUGE, METRIC_F_PROM | METRIC_F_PRESSURE, 8, NULL, d_blocked,
        RULE("blocked_sessions", GT, 5, 20, 30000, ALL, NAN, "{value} sessions on {node} wait for locks")},
    [METRIC_DEADLOCKS] = {"deadlocks", "per interval", "Deadlocks detected since the previous database sample",
        METRIC_SLOW, METRIC_DELTA, 0, 0, NULL, d_deadlocks,
        RULE("deadlocks", GT, 0.5, NAN, 0, ALL, 1, "{value} deadlocks on {node} in the last interval")},
    [METRIC_CACHE_HIT_RATIO] = {"cache_hit_ratio", "ratio", "Buffer cache hits over block accesses in the last interval",
        METRIC_SLOW, METRIC_RATIO, METRIC_F_PROM | METRIC_F_PRESSURE, 9, NULL, d_cache_hit,
        RULE("cache_hit_ratio", LT, 0.9, 0.8, 300000, ALL, 1, "the buffer cache hit ratio of {node} is {value}")},
    [METRIC_XID_WRAPAROUND_RATIO] = {"xid_wraparound_ratio", "ratio", "Age of the oldest datfrozenxid over the transaction-ID space",
        METRIC_SLOW, METRIC_RATIO, METRIC_F_PROM | METRIC_F_PRESSURE, 10, NULL, d_wraparound,
        RULE("xid_wraparound", GT, 0.5, 0.75, 0, PRI, 1,
             "the oldest database on {node} is at {value} of the transaction-ID space")},
    [METRIC_DEAD_TUPLE_RATIO] = {"dead_tuple_ratio", "ratio", "Worst dead-tuple ratio of a table with at least 1000 dead tuples",
        METRIC_STATS, METRIC_RATIO, METRIC_F_PROM, 11, NULL, d_dead_tuples,
        RULE("dead_tuples", GT, 0.2, 0.5, 600000, PRI, 1, "a table on {node} has a dead-tuple ratio of {value}")},
    [METRIC_ARCHIVER_FAILING] = {"archiver_failing", "bool", "1 when the last WAL archiving attempt failed",
        METRIC_SLOW, METRIC_BOOL, METRIC_F_PROM, 0, NULL, d_archiver_failing,
        RULE("archiver_failing", GT, NAN, 0.5, 60000, PRI, NAN, "WAL archiving on {node} fails")},
    [METRIC_RPO_SECONDS] = {"rpo_seconds", "s", "Time since the last WAL segment was archived",
        METRIC_SLOW, METRIC_GAUGE, METRIC_F_PROM | METRIC_F_CLOCK, 12, NULL, d_rpo,
        RULE("rpo_exceeded", GT, NAN, 900, 0, PRI, 1, "the last WAL segment of {node} was archived {value} s ago")},
    [METRIC_PROBE_LATENCY_MS] = {"probe_latency_ms", "ms", "Round trip of a trivial query on the node",
        METRIC_FAST, METRIC_GAUGE, METRIC_F_PROM, 13, NULL, d_probe,
        RULE("probe_latency", GT, 100, 1000, 30000, ALL, NAN, "a trivial query on {node} takes {value} ms")},
    [METRIC_QUERY_REGRESSIONS] = {"query_regressions", "statements", "Statements much slower than their baseline",
        METRIC_STATS, METRIC_GAUGE, METRIC_F_PROM, 0, NULL, d_regressions,
        RULE("query_regression", GT, 0.5, NAN, 0, ALL, NAN,
             "{value} statements on {node} run much slower than their baseline")},
    [METRIC_BACKUP_FAILED] = {"backup_verification_failed", "bool", "1 when the newest base backup fails pg_verifybackup",
        METRIC_STATS, METRIC_BOOL, METRIC_F_PROM, 0, NULL, d_backup_failed,
        RULE("backup_verification_failed", GT, NAN, 0.5, 0, ALL, NAN, "the newest base backup of {node} fails pg_verifybackup")},
    [METRIC_BACKUP_AGE_SECONDS] = {"backup_age_seconds", "s", "Age of the newest verified base backup",
        METRIC_STATS, METRIC_GAUGE, METRIC_F_PROM | METRIC_F_CLOCK, 0, NULL, d_backup_age,
        RULE("backup_overdue", GT, 26 * 3600, 50 * 3600, 0, ALL, 1, "the newest verified base backup of {node} is {value} s old")},
    [METRIC_RESTORE_FAILED] = {"restore_test_failed", "bool", "1 when the restore test of the newest backup failed",
        METRIC_STATS, METRIC_BOOL, METRIC_F_PROM, 0, NULL, d_restore_failed,
        RULE("restore_test_failed", GT, NAN, 0.5, 0, ALL, NAN, "the restore test of {node}'s newest backup failed")},
    [METRIC_RESTORE_RTO_RATIO] = {"restore_rto_ratio", "ratio", "Restore test duration over the recovery time objective",
        METRIC_STATS, METRIC_RATIO, METRIC_F_PROM, 0, NULL, d_restore_rto,
        RULE("restore_rto_exceeded", GT, 0.8, 1, 0, ALL, 1, "restoring {node}'s newest backup takes {value} of the RTO")},
    [METRIC_BLOCKS_HIT] = {"blocks_hit", "blocks per interval", "Buffer cache hits since the previous database sample",
        METRIC_SLOW, METRIC_DELTA, 0, 0, NULL, d_blks_hit, NO_RULE},
    [METRIC_BLOCKS_READ] = {"blocks_read", "blocks per interval", "Blocks read from disk since the previous database sample",
        METRIC_SLOW, METRIC_DELTA, 0, 0, NULL, d_blks_read, NO_RULE},
    [METRIC_BACKUP_TAKEN_AT] = {"backup_taken_at", "unix s", "Start of the newest verified base backup",
        METRIC_STATS, METRIC_GAUGE, METRIC_F_ALWAYS, 0, NULL, d_backup_taken_at, NO_RULE},
    /* Named by the table only. */
    {"replication_receive_lag_bytes", "bytes", "Primary WAL position minus replica receive position",
     METRIC_FAST, METRIC_GAUGE, METRIC_F_PROM | METRIC_F_CLOCK, 14, NULL, d_receive_lag, NO_RULE},
    {"collector_clock_offset_seconds", "s", "Collector clock minus aggregator clock",
     METRIC_NODE, METRIC_GAUGE, METRIC_F_PROM | METRIC_F_ALWAYS, 0, NULL, d_offset, NO_RULE},
    {"collector_sequence_gaps_total", "samples", "Samples missing from a collector's sequence",
     METRIC_NODE, METRIC_TOTAL, METRIC_F_PROM | METRIC_F_ALWAYS, 0, NULL, d_gaps, NO_RULE},
    {"collector_sequence_duplicates_total", "samples", "Samples received twice and dropped",
     METRIC_NODE, METRIC_TOTAL, METRIC_F_PROM | METRIC_F_ALWAYS, 0, NULL, d_dups, NO_RULE},
    {"collector_restarts_total", "restarts", "Collector process restarts seen",
     METRIC_NODE, METRIC_TOTAL, METRIC_F_PROM | METRIC_F_ALWAYS, 0, NULL, d_restarts, NO_RULE},
    {"connections_total", "sessions", "Client backends", METRIC_FAST, METRIC_GAUGE, METRIC_F_PROM, 15, NULL,
     d_conn_total, NO_RULE},
    {"connections_active", "sessions", "Client backends running a query", METRIC_FAST, METRIC_GAUGE, 0, 16, NULL,
     d_conn_active, NO_RULE},
    {"connections_idle_in_transaction", "sessions", "Client backends idle in a transaction", METRIC_FAST,
     METRIC_GAUGE, 0, 17, NULL, d_conn_idle_xact, NO_RULE},
    {"connections_waiting", "sessions", "Client backends waiting for a lock", METRIC_FAST, METRIC_GAUGE, 0, 18,
     NULL, d_conn_waiting, NO_RULE},
    {"oldest_xact_age_s", "s", "Age of the oldest open transaction", METRIC_FAST, METRIC_GAUGE, 0, 19, NULL,
     d_xact_age, NO_RULE},
    {"lock_waits", "locks", "Lock requests not granted yet", METRIC_FAST, METRIC_GAUGE, 0, 20, NULL, d_lock_waits,
     NO_RULE},
    {"longest_lock_wait_s", "s", "Longest current lock wait", METRIC_FAST, METRIC_GAUGE, 0, 21, NULL,
     d_lock_wait_age, NO_RULE},
    {"wal_position_bytes", "bytes", "The primary's current WAL position", METRIC_FAST, METRIC_GAUGE, 0, 22, NULL,
     d_wal_position, NO_RULE},
    {"replay_position_bytes", "bytes", "The replica's replay position", METRIC_FAST, METRIC_GAUGE, 0, 23, NULL,
     d_replay_position, NO_RULE},
    {"database_size_bytes", "bytes", "Size of all databases", METRIC_SLOW, METRIC_GAUGE, METRIC_F_PROM, 24, NULL,
     d_db_size, NO_RULE},
    {"wal_bytes_per_s", "bytes/s", "WAL written per second", METRIC_FAST, METRIC_RATE, METRIC_F_PROM, 25, NULL,
     d_wal_position, NO_RULE},
    {"commits_per_s", "1/s", "Transactions committed per second", METRIC_SLOW, METRIC_RATE, METRIC_F_PROM, 26,
     NULL, d_commits, NO_RULE},
    {"rollbacks_per_s", "1/s", "Transactions rolled back per second", METRIC_SLOW, METRIC_RATE, METRIC_F_PROM, 27,
     NULL, d_rollbacks, NO_RULE},
    {"blocks_read_per_s", "blocks/s", "Blocks read from disk per second", METRIC_SLOW, METRIC_RATE, 0, 28, NULL,
     d_blks_read, NO_RULE},
    {"rows_inserted_per_s", "rows/s", "Rows inserted per second", METRIC_SLOW, METRIC_RATE, 0, 29, NULL,
     d_tup_inserted, NO_RULE},
    {"rows_updated_per_s", "rows/s", "Rows updated per second", METRIC_SLOW, METRIC_RATE, 0, 30, NULL,
     d_tup_updated, NO_RULE},
    {"rows_deleted_per_s", "rows/s", "Rows deleted per second", METRIC_SLOW, METRIC_RATE, 0, 31, NULL,
     d_tup_deleted, NO_RULE},
    {"temp_bytes_per_s", "bytes/s", "Temporary file bytes written per second", METRIC_SLOW, METRIC_RATE, 0, 32,
     NULL, d_temp_bytes, NO_RULE},
    {"deadlocks_per_s", "1/s", "Deadlocks per second", METRIC_SLOW, METRIC_RATE, 0, 33, NULL, d_deadlocks, NO_RULE},
    {"cluster_split_brain", "bool", "1 while the node's cluster has two primaries that accept writes (split brain)",
     METRIC_NODE, METRIC_BOOL, METRIC_F_PROM | METRIC_F_CLOCK, 0, NULL, d_split_brain,
     RULE("split_brain", GT, NAN, 0.5, 0, PRI, NAN,
          "{node} accepts writes while another primary of its cluster does (split brain)")},
    {"node_timeline", "timeline", "The node's timeline (it moves on promotion)", METRIC_FAST, METRIC_GAUGE,
     METRIC_F_PROM, 0, NULL, d_timeline, NO_RULE},
    {"wal_receiver_streaming", "bool", "1 when the replica's WAL receiver streams, 0 in any other state "
     "(pgvigil_wal_receiver_status names it)", METRIC_FAST, METRIC_BOOL, METRIC_F_PROM, 0, NULL,
     d_receiver_streaming, NO_RULE},
    {"connections_in_use", "processes", "Server processes of every kind (client backends, WAL senders, background "
     "workers)", METRIC_FAST, METRIC_GAUGE, METRIC_F_PROM, 34, NULL, d_conn_in_use, NO_RULE},
};

const size_t metric_table_count = sizeof metric_table / sizeof metric_table[0];

/* Names the history API accepted before the catalogue; they keep working. */
const metric_alias_t metric_aliases[] = {
    {"up", "node_up"},
    {"probe_rtt_ms", "probe_latency_ms"},
    {"oldest_query_age_s", "long_running_query_seconds"},
    {NULL, NULL},
};

_Static_assert(sizeof metric_table / sizeof metric_table[0] <= METRIC_MAX, "METRIC_MAX is too small");
