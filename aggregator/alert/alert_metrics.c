/*
 * alert_metrics.c — per-node alert values and the built-in rules (see
 * alert_metrics.h).
 */
#include "alert_metrics.h"

#include <math.h>
#include <string.h>

static const alert_metric_info_t alert_metric_table[AM_COUNT] = {
    [AM_NODE_UP] = {"node_up", "bool", true, AM_FAST},
    [AM_COLLECTOR_STALE] = {"collector_stale", "bool", true, AM_FAST},
    [AM_LAG_SECONDS] = {"replication_lag_seconds", "s", false, AM_FAST},
    [AM_LAG_BYTES] = {"replication_lag_bytes", "bytes", false, AM_FAST},
    [AM_REPLICA_DISCONNECTED] = {"replica_disconnected", "bool", true, AM_FAST},
    [AM_REPLAY_PAUSED] = {"replay_paused", "bool", true, AM_FAST},
    [AM_SLOT_RETAINED_BYTES] = {"slot_retained_bytes", "bytes", false, AM_SLOW},
    [AM_CONNECTION_SATURATION] = {"connection_saturation", "ratio", false, AM_FAST},
    [AM_IDLE_IN_TRANSACTION_SECONDS] = {"idle_in_transaction_seconds", "s", false, AM_FAST},
    [AM_LONG_QUERY_SECONDS] = {"long_running_query_seconds", "s", false, AM_FAST},
    [AM_BLOCKED_SESSIONS] = {"blocked_sessions", "sessions", false, AM_FAST},
    [AM_DEADLOCKS] = {"deadlocks", "per interval", false, AM_SLOW},
    [AM_CACHE_HIT_RATIO] = {"cache_hit_ratio", "ratio", false, AM_SLOW},
    [AM_XID_WRAPAROUND_RATIO] = {"xid_wraparound_ratio", "ratio", false, AM_SLOW},
    [AM_DEAD_TUPLE_RATIO] = {"dead_tuple_ratio", "ratio", false, AM_STATS},
    [AM_ARCHIVER_FAILING] = {"archiver_failing", "bool", true, AM_SLOW},
    [AM_RPO_SECONDS] = {"rpo_seconds", "s", false, AM_SLOW},
    [AM_PROBE_LATENCY_MS] = {"probe_latency_ms", "ms", false, AM_FAST},
    [AM_QUERY_REGRESSIONS] = {"query_regressions", "statements", false, AM_STATS},
    [AM_BACKUP_FAILED] = {"backup_verification_failed", "bool", true, AM_STATS},
    [AM_BACKUP_AGE_SECONDS] = {"backup_age_seconds", "s", false, AM_STATS},
    [AM_RESTORE_FAILED] = {"restore_test_failed", "bool", true, AM_STATS},
    [AM_RESTORE_RTO_RATIO] = {"restore_rto_ratio", "ratio", false, AM_STATS},
};

int alert_metric_find(const char *name)
{
    for (int i = 0; i < AM_COUNT; i++)
        if (strcmp(alert_metric_table[i].name, name) == 0)
            return i;
    return -1;
}

const alert_metric_info_t *alert_metric_info(int id)
{
    return id >= 0 && id < AM_COUNT ? &alert_metric_table[id] : NULL;
}

static void am_set(alert_metric_state_t *st, alert_metric_id_t m, double v)
{
    st->value[m] = v;
    st->known[m] = true;
}

/* Tables with fewer dead tuples than this do not count: a 10-row table with
 * 5 dead rows is not a problem. */
#define AM_DEAD_TUPLES_MIN 1000
/* Block accesses per interval below which the cache hit ratio is noise. */
#define AM_CACHE_ACCESSES_MIN 1000

static void am_databases(alert_metric_state_t *st, const Pgvigil__Databases *d)
{
    uint64_t deadlocks = 0, hit = 0, read = 0;
    for (size_t i = 0; i < d->n_databases; i++) {
        deadlocks += d->databases[i]->deadlocks;
        hit += d->databases[i]->blks_hit;
        read += d->databases[i]->blks_read;
    }
    if (st->have_counters && deadlocks >= st->deadlocks_total && hit >= st->blks_hit &&
        read >= st->blks_read) {
        am_set(st, AM_DEADLOCKS, (double)(deadlocks - st->deadlocks_total));
        uint64_t dh = hit - st->blks_hit, dr = read - st->blks_read;
        if (dh + dr >= AM_CACHE_ACCESSES_MIN)
            am_set(st, AM_CACHE_HIT_RATIO, (double)dh / (double)(dh + dr));
    } else {
        st->known[AM_DEADLOCKS] = false; /* first sample or a stats reset */
    }
    st->deadlocks_total = deadlocks;
    st->blks_hit = hit;
    st->blks_read = read;
    st->have_counters = true;
}

void alert_metrics_sample(alert_metric_state_t *st, const fleet_node_t *n, int64_t now_us)
{
    const Pgvigil__Sample *s = n->latest;
    if (!s || !s->up) {
        alert_metrics_refresh(st, n, now_us);
        return;
    }
    if (s->probe)
        am_set(st, AM_PROBE_LATENCY_MS, (double)s->probe->rtt_us / 1000.0);
    if (s->connections) {
        const Pgvigil__Connections *c = s->connections;
        double usable = (double)c->max_connections - (double)c->superuser_reserved;
        if (usable > 0)
            am_set(st, AM_CONNECTION_SATURATION, (double)c->total / usable);
        am_set(st, AM_IDLE_IN_TRANSACTION_SECONDS, (double)c->oldest_idle_in_transaction_age_ms / 1000.0);
        am_set(st, AM_LONG_QUERY_SECONDS, (double)c->oldest_query_age_ms / 1000.0);
    }
    if (s->locks)
        am_set(st, AM_BLOCKED_SESSIONS, s->locks->blocked_sessions);
    if (s->replication_slots) {
        uint64_t most = 0;
        for (size_t i = 0; i < s->replication_slots->n_slots; i++)
            if (s->replication_slots->slots[i]->retained_bytes > most)
                most = s->replication_slots->slots[i]->retained_bytes;
        am_set(st, AM_SLOT_RETAINED_BYTES, (double)most);
    }
    if (s->databases)
        am_databases(st, s->databases);
    if (s->wraparound) {
        uint64_t oldest = 0;
        for (size_t i = 0; i < s->wraparound->n_databases; i++)
            if (s->wraparound->databases[i]->datfrozenxid_age > oldest)
                oldest = s->wraparound->databases[i]->datfrozenxid_age;
        am_set(st, AM_XID_WRAPAROUND_RATIO, (double)oldest / 2147483648.0);
    }
    if (s->tables) {
        double worst = 0;
        for (size_t i = 0; i < s->tables->n_tables; i++) {
            const Pgvigil__TableStats *t = s->tables->tables[i];
            if (t->dead_tuples >= AM_DEAD_TUPLES_MIN) {
                double r = (double)t->dead_tuples / (double)(t->dead_tuples + t->live_tuples);
                worst = r > worst ? r : worst;
            }
        }
        am_set(st, AM_DEAD_TUPLE_RATIO, worst);
    }
    if (s->archiver) {
        const Pgvigil__Archiver *a = s->archiver;
        bool on = a->archive_mode && strcmp(a->archive_mode, "off") != 0;
        if (on) {
            am_set(st, AM_ARCHIVER_FAILING, a->last_failed_at_us > a->last_archived_at_us ? 1 : 0);
        } else {
            st->known[AM_ARCHIVER_FAILING] = false;
            st->known[AM_RPO_SECONDS] = false;
        }
    }
    if (s->statements)
        am_set(st, AM_QUERY_REGRESSIONS, n->query_regressions);
    if (s->backup) {
        const Pgvigil__Backup *b = s->backup;
        am_set(st, AM_BACKUP_FAILED, b->ok ? 0 : 1);
        if (b->ok && b->has_backup_at_us)
            st->backup_at_us = b->backup_at_us;
        if (b->restore) {
            am_set(st, AM_RESTORE_FAILED, b->restore->ok ? 0 : 1);
            if (b->restore->ok && b->restore->rto_ms)
                am_set(st, AM_RESTORE_RTO_RATIO, (double)b->restore->duration_ms / b->restore->rto_ms);
        }
    }
    if (n->role == PGVIGIL__ROLE__ROLE_REPLICA && s->replica_replication) {
        am_set(st, AM_REPLICA_DISCONNECTED, n->disconnected ? 1 : 0);
        am_set(st, AM_REPLAY_PAUSED, n->replay_paused ? 1 : 0);
    }
    if (n->has_lag) {
        am_set(st, AM_LAG_SECONDS, n->lag.seconds);
        am_set(st, AM_LAG_BYTES, (double)n->lag.bytes);
    } else {
        st->known[AM_LAG_SECONDS] = st->known[AM_LAG_BYTES] = false;
    }
    alert_metrics_refresh(st, n, now_us);
}

void alert_metrics_refresh(alert_metric_state_t *st, const fleet_node_t *n, int64_t now_us)
{
    am_set(st, AM_COLLECTOR_STALE, n->stale ? 1 : 0);
    if (n->stale || !n->seen) {
        /* Nothing but the staleness itself is known. */
        for (int m = 0; m < AM_COUNT; m++)
            if (m != AM_COLLECTOR_STALE)
                st->known[m] = false;
        st->have_counters = false;
        return;
    }
    am_set(st, AM_NODE_UP, n->up ? 1 : 0);
    if (!n->up) {
        for (int m = 0; m < AM_COUNT; m++)
            if (m != AM_COLLECTOR_STALE && m != AM_NODE_UP)
                st->known[m] = false;
        st->have_counters = false;
        return;
    }
    const Pgvigil__Sample *s = n->latest;
    const Pgvigil__Archiver *a = s ? s->archiver : NULL;
    if (a && a->archive_mode && strcmp(a->archive_mode, "off") != 0 && a->last_archived_at_us > 0 &&
        n->role == PGVIGIL__ROLE__ROLE_PRIMARY)
        am_set(st, AM_RPO_SECONDS, (double)(now_us - a->last_archived_at_us) / 1e6);
    if (st->backup_at_us > 0)
        am_set(st, AM_BACKUP_AGE_SECONDS, (double)(now_us - st->backup_at_us) / 1e6);
}

/* Defaults an operator would start from; every one can be overridden or
 * disabled by name in the configuration. */
static const alert_builtin_t alert_builtins[] = {
    {"node_down", AM_NODE_UP, ALERT_OP_LT, NAN, 1, NAN, 0, ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN,
     "{node} is down"},
    {"collector_stale", AM_COLLECTOR_STALE, ALERT_OP_GT, 0.5, NAN, NAN, 0,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN, "the collector of {node} stopped reporting"},
    {"replication_lag", AM_LAG_SECONDS, ALERT_OP_GT, 5, 30, NAN, 10000, ALERT_ROLE_REPLICA, NAN,
     "{node} replays {value} s behind its primary"},
    {"replication_lag_bytes", AM_LAG_BYTES, ALERT_OP_GT, 64.0 * 1048576, 1024.0 * 1048576, NAN, 30000,
     ALERT_ROLE_REPLICA, NAN, "{node} is {value} bytes of WAL behind its primary"},
    {"replica_disconnected", AM_REPLICA_DISCONNECTED, ALERT_OP_GT, NAN, 0.5, NAN, 5000, ALERT_ROLE_REPLICA,
     NAN, "{node} does not stream from its upstream"},
    {"replay_paused", AM_REPLAY_PAUSED, ALERT_OP_GT, 0.5, NAN, NAN, 60000, ALERT_ROLE_REPLICA, NAN,
     "WAL replay on {node} is paused"},
    {"slot_retaining_wal", AM_SLOT_RETAINED_BYTES, ALERT_OP_GT, 1024.0 * 1048576, 10240.0 * 1048576, NAN,
     60000, ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN, "a replication slot on {node} retains {value} bytes of WAL"},
    {"connection_saturation", AM_CONNECTION_SATURATION, ALERT_OP_GT, 0.8, 0.95, NAN, 30000,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, 1, "{node} uses {value} of its connections"},
    {"idle_in_transaction", AM_IDLE_IN_TRANSACTION_SECONDS, ALERT_OP_GT, 300, 1800, NAN, 0,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN, "a session on {node} is idle in transaction for {value} s"},
    {"long_running_query", AM_LONG_QUERY_SECONDS, ALERT_OP_GT, 600, 3600, NAN, 0,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN, "a query on {node} runs for {value} s"},
    {"blocked_sessions", AM_BLOCKED_SESSIONS, ALERT_OP_GT, 5, 20, NAN, 30000,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN, "{value} sessions on {node} wait for locks"},
    {"deadlocks", AM_DEADLOCKS, ALERT_OP_GT, 0.5, NAN, NAN, 0, ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, 1,
     "{value} deadlocks on {node} in the last interval"},
    {"cache_hit_ratio", AM_CACHE_HIT_RATIO, ALERT_OP_LT, 0.9, 0.8, NAN, 300000,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, 1, "the buffer cache hit ratio of {node} is {value}"},
    {"xid_wraparound", AM_XID_WRAPAROUND_RATIO, ALERT_OP_GT, 0.5, 0.75, NAN, 0,
     ALERT_ROLE_PRIMARY, 1, "the oldest database on {node} is at {value} of the transaction-ID space"},
    {"dead_tuples", AM_DEAD_TUPLE_RATIO, ALERT_OP_GT, 0.2, 0.5, NAN, 600000, ALERT_ROLE_PRIMARY, 1,
     "a table on {node} has a dead-tuple ratio of {value}"},
    {"archiver_failing", AM_ARCHIVER_FAILING, ALERT_OP_GT, NAN, 0.5, NAN, 60000, ALERT_ROLE_PRIMARY, NAN,
     "WAL archiving on {node} fails"},
    {"rpo_exceeded", AM_RPO_SECONDS, ALERT_OP_GT, NAN, 900, NAN, 0, ALERT_ROLE_PRIMARY, 1,
     "the last WAL segment of {node} was archived {value} s ago"},
    {"query_regression", AM_QUERY_REGRESSIONS, ALERT_OP_GT, 0.5, NAN, NAN, 0,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN, "{value} statements on {node} run much slower than their baseline"},
    {"backup_verification_failed", AM_BACKUP_FAILED, ALERT_OP_GT, NAN, 0.5, NAN, 0,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN, "the newest base backup of {node} fails pg_verifybackup"},
    {"backup_overdue", AM_BACKUP_AGE_SECONDS, ALERT_OP_GT, 26 * 3600, 50 * 3600, NAN, 0,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, 1, "the newest verified base backup of {node} is {value} s old"},
    {"restore_test_failed", AM_RESTORE_FAILED, ALERT_OP_GT, NAN, 0.5, NAN, 0,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN, "the restore test of {node}'s newest backup failed"},
    {"restore_rto_exceeded", AM_RESTORE_RTO_RATIO, ALERT_OP_GT, 0.8, 1, NAN, 0,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, 1, "restoring {node}'s newest backup takes {value} of the RTO"},
    {"probe_latency", AM_PROBE_LATENCY_MS, ALERT_OP_GT, 100, 1000, NAN, 30000,
     ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA, NAN, "a trivial query on {node} takes {value} ms"},
};

const alert_builtin_t *alert_builtin_rules(size_t *count)
{
    *count = sizeof alert_builtins / sizeof alert_builtins[0];
    return alert_builtins;
}
