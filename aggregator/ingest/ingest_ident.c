/*
 * ingest_ident.c — key binding, sequence window and routes per node (see
 * ingest_ident.h).
 */
#include "ingest_ident.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#define INGEST_IDENT_SLACK 1000
#define INGEST_IDENT_RATE 4 /* samples per interval a collector can emit, at most */
#define INGEST_IDENT_KEY_MAX 128

typedef struct {
    char key[INGEST_IDENT_KEY_MAX];
    int64_t started_at_us;
    uint64_t last_seq;
    int64_t last_us;
    uint8_t route[INGEST_IDENT_ROUTE_MAX];
    size_t route_len;
    bool refusing, shed;
    int64_t refused_started_at_us, refused_told_us;
    uint64_t refused_from, refused_max; /* what the collector was told to resend from; the highest seen since */
} ingest_ident_node_t;

struct ingest_ident {
    zhashx_t *nodes; /* name -> ingest_ident_node_t */
};

static void ingest_ident_free(void **item)
{
    free(*item);
    *item = NULL;
}

ingest_ident_t *ingest_ident_new(void)
{
    ingest_ident_t *self = calloc(1, sizeof *self);
    if (!self || !(self->nodes = zhashx_new())) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->nodes, ingest_ident_free);
    return self;
}

void ingest_ident_destroy(ingest_ident_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->nodes);
    free(*self_p);
    *self_p = NULL;
}

bool ingest_ident_key_allows(const char *nodes, const char *node)
{
    if (!nodes || !node)
        return false;
    const char *p = nodes;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t n = strcspn(p, " ,\t");
        char pattern[128];
        if (n > 0 && n < sizeof pattern) {
            memcpy(pattern, p, n);
            pattern[n] = '\0';
            if (fnmatch(pattern, node, 0) == 0)
                return true;
        }
        p += n;
    }
    return false;
}

static ingest_ident_node_t *ingest_ident_node(ingest_ident_t *self, const char *node)
{
    ingest_ident_node_t *n = zhashx_lookup(self->nodes, node);
    if (n || zhashx_size(self->nodes) >= INGEST_IDENT_NODES_MAX)
        return n;
    if (!(n = calloc(1, sizeof *n)))
        return NULL;
    if (zhashx_insert(self->nodes, node, n) != 0) {
        free(n);
        return NULL;
    }
    return n;
}

/* The furthest sequence believable after last_seq, elapsed_us later. */
static uint64_t ingest_ident_bound(uint64_t last_seq, int64_t elapsed_us, uint32_t interval_ms)
{
    if (elapsed_us < 0)
        elapsed_us = 0;
    uint64_t intervals = (uint64_t)elapsed_us / ((uint64_t)(interval_ms ? interval_ms : 1) * 1000);
    if (intervals > UINT64_MAX / 8)
        return UINT64_MAX;
    return last_seq + INGEST_IDENT_SLACK + INGEST_IDENT_RATE * (intervals + 1);
}

ingest_reject_t ingest_ident_check(ingest_ident_t *self, const char *node, const char *key,
                                   int64_t started_at_us, uint64_t sequence, uint32_t interval_ms,
                                   int64_t now_us)
{
    ingest_ident_node_t *n = ingest_ident_node(self, node);
    if (!n)
        return INGEST_INVALID;
    bool same = n->started_at_us == started_at_us && strncmp(n->key, key, sizeof n->key) == 0 &&
                n->last_us != 0;
    uint64_t bound = same ? ingest_ident_bound(n->last_seq, now_us - n->last_us, interval_ms)
                          : ingest_ident_bound(0, now_us - started_at_us, interval_ms);
    if (sequence > bound)
        return INGEST_SEQUENCE_JUMP;
    if (!same) {
        snprintf(n->key, sizeof n->key, "%s", key);
        n->started_at_us = started_at_us;
        n->last_seq = 0;
    }
    if (sequence > n->last_seq)
        n->last_seq = sequence;
    n->last_us = now_us;
    return INGEST_OK;
}

void ingest_ident_refuse(ingest_ident_t *self, const char *node, int64_t started_at_us, uint64_t sequence,
                         uint64_t resend_from, int64_t now_us)
{
    ingest_ident_node_t *n = zhashx_lookup(self->nodes, node);
    if (!n)
        return;
    n->refusing = true;
    n->refused_started_at_us = started_at_us;
    n->refused_from = resend_from;
    n->refused_max = sequence;
    n->refused_told_us = now_us;
}

bool ingest_ident_refusing(ingest_ident_t *self, const char *node, int64_t started_at_us, uint64_t sequence,
                           int64_t now_us, bool *remind, uint64_t *resend_from)
{
    *remind = false;
    ingest_ident_node_t *n = zhashx_lookup(self->nodes, node);
    if (!n || !n->refusing)
        return false;
    if (started_at_us != n->refused_started_at_us || sequence <= n->refused_max) {
        n->refusing = false; /* a new process, or the collector went back */
        return false;
    }
    n->refused_max = sequence;
    if (now_us - n->refused_told_us >= INGEST_IDENT_REMIND_US) {
        n->refused_told_us = now_us;
        *remind = true;
        *resend_from = n->refused_from;
    }
    return true;
}

void ingest_ident_shed(ingest_ident_t *self, const char *node)
{
    ingest_ident_node_t *n = zhashx_lookup(self->nodes, node);
    if (n)
        n->shed = true;
}

bool ingest_ident_take_shed(ingest_ident_t *self, const char *node)
{
    ingest_ident_node_t *n = zhashx_lookup(self->nodes, node);
    if (!n || !n->shed)
        return false;
    n->shed = false;
    return true;
}

void ingest_ident_set_route(ingest_ident_t *self, const char *node, const void *id, size_t len)
{
    ingest_ident_node_t *n = ingest_ident_node(self, node);
    if (!n || len > sizeof n->route)
        return;
    memcpy(n->route, id, len);
    n->route_len = len;
}

const uint8_t *ingest_ident_route(ingest_ident_t *self, const char *node, size_t *len)
{
    ingest_ident_node_t *n = zhashx_lookup(self->nodes, node);
    if (!n || !n->route_len)
        return NULL;
    *len = n->route_len;
    return n->route;
}
