/*
 * nodeview.c — small readers of a node view (see nodeview.h).
 */
#include "nodeview.h"

const char *node_view_state(const node_view_t *v)
{
    return v->stale ? "stale" : v->up ? "up" : "down";
}

bool node_view_value(const node_view_t *v, int id, double *out)
{
    if (id < 0 || id >= METRIC_MAX || !v->known[id])
        return false;
    *out = v->value[id];
    return true;
}
