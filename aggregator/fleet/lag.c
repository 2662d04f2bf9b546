/*
 * lag.c — see lag.h.
 */
#include "lag.h"

#include "lsn.h"

static const lag_point_t *lag_at(const lag_ring_t *r, size_t i)
{
    return &r->pts[(r->head + i) % LAG_RING_POINTS];
}

void lag_ring_reset(lag_ring_t *r)
{
    r->head = 0;
    r->n = 0;
}

void lag_ring_push(lag_ring_t *r, int64_t t_us, uint64_t lsn)
{
    if (r->n > 0) {
        const lag_point_t *last = lag_at(r, r->n - 1);
        if (t_us <= last->t_us)
            return;
        if (lsn < last->lsn)
            lag_ring_reset(r);
    }
    if (r->n == LAG_RING_POINTS) {
        r->head = (r->head + 1) % LAG_RING_POINTS;
        r->n--;
    }
    r->pts[(r->head + r->n) % LAG_RING_POINTS] = (lag_point_t){t_us, lsn};
    r->n++;
}

void lag_ring_push_still(lag_ring_t *r, int64_t t_from_us, int64_t t_until_us, uint64_t lsn)
{
    if (r->n == 0 || lag_at(r, r->n - 1)->lsn != lsn)
        lag_ring_push(r, t_from_us, lsn);
    lag_ring_push(r, t_until_us, lsn);
}

int64_t lag_ring_newest(const lag_ring_t *r)
{
    return r->n ? lag_at(r, r->n - 1)->t_us : INT64_MIN;
}

/* When the primary starts writing in segment [i, i+1]: at point i, unless
 * it was idle up to point i, then in the middle of the segment. */
static int64_t lag_segment_start(const lag_ring_t *r, size_t i)
{
    const lag_point_t *a = lag_at(r, i), *b = lag_at(r, i + 1);
    if (i > 0 && lag_at(r, i - 1)->lsn == a->lsn && b->lsn > a->lsn)
        return a->t_us + (b->t_us - a->t_us) / 2;
    return a->t_us;
}

/* Write rate at the newest point, bytes per µs, over the last
 * LAG_RATE_WINDOW_US; 0 when any segment in it is flat: the primary writes
 * in bursts then, and the next burst is as likely not to come. */
static double lag_rate(const lag_ring_t *r)
{
    if (r->n < 2)
        return 0;
    const lag_point_t *last = lag_at(r, r->n - 1);
    size_t i = r->n - 2;
    if (lag_at(r, i)->lsn == last->lsn)
        return 0;
    while (i > 0 && last->t_us - lag_at(r, i - 1)->t_us <= LAG_RATE_WINDOW_US) {
        if (lag_at(r, i - 1)->lsn == lag_at(r, i)->lsn)
            return 0;
        i--;
    }
    const lag_point_t *first = lag_at(r, i);
    return (double)(last->lsn - first->lsn) / (double)(last->t_us - first->t_us);
}

double lag_ring_rate(const lag_ring_t *r)
{
    return lag_rate(r) * 1e6;
}

/* Last index whose time is <= t (0 if t precedes the ring). */
static size_t lag_index_at_time(const lag_ring_t *r, int64_t t_us)
{
    size_t lo = 0, hi = r->n - 1;
    if (lag_at(r, hi)->t_us <= t_us)
        return hi;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (lag_at(r, mid)->t_us <= t_us)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

bool lag_primary_lsn_at(const lag_ring_t *r, int64_t t_us, uint64_t *lsn, bool *estimated)
{
    if (r->n == 0)
        return false;
    const lag_point_t *first = lag_at(r, 0), *last = lag_at(r, r->n - 1);
    if (estimated)
        *estimated = t_us > last->t_us;
    if (t_us <= first->t_us) {
        *lsn = first->lsn;
        return true;
    }
    if (t_us >= last->t_us) {
        int64_t ahead = t_us - last->t_us;
        if (ahead > LAG_EXTRAPOLATE_MAX_US)
            ahead = LAG_EXTRAPOLATE_MAX_US;
        *lsn = last->lsn + (uint64_t)(lag_rate(r) * (double)ahead);
        return true;
    }
    size_t i = lag_index_at_time(r, t_us);
    const lag_point_t *a = lag_at(r, i), *b = lag_at(r, i + 1);
    int64_t start = lag_segment_start(r, i);
    if (t_us <= start) {
        *lsn = a->lsn;
        return true;
    }
    double f = (double)(t_us - start) / (double)(b->t_us - start);
    *lsn = a->lsn + (uint64_t)(f * (double)(b->lsn - a->lsn));
    return true;
}

/* Beyond the newest point: when the extrapolated tail passes lsn. */
static int64_t lag_time_passed_after(const lag_ring_t *r, uint64_t lsn, int64_t until_us)
{
    const lag_point_t *last = lag_at(r, r->n - 1);
    double rate = lag_rate(r);
    if (rate <= 0)
        return INT64_MAX;
    int64_t t = last->t_us + (int64_t)((double)(lsn - last->lsn) / rate) + 1;
    if (t - last->t_us > LAG_EXTRAPOLATE_MAX_US || t > until_us)
        return INT64_MAX;
    return t;
}

int64_t lag_time_passed(const lag_ring_t *r, uint64_t lsn, int64_t until_us)
{
    if (r->n == 0)
        return INT64_MAX;
    const lag_point_t *first = lag_at(r, 0);
    if (lsn < first->lsn)
        return first->t_us;
    if (lsn >= lag_at(r, r->n - 1)->lsn)
        return lag_time_passed_after(r, lsn, until_us);
    /* a = the last point at or below lsn; b, the next, is beyond it (LSNs
     * never decrease in a ring). */
    size_t lo = 0, hi = r->n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (lag_at(r, mid)->lsn <= lsn)
            lo = mid;
        else
            hi = mid;
    }
    const lag_point_t *a = lag_at(r, lo), *b = lag_at(r, hi);
    int64_t start = lag_segment_start(r, lo);
    double f = (double)(lsn - a->lsn) / (double)(b->lsn - a->lsn);
    int64_t t = start + (int64_t)(f * (double)(b->t_us - start));
    return t > until_us ? INT64_MAX : t;
}

bool lag_before_ring(const lag_ring_t *r, uint64_t lsn)
{
    return r->n > 0 && lsn < lag_at(r, 0)->lsn;
}

static double lag_seconds_behind(const lag_ring_t *r, uint64_t p, uint64_t lsn, int64_t at_us)
{
    if (p <= lsn)
        return 0;
    int64_t passed = lag_time_passed(r, lsn, at_us);
    /* The replica holds WAL beyond lsn that the ring does not show yet: it
     * was written just now, as far as anyone can tell. */
    if (passed == INT64_MAX || passed >= at_us)
        return 0;
    return (double)(at_us - passed) / 1e6;
}

bool lag_compute(const lag_ring_t *r, const lag_observation_t *obs, int64_t at_us, lag_result_t *out)
{
    uint64_t p;
    bool estimated;
    if (!lag_primary_lsn_at(r, at_us, &p, &estimated))
        return false;
    uint64_t replay = obs->replay_lsn;
    uint64_t receive = obs->has_receive && obs->receive_lsn > replay ? obs->receive_lsn : replay;
    if (receive > p)
        p = receive;
    out->estimated = estimated;
    out->lower_bound = lag_before_ring(r, replay);
    out->bytes = p - replay;
    out->apply_bytes = obs->has_receive ? receive - replay : 0;
    out->receive_bytes = out->bytes - out->apply_bytes;
    out->seconds = lag_seconds_behind(r, p, replay, at_us);
    out->receive_seconds = obs->has_receive ? lag_seconds_behind(r, p, receive, at_us) : out->seconds;
    return true;
}

static int64_t lag_offset_max(const lag_offset_t *o, size_t last)
{
    if (o->n == 0)
        return 0;
    if (last > o->n)
        last = o->n;
    int64_t best = INT64_MIN;
    for (size_t k = 1; k <= last; k++) {
        int64_t v = o->v[(o->next + LAG_OFFSET_WINDOW - k) % LAG_OFFSET_WINDOW];
        if (v > best)
            best = v;
    }
    return best;
}

bool lag_offset_add(lag_offset_t *o, int64_t collector_started_at_us, int64_t collected_at_us,
                    int64_t received_at_us)
{
    bool restarted = false;
    if (o->n > 0 && collector_started_at_us != o->started_at_us) {
        o->n = o->next = 0;
        restarted = true;
    }
    o->started_at_us = collector_started_at_us;
    o->v[o->next] = collected_at_us - received_at_us;
    o->next = (o->next + 1) % LAG_OFFSET_WINDOW;
    if (o->n < LAG_OFFSET_WINDOW)
        o->n++;
    if (o->n > LAG_OFFSET_SHORT && lag_offset_max(o, o->n) - lag_offset_recent(o) > LAG_OFFSET_STEP_US) {
        /* A step back: keep only the samples taken since. */
        int64_t keep[LAG_OFFSET_SHORT];
        for (size_t k = 0; k < LAG_OFFSET_SHORT; k++)
            keep[k] = o->v[(o->next + LAG_OFFSET_WINDOW - LAG_OFFSET_SHORT + k) % LAG_OFFSET_WINDOW];
        for (size_t k = 0; k < LAG_OFFSET_SHORT; k++)
            o->v[k] = keep[k];
        o->n = o->next = LAG_OFFSET_SHORT;
        o->steps++;
        restarted = true;
    }
    return restarted;
}

int64_t lag_offset_estimate(const lag_offset_t *o)
{
    return lag_offset_max(o, o->n);
}

int64_t lag_offset_recent(const lag_offset_t *o)
{
    return lag_offset_max(o, LAG_OFFSET_SHORT);
}

int64_t lag_offset_map(const lag_offset_t *o, int64_t collector_us, int64_t received_at_us)
{
    int64_t t = collector_us - lag_offset_estimate(o);
    if (t < received_at_us - LAG_OFFSET_STEP_US)
        t = received_at_us - LAG_OFFSET_STEP_US;
    return t;
}
