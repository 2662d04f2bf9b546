/*
 * peak_events.c — the peak.events_query actor (see peak_events.h).
 */
#include "peak_events.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "actor.h"
#include "log.h"

struct peak_events {
    const alert_config_t *ac;
    zactor_t *actor;
    PGconn *db;
    atomic_int_fast64_t count, at_us;
    atomic_bool peak;
    bool failing;
};

static void pe_query(peak_events_t *self)
{
    if (!self->db || PQstatus(self->db) != CONNECTION_OK) {
        PQfinish(self->db);
        char conninfo[4096];
        snprintf(conninfo, sizeof conninfo, "%s connect_timeout=5 application_name=pgvigil-peak-events "
                                            "options='-c statement_timeout=5000'",
                 self->ac->events_dsn);
        self->db = PQconnectdb(conninfo);
    }
    PGresult *r = PQstatus(self->db) == CONNECTION_OK ? PQexec(self->db, self->ac->events_sql) : NULL;
    char *end = NULL;
    long long n = -1;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) >= 1 &&
        !PQgetisnull(r, 0, 0))
        n = strtoll(PQgetvalue(r, 0, 0), &end, 10);
    if (n < 0 || !end || *end) {
        if (!self->failing) /* the query text and DSN stay out of the log */
            log_warning("peak.events_query failed (%s); the calendar alone decides peak days until it works",
                        r ? "not one non-negative integer, or a query error" : "application database unreachable");
        self->failing = true;
        PQclear(r);
        return;
    }
    PQclear(r);
    if (self->failing)
        log_info("peak.events_query works again");
    self->failing = false;
    bool peak = (uint64_t)n >= self->ac->events_threshold;
    if (peak && !atomic_load(&self->peak))
        log_info("today has %lld events: a peak day", n);
    atomic_store(&self->count, n);
    atomic_store(&self->peak, peak);
    atomic_store(&self->at_us, clock_wall_us());
}

static int pe_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    pe_query(arg);
    return 0;
}

static void pe_actor(zsock_t *pipe, void *arg)
{
    peak_events_t *self = arg;
    zloop_t *loop = zloop_new();
    zloop_set_nonstop(loop, true);
    zloop_reader(loop, pipe, actor_on_pipe, self);
    zloop_timer(loop, self->ac->events_interval_ms, 0, pe_on_timer, self);
    zsock_signal(pipe, 0);
    pe_query(self);
    zloop_start(loop);
    zloop_destroy(&loop);
    PQfinish(self->db);
    self->db = NULL;
}

peak_events_t *peak_events_new(const alert_config_t *ac)
{
    if (!ac->events_dsn || !ac->events_sql)
        return NULL;
    peak_events_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ac = ac;
    atomic_store(&self->count, -1);
    if (!(self->actor = zactor_new(pe_actor, self))) {
        free(self);
        return NULL;
    }
    return self;
}

void peak_events_destroy(peak_events_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}

bool peak_events_peak(peak_events_t *self, int64_t *count, int64_t *at_us)
{
    *count = atomic_load(&self->count);
    *at_us = atomic_load(&self->at_us);
    return atomic_load(&self->peak);
}
