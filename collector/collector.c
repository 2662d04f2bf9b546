/*
 * collector.c — the round loop (see collector.h).
 *
 * Nothing here blocks: the connection is opened with PQconnectStartParams /
 * PQconnectPoll and every query is sent with PQsendQuery, with the socket
 * watched by a zloop poller that is re-registered whenever libpq asks for a
 * different direction (or the socket changes during connect). A timer ticks
 * once per interval: it starts a round when the connection is idle, aborts a
 * round that has overrun its interval (the sample goes out with what was
 * collected and a section error; the connection is dropped and reopened,
 * which cancels the server's work), and while the server is unreachable it
 * publishes up=false samples and retries with capped, jittered backoff.
 *
 * A second timer runs the watch (replica_watch.h: a replica's pause and
 * receiver, a primary's WAL position) between rounds over the same
 * connection: when the watched state changes,
 * an early round (identity and fast sections only, so the slower cadences
 * keep their schedule) starts at once, at most one per
 * COLLECTOR_EARLY_GAP_US. A tick that finds the watch in flight leaves its
 * round pending until the watch is answered; a watch unanswered for an
 * interval is an overrun: the connection is dropped and reopened.
 *
 * While a replica of this primary is paused, cut off or stuck, the
 * aggregator asks (Command.fast_rounds_ms, renewed while it lasts) for an
 * early round at every watch tick instead of the watch query: past the
 * primary's newest sample its position is extrapolated, and WAL comes in
 * bursts, so a quarter-second horizon instead of a whole interval is what
 * keeps a paused replica's lag in bytes close to the truth.
 */
#include "collector.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>

#include "backoff.h"
#include "clock.h"
#include "log.h"
#include "lsn.h"
#include "pbjson.h"
#include "pbtext.h"
#include "backup.h"
#include "col_sample.h"
#include "maintenance.h"
#include "publish.h"
#include "replica_watch.h"
#include "section.h"

#define COLLECTOR_BACKOFF_CAP_MS 8000
#define COLLECTOR_DRAIN_MS 2000 /* at shutdown, for the last acknowledgements */
#define COLLECTOR_TEXT_MAX 65536 /* the aggregator refuses longer strings (INGEST_TEXT_MAX) */
#define COLLECTOR_EARLY_GAP_US 200000 /* least time from a round's start to an early round's */
#define COLLECTOR_FAST_MAX_MS 10000   /* longest spell of rounds at every watch tick one Command asks */

typedef enum { CONN_DOWN, CONN_CONNECTING, CONN_READY, CONN_BUSY } conn_state_t;

typedef struct {
    const col_config_t *cfg;
    zloop_t *loop;
    publish_t *pub;       /* NULL in --once mode */
    maintenance_t *maint; /* NULL in --once mode */
    backup_t *backup;     /* NULL in --once mode or without backup.directory */
    bool once, stop;
    json_t *once_json;
    bool once_up;

    PGconn *conn;
    conn_state_t state;
    zmq_pollitem_t item;
    bool polling;
    int64_t connect_started_us;
    unsigned attempts;     /* failed attempts in a row */
    int64_t next_connect_us;
    char last_error[256];

    section_ctx_t ctx;
    Pgvigil__Sample *sample;
    bool round_active, identity_ok;
    size_t section_i;
    int64_t query_sent_us;
    bool due[SECTION_CADENCE_COUNT];
    int64_t last_run_us[SECTION_CADENCE_COUNT];
    int64_t round_started_mono_us;

    replica_watch_t watch;
    bool round_pending;     /* a tick came while the watch held the connection */
    int64_t fast_until_us;  /* monotonic: rounds at every watch tick until then (Command.fast_rounds_ms) */
    bool early_armed;       /* an early round waits for COLLECTOR_EARLY_GAP_US */

    uint64_t sequence;
    int64_t started_at_us;
    char hostname[256];
} collector_t;

static int collector_on_io(zloop_t *loop, zmq_pollitem_t *item, void *arg);
static void collector_send_next(collector_t *self);

/* ---- connection ---- */

static void collector_watch(collector_t *self, short events)
{
    int fd = PQsocket(self->conn);
    if (self->polling && self->item.fd == fd && self->item.events == events)
        return;
    if (self->polling)
        zloop_poller_end(self->loop, &self->item);
    self->item = (zmq_pollitem_t){.socket = NULL, .fd = fd, .events = events};
    self->polling = zloop_poller(self->loop, &self->item, collector_on_io, self) == 0;
}

/* First line of libpq's message, without the DSN (libpq never prints
 * passwords, but keep messages short and single-line). */
static void collector_set_error(collector_t *self, const char *prefix, const char *msg)
{
    char line[200];
    snprintf(line, sizeof line, "%s", msg ? msg : "unknown error");
    line[strcspn(line, "\n")] = '\0';
    snprintf(self->last_error, sizeof self->last_error, "%s%s", prefix, line);
}

static void collector_drop(collector_t *self)
{
    if (self->polling)
        zloop_poller_end(self->loop, &self->item);
    self->polling = false;
    PQfinish(self->conn);
    self->conn = NULL;
    self->state = CONN_DOWN;
    self->round_pending = false;
    replica_watch_reset(&self->watch);
}

static void collector_failed(collector_t *self)
{
    int64_t now = clock_wall_us();
    uint64_t delay = backoff_delay_ms(self->attempts, self->cfg->interval_ms,
                                      COLLECTOR_BACKOFF_CAP_MS, (double)random() / RAND_MAX);
    self->attempts++;
    self->next_connect_us = now + (int64_t)delay * 1000;
    if (self->once)
        log_error("could not connect to the server of \"%s\": %s", self->cfg->node,
                  self->last_error);
    else
        log_warning("could not connect to the server of \"%s\": %s; retrying in %.1f s",
                    self->cfg->node, self->last_error, (double)delay / 1000);
}

static void collector_connect(collector_t *self)
{
    char options[160], timeout[24];
    snprintf(options, sizeof options, "-c statement_timeout=%llu -c lock_timeout=%llu",
             (unsigned long long)self->cfg->statement_timeout_ms,
             (unsigned long long)self->cfg->lock_timeout_ms);
    snprintf(timeout, sizeof timeout, "%llu",
             (unsigned long long)(self->cfg->connect_timeout_ms + 999) / 1000);
    /* The user's DSN is expanded after application_name (so it may override
     * it) and before options (so the collector's timeouts always apply). */
    /* No client_encoding=UTF8: a SQL_ASCII database would then refuse to
     * return any name that is not UTF-8 (the whole section fails). Text
     * comes in the database's encoding and collector_emit makes it UTF-8. */
    const char *keys[] = {"application_name", "connect_timeout", "dbname", "options", NULL};
    const char *vals[] = {"pgvigil-collector", timeout, self->cfg->dsn, options, NULL};
    self->conn = PQconnectStartParams(keys, vals, 1);
    self->connect_started_us = clock_wall_us();
    if (!self->conn || PQstatus(self->conn) == CONNECTION_BAD) {
        collector_set_error(self, "", self->conn ? PQerrorMessage(self->conn) : "out of memory");
        collector_drop(self);
        collector_failed(self);
        return;
    }
    self->state = CONN_CONNECTING;
    collector_watch(self, ZMQ_POLLOUT);
}

static void collector_start_round(collector_t *self, int64_t now, bool early);

static void collector_connect_poll(collector_t *self)
{
    switch (PQconnectPoll(self->conn)) {
    case PGRES_POLLING_READING:
        collector_watch(self, ZMQ_POLLIN);
        return;
    case PGRES_POLLING_WRITING:
        collector_watch(self, ZMQ_POLLOUT);
        return;
    case PGRES_POLLING_OK:
        if (self->attempts)
            log_info("connected to the server of \"%s\" again", self->cfg->node);
        self->attempts = 0;
        self->last_error[0] = '\0';
        self->state = CONN_READY;
        self->ctx.server_version = PQserverVersion(self->conn);
        backup_set_server_version(self->backup, self->ctx.server_version);
        collector_start_round(self, clock_wall_us(), false);
        return;
    default:
        collector_set_error(self, "", PQerrorMessage(self->conn));
        collector_drop(self);
        collector_failed(self);
        if (self->once)
            self->stop = true;
        return;
    }
}

/* ---- samples ---- */

/* Sequence, then publish (or keep for --once), then free. */
static void collector_emit(collector_t *self, Pgvigil__Sample *s)
{
    s->has_sequence = 1;
    s->sequence = ++self->sequence;
    s->has_up = 1;
    if (!s->up) {
        s->has_role = 1;
        s->role = PGVIGIL__ROLE__ROLE_UNKNOWN;
        if (self->last_error[0])
            s->error = strdup(self->last_error);
    }
    /* Text from the server is not always UTF-8: the error of a failed
     * connection comes in the server's lc_messages encoding (LATIN1 on a
     * localized server), and a LATIN1 or SQL_ASCII database returns names
     * in its own encoding. Read bytes that are not UTF-8 as LATIN1 so the
     * aggregator (which refuses anything but UTF-8) gets the sample. */
    if (pbtext_repair_message(&s->base, COLLECTOR_TEXT_MAX) < 0)
        log_warning("out of memory while cleaning the text of a sample");
    if (self->once) {
        self->once_json = collector_sample_json(s);
        self->once_up = s->up;
        self->stop = true;
    } else if (self->pub) {
        publish_sample(self->pub, s);
    }
    pgvigil__sample__free_unpacked(s, NULL);
}

static void collector_emit_down(collector_t *self)
{
    Pgvigil__Sample *s = col_sample_new(self->cfg, self->hostname, self->started_at_us, clock_wall_us());
    if (s)
        collector_emit(self, s);
}

/* ---- rounds ---- */

static uint64_t collector_cadence_ms(const col_config_t *cfg, section_cadence_t c)
{
    switch (c) {
    case SECTION_SLOW:
        return cfg->slow_interval_ms;
    case SECTION_STATS:
        return cfg->stats_interval_ms;
    case SECTION_HOURLY:
        return cfg->hourly_interval_ms;
    default:
        return 0; /* identity and fast: every round */
    }
}

/* An early round (started by the watch) runs the every-round
 * sections only and leaves the cadences' clocks alone. */
static void collector_start_round(collector_t *self, int64_t now, bool early)
{
    if (!(self->sample = col_sample_new(self->cfg, self->hostname, self->started_at_us, now)))
        return;
    self->sample->has_server_version = 1;
    self->sample->server_version = (uint32_t)self->ctx.server_version;
    self->ctx.round_started_us = now;
    self->round_started_mono_us = clock_mono_us();
    for (int c = 0; c < SECTION_CADENCE_COUNT; c++) {
        uint64_t every = collector_cadence_ms(self->cfg, (section_cadence_t)c);
        if (early) {
            self->due[c] = every == 0;
            continue;
        }
        /* Half an interval of slack so a cadence does not slip a whole round. */
        int64_t slack = (int64_t)self->cfg->interval_ms * 500;
        self->due[c] = self->once || every == 0 || self->last_run_us[c] == 0 ||
                       now - self->last_run_us[c] + slack >= (int64_t)every * 1000;
        if (self->due[c])
            self->last_run_us[c] = now;
    }
    /* The hourly parts ride on a stats round: wait for one. */
    if (self->due[SECTION_HOURLY] && !self->due[SECTION_STATS] && !self->once) {
        self->due[SECTION_HOURLY] = false;
        self->last_run_us[SECTION_HOURLY] = 0;
    }
    self->ctx.hourly_due = self->due[SECTION_HOURLY];
    self->round_active = true;
    self->identity_ok = false;
    self->section_i = 0;
    collector_send_next(self);
}

static void collector_finish_round(collector_t *self)
{
    Pgvigil__Sample *s = self->sample;
    self->sample = NULL;
    self->round_active = false;
    if (self->state == CONN_BUSY)
        self->state = CONN_READY;
    s->up = self->identity_ok;
    if (s->up && self->ctx.is_replica)
        replica_watch_round(&self->watch, s->replica_replication);
    else if (s->up)
        replica_watch_primary_round(&self->watch, s->primary_replication);
    else
        replica_watch_reset(&self->watch);
    if (self->due[SECTION_STATS])
        backup_fill(self->backup, s);
    if (!s->up && !self->last_error[0])
        snprintf(self->last_error, sizeof self->last_error, "the server did not answer");
    collector_emit(self, s);
}

static void collector_lost(collector_t *self, const char *why)
{
    collector_set_error(self, "", why);
    if (self->round_active)
        col_sample_section_error(self->sample, section_table[self->section_i].name, why);
    collector_drop(self);
    collector_failed(self);
    if (self->round_active)
        collector_finish_round(self);
    else if (!self->once)
        collector_emit_down(self); /* the server went away between rounds: say so now, not at the next tick */
}

static void collector_send_next(collector_t *self)
{
    for (; self->section_i < section_count; self->section_i++) {
        const section_t *sec = &section_table[self->section_i];
        if (!self->due[sec->cadence] || (sec->cadence != SECTION_IDENTITY && !self->identity_ok))
            continue;
        const char *sql = sec->sql(&self->ctx);
        if (!sql)
            continue;
        if (!PQsendQuery(self->conn, sql)) {
            collector_lost(self, PQerrorMessage(self->conn));
            return;
        }
        self->state = CONN_BUSY;
        self->query_sent_us = clock_mono_us();
        collector_watch(self, ZMQ_POLLIN);
        return;
    }
    collector_finish_round(self);
}

static void collector_result(collector_t *self, PGresult *res)
{
    const section_t *sec = &section_table[self->section_i];
    char err[256] = "";
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        self->ctx.query_rtt_us = clock_mono_us() - self->query_sent_us;
        if (sec->decode(res, &self->ctx, self->sample, err, sizeof err) != 0)
            col_sample_section_error(self->sample, sec->name, err[0] ? err : "out of memory");
        else if (sec->cadence == SECTION_IDENTITY)
            self->identity_ok = true;
    } else {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        col_sample_section_error(self->sample, sec->name, msg ? msg : PQresStatus(PQresultStatus(res)));
        if (sec->cadence == SECTION_IDENTITY)
            collector_set_error(self, "identity query failed: ", msg);
    }
}

/* ---- the watch ---- */

static int collector_on_early(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    collector_t *self = arg;
    self->early_armed = false;
    if (clock_mono_us() - self->round_started_mono_us < COLLECTOR_EARLY_GAP_US)
        return 0; /* a round has started since the change: it carries it */
    if (self->watch.active)
        self->round_pending = true;
    else if (self->state == CONN_READY && !self->round_active)
        collector_start_round(self, clock_wall_us(), true);
    return 0; /* a round under way or a lost connection says it anyway */
}

/* The watched state changed: a round now, or as soon as the gap allows. */
static void collector_early_round(collector_t *self)
{
    int64_t wait_us = self->round_started_mono_us + COLLECTOR_EARLY_GAP_US - clock_mono_us();
    if (wait_us <= 0) {
        collector_start_round(self, clock_wall_us(), true);
    } else if (!self->early_armed) {
        self->early_armed =
            zloop_timer(self->loop, (size_t)(wait_us + 999) / 1000, 1, collector_on_early, self) >= 0;
        if (!self->early_armed)
            log_warning("could not arm a timer: the change waits for the next round");
    }
}

static int collector_on_watch_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    collector_t *self = arg;
    if (self->watch.active) {
        if (clock_mono_us() - self->watch.sent_us > (int64_t)self->cfg->interval_ms * 1000) {
            /* As an overrun round: dropping the connection cancels the query,
             * and a round the watch held back is reported unanswered. */
            log_warning("the watch of \"%s\" did not answer within the interval; reconnecting",
                        self->cfg->node);
            if (self->round_pending) {
                snprintf(self->last_error, sizeof self->last_error, "the server did not answer");
                collector_emit_down(self);
            }
            collector_drop(self);
            self->next_connect_us = 0;
            collector_connect(self);
        }
    } else if (self->state == CONN_READY && !self->round_active && !self->ctx.is_replica &&
               clock_mono_us() < self->fast_until_us) {
        /* a replica of this primary lags: a round at every watch tick */
        if (clock_mono_us() - self->round_started_mono_us >= COLLECTOR_EARLY_GAP_US)
            collector_start_round(self, clock_wall_us(), true);
    } else if (self->state == CONN_READY && !self->round_active && self->watch.state.known) {
        if (replica_watch_send(&self->watch, self->conn, self->ctx.server_version) != 0) {
            collector_lost(self, PQerrorMessage(self->conn));
        } else {
            self->state = CONN_BUSY;
            collector_watch(self, ZMQ_POLLIN);
        }
    }
    return self->stop ? -1 : 0;
}

static int collector_on_io(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    collector_t *self = arg;
    if (self->state == CONN_CONNECTING) {
        collector_connect_poll(self);
        return self->stop ? -1 : 0;
    }
    if (!PQconsumeInput(self->conn)) {
        collector_lost(self, PQerrorMessage(self->conn));
        return self->stop ? -1 : 0;
    }
    if (self->watch.active && replica_watch_consume(&self->watch, self->conn, self->cfg->node)) {
        self->state = CONN_READY; /* answered: the connection is free again */
        if (self->round_pending) {
            self->round_pending = false;
            collector_start_round(self, clock_wall_us(), false);
        } else if (self->watch.changed) {
            collector_early_round(self);
        }
    }
    while (self->conn && self->round_active && !PQisBusy(self->conn)) {
        PGresult *res = PQgetResult(self->conn);
        if (!res) { /* this section's query is complete */
            self->section_i++;
            collector_send_next(self);
            break;
        }
        collector_result(self, res);
        PQclear(res);
    }
    if (self->conn && PQstatus(self->conn) == CONNECTION_BAD)
        collector_lost(self, PQerrorMessage(self->conn));
    return self->stop ? -1 : 0;
}

static int collector_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    collector_t *self = arg;
    int64_t now = clock_wall_us();
    if (self->watch.active) { /* the connection is the watch's for a moment */
        self->round_pending = true;
        return 0;
    }
    if (self->round_active) {
        /* Overran its interval: send what we have; dropping the connection
         * is what cancels the server's work. Reconnect at once. */
        col_sample_section_error(self->sample, section_table[self->section_i].name,
                                "round did not finish within the interval");
        collector_drop(self);
        self->next_connect_us = 0;
        collector_finish_round(self);
        if (self->once)
            return -1;
    }
    switch (self->state) {
    case CONN_READY:
        collector_start_round(self, now, false);
        break;
    case CONN_CONNECTING:
        if (now - self->connect_started_us > (int64_t)self->cfg->connect_timeout_ms * 1000) {
            snprintf(self->last_error, sizeof self->last_error, "connection timed out");
            collector_drop(self);
            collector_failed(self);
        }
        if (self->attempts)
            collector_emit_down(self);
        break;
    default:
        if (self->attempts)
            collector_emit_down(self);
        if (now >= self->next_connect_us)
            collector_connect(self);
        break;
    }
    return self->stop ? -1 : 0;
}

/* ---- entry points ---- */

static void collector_init(collector_t *self, const col_config_t *cfg)
{
    memset(self, 0, sizeof *self);
    self->cfg = cfg;
    self->ctx.cfg = cfg;
    self->ctx.statements = statements_state_new();
    self->started_at_us = clock_wall_us();
    if (gethostname(self->hostname, sizeof self->hostname - 1) != 0)
        snprintf(self->hostname, sizeof self->hostname, "unknown");
    srandom((unsigned)(self->started_at_us ^ getpid()));
    self->loop = zloop_new();
}

static void collector_fini(collector_t *self)
{
    if (self->sample)
        pgvigil__sample__free_unpacked(self->sample, NULL);
    if (self->conn)
        collector_drop(self);
    zloop_destroy(&self->loop);
    statements_state_destroy(&self->ctx.statements);
}

static void collector_on_command(void *arg, zsock_t *from, const Pgvigil__Command *cmd)
{
    collector_t *self = arg;
    if (cmd->has_fast_rounds_ms) {
        uint32_t ms = cmd->fast_rounds_ms < COLLECTOR_FAST_MAX_MS ? cmd->fast_rounds_ms : COLLECTOR_FAST_MAX_MS;
        if (self->cfg->watch_interval_ms) {
            if (self->fast_until_us <= clock_mono_us())
                log_debug("a replica of \"%s\" lags: rounds every %.2f s for %.1f s", self->cfg->node,
                          (double)self->cfg->watch_interval_ms / 1000, (double)ms / 1000);
            self->fast_until_us = clock_mono_us() + (int64_t)ms * 1000;
        }
        return;
    }
    if (self->maint)
        maintenance_command(self->maint, from, cmd);
}

int collector_run(const col_config_t *cfg)
{
    collector_t self;
    char err[512];
    collector_init(&self, cfg);
    if (!self.loop || !(self.pub = publish_new(cfg, err, sizeof err))) {
        log_error("could not start publishing: %s", self.loop ? err : "out of memory");
        collector_fini(&self);
        return 1;
    }
    self.maint = maintenance_new(self.loop, cfg, publish_reply);
    self.backup = backup_new(self.loop, cfg);
    publish_attach(self.pub, self.loop, collector_on_command, &self);
    zloop_timer(self.loop, cfg->interval_ms, 0, collector_on_tick, &self);
    if (cfg->watch_interval_ms)
        zloop_timer(self.loop, cfg->watch_interval_ms, 0, collector_on_watch_tick, &self);
    log_info("collecting from node \"%s\" every %.1f s for %zu aggregator(s)", cfg->node,
             (double)cfg->interval_ms / 1000, cfg->aggregator_count);
    collector_on_tick(self.loop, 0, &self);
    zloop_start(self.loop);
    /* Give the aggregators a moment to acknowledge the last samples. */
    uint64_t unacked = publish_drain(self.pub, COLLECTOR_DRAIN_MS);
    log_info("shutting down after %llu samples (%llu dropped, %llu unacknowledged)",
             (unsigned long long)self.sequence, (unsigned long long)publish_dropped(self.pub),
             (unsigned long long)unacked);
    maintenance_destroy(&self.maint);
    backup_destroy(&self.backup);
    collector_fini(&self);
    publish_destroy(&self.pub);
    return 0;
}

static int collector_on_once_deadline(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    collector_t *self = arg;
    if (self->round_active) {
        col_sample_section_error(self->sample, section_table[self->section_i].name,
                                "timed out");
        collector_finish_round(self);
    } else if (!self->once_json) {
        snprintf(self->last_error, sizeof self->last_error, "connection timed out");
        collector_emit_down(self);
    }
    return -1;
}

json_t *collector_once(const col_config_t *cfg, bool *up)
{
    collector_t self;
    collector_init(&self, cfg);
    self.once = true;
    if (!self.loop) {
        collector_fini(&self);
        return NULL;
    }
    uint64_t deadline = cfg->connect_timeout_ms + 10 * cfg->statement_timeout_ms + 1000;
    zloop_timer(self.loop, deadline, 1, collector_on_once_deadline, &self);
    collector_connect(&self);
    if (self.state == CONN_CONNECTING)
        zloop_start(self.loop);
    if (!self.once_json) /* the connection failed at once */
        collector_emit_down(&self);
    collector_fini(&self);
    *up = self.once_up;
    return self.once_json;
}

json_t *collector_sample_json(const Pgvigil__Sample *s)
{
    json_t *j = pbjson_from_message(&s->base);
    if (!j)
        return NULL;
    char buf[LSN_TEXT_MAX];
    if (s->primary_replication && s->primary_replication->has_current_wal_lsn)
        json_object_set_new(j, "wal_lsn",
                            json_string(lsn_format(s->primary_replication->current_wal_lsn, buf)));
    if (s->replica_replication && s->replica_replication->has_receive_lsn)
        json_object_set_new(j, "receive_lsn",
                            json_string(lsn_format(s->replica_replication->receive_lsn, buf)));
    if (s->replica_replication && s->replica_replication->has_replay_lsn)
        json_object_set_new(j, "replay_lsn",
                            json_string(lsn_format(s->replica_replication->replay_lsn, buf)));
    return j;
}
