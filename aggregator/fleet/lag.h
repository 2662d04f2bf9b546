/*
 * lag.h — replication lag arithmetic (DESIGN 4.1). Pure: no I/O, no clocks.
 *
 * Each cluster keeps a ring of (time, primary WAL LSN) points, with times
 * already mapped onto the aggregator's clock. The ring is read as a
 * function P(t), the primary's WAL position at t:
 *   - between two points, linear; except after an idle spell (the segment
 *     before the earlier point is flat), where the primary is taken to stay
 *     put until the middle of the segment and write from there: a write
 *     after a pause happened somewhere in the segment, and its middle halves
 *     the worst error (the end of the idle spell is not known better);
 *   - after the newest point, extrapolated from the recent write rate for at
 *     most LAG_EXTRAPOLATE_MAX_US (results say so: estimated = true), and
 *     held at the newest point when the primary was idle at any point in
 *     the rate window (it writes in bursts: the next may well not come);
 *   - before the oldest point, held at the oldest.
 * For a replica observed at time t with receive LSN R and replay LSN L, the
 * lag evaluated at time `at` (t itself, or later for a replica whose position
 * cannot move, e.g. paused):
 *   P       = max(P(at), R, L)  (the replica cannot hold WAL not yet written)
 *   bytes   = P - L = receive_bytes + apply_bytes, always;
 *   receive_bytes = P - R (network), apply_bytes = R - L (replay);
 *   seconds = at - t*(L), t*(L) the moment P first went *beyond* L, 0 while
 *             P(at) <= L. Counting from the moment P reached L instead would
 *             charge an idle spell at L to the replica; an idle primary
 *             reads 0, unlike now() - pg_last_xact_replay_timestamp();
 *   receive_seconds likewise from R.
 * When L predates the ring t* is the oldest point's time: a lower bound
 * (lower_bound = true). LSN differences never wrap.
 *
 * Collector clocks: offset = max over a window of (collected_at - received_at)
 * = clock offset - transit delay at the least delayed sample; subtracting it
 * maps collector times onto the aggregator clock. The window restarts when
 * the collector process does (a new process may run on a reset clock), and
 * when the last LAG_OFFSET_SHORT samples all sit more than LAG_OFFSET_STEP_US
 * below the window's maximum (the clock was stepped back; a step forward
 * raises the maximum at once). Until a step is confirmed, a sample is never
 * mapped more than LAG_OFFSET_STEP_US before it arrived, so a stale offset
 * cannot hide lag by dating a replica's position into the past.
 */
#ifndef PGVIGIL_LAG_H
#define PGVIGIL_LAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAG_RING_POINTS 900
#define LAG_RATE_WINDOW_US 2000000LL      /* write rate for extrapolation: last 2 s */
#define LAG_EXTRAPOLATE_MAX_US 2000000LL  /* never extrapolate further than 2 s */
#define LAG_OFFSET_WINDOW 64
#define LAG_OFFSET_SHORT 3
#define LAG_OFFSET_STEP_US 250000LL

typedef struct {
    int64_t t_us;
    uint64_t lsn;
} lag_point_t;

typedef struct {
    lag_point_t pts[LAG_RING_POINTS];
    size_t head; /* index of the oldest point */
    size_t n;
} lag_ring_t;

void lag_ring_reset(lag_ring_t *r);
/* Append a primary point. Points must move forward in time; one not newer
 * than the newest is ignored. An LSN below the newest (a new primary, a
 * restored server) restarts the ring. */
void lag_ring_push(lag_ring_t *r, int64_t t_us, uint64_t lsn);
/* A spell the primary's WAL stood at lsn from t_from to t_until (before
 * the next point): its end goes in, and its start unless the newest point
 * already stands at lsn. */
void lag_ring_push_still(lag_ring_t *r, int64_t t_from_us, int64_t t_until_us, uint64_t lsn);
/* The write rate extrapolation uses past the newest point, bytes/s (0 when
 * the primary writes in bursts or the ring is short). */
double lag_ring_rate(const lag_ring_t *r);
/* Time of the newest point; INT64_MIN when empty. */
int64_t lag_ring_newest(const lag_ring_t *r);
/* P(t); false when the ring is empty. *estimated (may be NULL) tells that t
 * is after the newest point and the value was extrapolated or held. */
bool lag_primary_lsn_at(const lag_ring_t *r, int64_t t_us, uint64_t *lsn, bool *estimated);
/* t*: when P first went beyond lsn; INT64_MAX if it does not by
 * until_us; the oldest point's time if lsn predates the ring. */
int64_t lag_time_passed(const lag_ring_t *r, uint64_t lsn, int64_t until_us);
/* True when lsn is older than everything the ring holds (e.g. just after the
 * aggregator started): the ring then only gives a lower bound of the lag. */
bool lag_before_ring(const lag_ring_t *r, uint64_t lsn);

/* A replica's position as its sample saw it (t on the aggregator clock). */
typedef struct {
    int64_t t_us;
    bool has_receive; /* false: no receive position (no WAL receiver ever ran) */
    uint64_t receive_lsn, replay_lsn;
} lag_observation_t;

typedef struct {
    uint64_t bytes;         /* = receive_bytes + apply_bytes */
    uint64_t receive_bytes; /* not yet received; all of bytes without a receive position */
    uint64_t apply_bytes;   /* received, not yet replayed */
    double seconds;         /* since the primary first wrote beyond the replay position */
    double receive_seconds; /* likewise beyond the receive position */
    bool estimated;         /* the primary's position at that time was extrapolated */
    bool lower_bound;       /* the replay position predates the ring */
} lag_result_t;

/* Lag of the replica seen in obs, evaluated at at_us (>= obs->t_us; later
 * only when the replica's position cannot have moved since). Returns false
 * when the ring is empty. */
bool lag_compute(const lag_ring_t *r, const lag_observation_t *obs, int64_t at_us, lag_result_t *out);

typedef struct {
    int64_t v[LAG_OFFSET_WINDOW];
    size_t n, next;
    int64_t started_at_us; /* the collector process the window belongs to */
    uint64_t steps;        /* clock steps followed */
} lag_offset_t;

/* Add a sample's (collected_at - received_at); a new collector_started_at_us
 * restarts the window. Returns true when the window restarted (restart or
 * step) because of this sample. */
bool lag_offset_add(lag_offset_t *o, int64_t collector_started_at_us, int64_t collected_at_us,
                    int64_t received_at_us);
/* The estimate over the whole window (0 with no data): collector clock minus
 * aggregator clock. */
int64_t lag_offset_estimate(const lag_offset_t *o);
/* The same over the last LAG_OFFSET_SHORT samples only. */
int64_t lag_offset_recent(const lag_offset_t *o);
/* A collector time mapped onto the aggregator clock (see the file comment). */
int64_t lag_offset_map(const lag_offset_t *o, int64_t collector_us, int64_t received_at_us);

#endif
