/*
 * replica_watch.c — the watch's query and state (replica_watch.h).
 *
 * Why: the aggregator learns that a replica is paused or cut off only from
 * a sample; with rounds once per interval that is up to a whole interval
 * late, and every lag reading in between is against the replica's last,
 * un-paused position. A query of four values every watch_interval is far
 * cheaper than rounds that often, and a change of state earns a round.
 *
 * The pause functions raise an error on a server that is not in recovery
 * (promoted since the last round): the query asks them only in recovery,
 * and a promotion is itself a change of state.
 */
#include "replica_watch.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "section.h"

void replica_watch_reset(replica_watch_t *self)
{
    memset(self, 0, sizeof *self);
}

const char *replica_watch_sql(int server_version)
{
    /* pg_get_wal_replay_pause_state() (14+) also reports a pause that was
     * requested but has not taken effect yet, as the round's section does. */
    if (server_version >= 140000)
        return "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery()"
               " THEN pg_get_wal_replay_pause_state() <> 'not paused' END,"
               " coalesce((SELECT status FROM pg_stat_wal_receiver), 'no receiver'),"
               " pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,"
               " CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END";
    return "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery()"
           " THEN pg_is_wal_replay_paused() END,"
           " coalesce((SELECT status FROM pg_stat_wal_receiver), 'no receiver'),"
           " pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,"
           " CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END";
}

int replica_watch_decode(const PGresult *res, int64_t read_at_us, replica_watch_reading_t *out,
                         char *err, size_t errlen)
{
    protobuf_c_boolean in_recovery = 0, paused = 0;
    memset(out, 0, sizeof *out);
    if (section_expect(res, 6, 1, err, errlen) != 0)
        return -1;
    if (!section_bool(res, 0, 0, &in_recovery)) {
        snprintf(err, errlen, "pg_is_in_recovery() was NULL");
        return -1;
    }
    out->in_recovery = in_recovery;
    out->paused = section_bool(res, 0, 1, &paused) && paused;
    snprintf(out->receiver_status, sizeof out->receiver_status, "%s",
             section_isnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2));
    out->has_receive_lsn = section_lsn(res, 0, 3, &out->receive_lsn);
    out->has_replay_lsn = section_lsn(res, 0, 4, &out->replay_lsn);
    out->has_current_lsn = !in_recovery && section_lsn(res, 0, 5, &out->current_lsn);
    out->read_at_us = read_at_us;
    return 0;
}

void replica_watch_from_sample(bool in_recovery, const Pgvigil__ReplicaReplication *r,
                               int64_t read_at_us, replica_watch_reading_t *out)
{
    memset(out, 0, sizeof *out);
    out->in_recovery = in_recovery;
    out->read_at_us = read_at_us;
    if (!r)
        return;
    out->paused = r->has_replay_paused && r->replay_paused;
    snprintf(out->receiver_status, sizeof out->receiver_status, "%s",
             r->wal_receiver_status ? r->wal_receiver_status : "");
    out->has_receive_lsn = r->has_receive_lsn;
    out->receive_lsn = r->receive_lsn;
    out->has_replay_lsn = r->has_replay_lsn;
    out->replay_lsn = r->replay_lsn;
    out->read_wall_us = r->has_measured_at_us ? r->measured_at_us : 0;
}

/* Whether replay stands still behind what had been received (a pause, which
 * explains that, is not a stall); readings too close to the baseline keep
 * the previous verdict and the baseline. */
static bool replica_watch_stalled(replica_watch_state_t *self, const replica_watch_reading_t *now)
{
    if (!now->in_recovery || !now->has_replay_lsn || now->paused) {
        self->has_replay_lsn = false;
        return false;
    }
    if (self->has_replay_lsn && now->read_at_us - self->replay_read_at_us < REPLICA_WATCH_STALL_MIN_US)
        return self->stalled;
    bool stalled = self->has_replay_lsn && now->replay_lsn == self->replay_lsn && self->has_receive_lsn &&
                   self->receive_lsn > self->replay_lsn;
    self->has_replay_lsn = true;
    self->replay_lsn = now->replay_lsn;
    self->has_receive_lsn = now->has_receive_lsn;
    self->receive_lsn = now->receive_lsn;
    self->replay_read_at_us = now->read_at_us;
    return stalled;
}

/* A primary's WAL position: true when it moves after standing still
 * between the two readings before. */
static bool replica_watch_wal(replica_watch_state_t *self, const replica_watch_reading_t *now)
{
    if (!now->has_current_lsn) {
        self->has_wal = self->wal_still = self->has_still = false;
        return false;
    }
    if (self->has_wal && now->current_lsn == self->wal_lsn) {
        self->wal_still = true;
        self->has_still = true;
        self->still_lsn = now->current_lsn;
        self->still_from_us = self->wal_since_us;
        self->still_until_us = now->read_wall_us;
        return false;
    }
    bool resumed = self->has_wal && self->wal_still;
    self->has_wal = true;
    self->wal_still = false;
    self->wal_lsn = now->current_lsn;
    self->wal_since_us = now->read_wall_us;
    return resumed;
}

bool replica_watch_update(replica_watch_state_t *self, const replica_watch_reading_t *now)
{
    bool was_known = self->known;
    bool stalled = replica_watch_stalled(self, now);
    bool resumed = replica_watch_wal(self, now);
    bool changed = was_known && (self->in_recovery != now->in_recovery || self->paused != now->paused ||
                                 self->stalled != stalled || resumed ||
                                 strcmp(self->receiver_status, now->receiver_status) != 0);
    self->known = true;
    self->in_recovery = now->in_recovery;
    self->paused = now->paused;
    self->stalled = stalled;
    snprintf(self->receiver_status, sizeof self->receiver_status, "%s", now->receiver_status);
    return changed;
}

int replica_watch_send(replica_watch_t *self, PGconn *conn, int server_version)
{
    if (!PQsendQuery(conn, replica_watch_sql(server_version)))
        return -1;
    self->active = true;
    self->changed = false;
    self->sent_us = clock_mono_us();
    self->sent_wall_us = clock_wall_us();
    return 0;
}

static void replica_watch_result(replica_watch_t *self, const PGresult *res, const char *node)
{
    char err[256] = "";
    replica_watch_reading_t now;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        log_debug("the watch of \"%s\" failed: %s", node,
                  msg ? msg : PQresStatus(PQresultStatus(res)));
    } else if (replica_watch_decode(res, clock_mono_us(), &now, err, sizeof err) != 0) {
        log_debug("the watch of \"%s\" failed: %s", node, err);
    } else {
        /* read, as a round's positions are, half its round trip after it was sent */
        now.read_wall_us = self->sent_wall_us + (now.read_at_us - self->sent_us) / 2;
        if (replica_watch_update(&self->state, &now))
            self->changed = true;
    }
}

bool replica_watch_consume(replica_watch_t *self, PGconn *conn, const char *node)
{
    while (self->active && !PQisBusy(conn)) {
        PGresult *res = PQgetResult(conn);
        if (!res) {
            self->active = false;
            return true;
        }
        replica_watch_result(self, res, node);
        PQclear(res);
    }
    return false;
}

void replica_watch_round(replica_watch_t *self, const Pgvigil__ReplicaReplication *r)
{
    replica_watch_reading_t sent;
    replica_watch_from_sample(true, r, clock_mono_us(), &sent);
    replica_watch_update(&self->state, &sent);
}

void replica_watch_primary_round(replica_watch_t *self, Pgvigil__PrimaryReplication *p)
{
    replica_watch_state_t *st = &self->state;
    bool has = p && p->has_current_wal_lsn && p->has_measured_at_us;
    if (has && st->has_still && st->still_lsn <= p->current_wal_lsn && st->still_from_us <= st->still_until_us &&
        st->still_until_us < p->measured_at_us) {
        p->has_still_wal_lsn = p->has_still_from_us = p->has_still_until_us = 1;
        p->still_wal_lsn = st->still_lsn;
        p->still_from_us = st->still_from_us;
        p->still_until_us = st->still_until_us;
    }
    replica_watch_reading_t sent = {
        .in_recovery = false, .has_current_lsn = has, .current_lsn = has ? p->current_wal_lsn : 0,
        .read_at_us = clock_mono_us(), .read_wall_us = has ? p->measured_at_us : 0};
    snprintf(sent.receiver_status, sizeof sent.receiver_status, "no receiver");
    replica_watch_update(st, &sent);
    st->has_still = false; /* told */
}
