/*
 * lag.h — replication lag arithmetic (DESIGN 4.1). Pure: no I/O, no clocks.
 *
 * Each cluster keeps a ring of (time, primary WAL LSN) points, with times
 * already mapped onto the aggregator's clock. For a replica sample at time t
 * with replay LSN L:
 *   bytes   = P(t) - L, P interpolated between primary points and held at the
 *             newest point after it (an idle primary does not advance);
 *   seconds = t - t*, t* the moment the primary's LSN first reached L
 *             (interpolated), 0 once L has reached P(t). An idle primary thus
 *             reads 0, unlike now() - pg_last_xact_replay_timestamp(). When L
 *             is older than the whole ring, t* is the oldest point's time, so
 *             the figure is a lower bound (the ring holds LAG_RING_POINTS).
 *   receive bytes = P(t) - receive LSN (network); apply bytes = receive - replay.
 * LSN differences never wrap: they are computed as "how far is b behind a".
 *
 * Collector clocks: offset = max over a window of (collected_at - received_at).
 * collected_at - received_at = clock offset - transit delay, so the largest
 * value is the one with the least delay; subtracting it maps collector times
 * onto the aggregator clock without negative or phantom lag from skew.
 */
#ifndef PGVIGIL_LAG_H
#define PGVIGIL_LAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAG_RING_POINTS 900
#define LAG_OFFSET_WINDOW 64

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
/* Append a primary point. Points must move forward in time; one older than
 * the newest is ignored. An LSN below the newest (a new primary, a restored
 * server) restarts the ring. */
void lag_ring_push(lag_ring_t *r, int64_t t_us, uint64_t lsn);
/* P(t); false when the ring is empty. */
bool lag_primary_lsn_at(const lag_ring_t *r, int64_t t_us, uint64_t *lsn);
/* t*: when the primary's LSN first reached lsn; INT64_MAX if it has not
 * (as far as the ring knows); the oldest time if lsn predates the ring. */
int64_t lag_time_reached(const lag_ring_t *r, uint64_t lsn);
/* True when lsn is older than everything the ring holds (e.g. just after the
 * aggregator started): the ring then only gives a lower bound of the lag. */
bool lag_before_ring(const lag_ring_t *r, uint64_t lsn);

typedef struct {
    uint64_t bytes;
    double seconds;
    uint64_t receive_bytes;
    uint64_t apply_bytes;
} lag_result_t;

/* Lag of a replica sample at t_us. has_receive false: receive lag unknown
 * (reported as 0) and apply bytes 0. Returns false when the ring is empty. */
bool lag_compute(const lag_ring_t *r, int64_t t_us, bool has_receive, uint64_t receive_lsn,
                 uint64_t replay_lsn, lag_result_t *out);

typedef struct {
    int64_t v[LAG_OFFSET_WINDOW];
    size_t n, next;
} lag_offset_t;

void lag_offset_add(lag_offset_t *o, int64_t collected_at_us, int64_t received_at_us);
/* The estimate (0 with no data): collector clock minus aggregator clock. */
int64_t lag_offset_estimate(const lag_offset_t *o);

#endif
