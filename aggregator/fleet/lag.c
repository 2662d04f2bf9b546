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

bool lag_primary_lsn_at(const lag_ring_t *r, int64_t t_us, uint64_t *lsn)
{
    if (r->n == 0)
        return false;
    const lag_point_t *first = lag_at(r, 0), *last = lag_at(r, r->n - 1);
    if (t_us <= first->t_us) {
        *lsn = first->lsn;
        return true;
    }
    if (t_us >= last->t_us) {
        *lsn = last->lsn;
        return true;
    }
    /* Binary search for the segment [a, b] holding t. */
    size_t lo = 0, hi = r->n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (lag_at(r, mid)->t_us <= t_us)
            lo = mid;
        else
            hi = mid;
    }
    const lag_point_t *a = lag_at(r, lo), *b = lag_at(r, hi);
    double f = (double)(t_us - a->t_us) / (double)(b->t_us - a->t_us);
    *lsn = a->lsn + (uint64_t)(f * (double)(b->lsn - a->lsn));
    return true;
}

int64_t lag_time_reached(const lag_ring_t *r, uint64_t lsn)
{
    if (r->n == 0)
        return INT64_MAX;
    const lag_point_t *first = lag_at(r, 0);
    if (lsn <= first->lsn)
        return first->t_us;
    if (lsn > lag_at(r, r->n - 1)->lsn)
        return INT64_MAX;
    /* First point whose LSN is >= lsn (LSNs never decrease in a ring). */
    size_t lo = 0, hi = r->n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (lag_at(r, mid)->lsn >= lsn)
            hi = mid;
        else
            lo = mid;
    }
    const lag_point_t *a = lag_at(r, lo), *b = lag_at(r, hi);
    double f = (double)(lsn - a->lsn) / (double)(b->lsn - a->lsn);
    return a->t_us + (int64_t)(f * (double)(b->t_us - a->t_us));
}

bool lag_before_ring(const lag_ring_t *r, uint64_t lsn)
{
    return r->n > 0 && lsn < lag_at(r, 0)->lsn;
}

bool lag_compute(const lag_ring_t *r, int64_t t_us, bool has_receive, uint64_t receive_lsn,
                 uint64_t replay_lsn, lag_result_t *out)
{
    uint64_t p;
    if (!lag_primary_lsn_at(r, t_us, &p))
        return false;
    out->bytes = lsn_behind(p, replay_lsn);
    out->receive_bytes = has_receive ? lsn_behind(p, receive_lsn) : 0;
    out->apply_bytes = has_receive ? lsn_behind(receive_lsn, replay_lsn) : 0;
    out->seconds = 0;
    if (out->bytes > 0) {
        int64_t reached = lag_time_reached(r, replay_lsn);
        if (reached != INT64_MAX && reached < t_us)
            out->seconds = (double)(t_us - reached) / 1e6;
    }
    return true;
}

void lag_offset_add(lag_offset_t *o, int64_t collected_at_us, int64_t received_at_us)
{
    o->v[o->next] = collected_at_us - received_at_us;
    o->next = (o->next + 1) % LAG_OFFSET_WINDOW;
    if (o->n < LAG_OFFSET_WINDOW)
        o->n++;
}

int64_t lag_offset_estimate(const lag_offset_t *o)
{
    if (o->n == 0)
        return 0;
    int64_t best = o->v[0];
    for (size_t i = 1; i < o->n; i++)
        if (o->v[i] > best)
            best = o->v[i];
    return best;
}
