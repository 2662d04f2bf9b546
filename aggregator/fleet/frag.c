/*
 * frag.c — fragments and fragment sets (see frag.h): reference counting,
 * lookup, filtered and paged JSON lists, Prometheus text, the node detail.
 */
#include "frag.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "nodeview.h"
#include "pbarena.h"
#include "pbjson.h"
#include "pgvigil.pb-c.h"

static atomic_uint_fast64_t frag_serials = 1;

frag_t *frag_new(void)
{
    frag_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1);
    f->serial = atomic_fetch_add(&frag_serials, 1);
    return f;
}

frag_sample_t *frag_sample_new(Pgvigil__Sample *s)
{
    frag_sample_t *x = s ? malloc(sizeof *x) : NULL;
    if (x) {
        atomic_init(&x->refs, 1);
        x->s = s;
    }
    return x;
}

frag_sample_t *frag_sample_ref(frag_sample_t *x)
{
    if (x)
        atomic_fetch_add(&x->refs, 1);
    return x;
}

void frag_sample_unref(frag_sample_t **x_p)
{
    frag_sample_t *x = x_p ? *x_p : NULL;
    if (!x)
        return;
    *x_p = NULL;
    if (atomic_fetch_sub(&x->refs, 1) != 1)
        return;
    pbarena_free(&x->s->base);
    free(x);
}

frag_t *frag_ref(frag_t *f)
{
    if (f)
        atomic_fetch_add(&f->refs, 1);
    return f;
}

void frag_unref(frag_t **f_p)
{
    frag_t *f = f_p ? *f_p : NULL;
    if (!f)
        return;
    *f_p = NULL;
    if (atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    frag_text_t *json = atomic_load(&f->json), *prom = atomic_load(&f->prom);
    if (prom)
        free(prom->family_end);
    free(json);
    free(prom);
    free(f->view);
    frag_sample_unref(&f->sample);
    for (size_t i = 0; i < f->member_count; i++)
        frag_unref(&f->members[i]);
    free(f->members);
    free(f->upstream);
    free(f);
}

frag_text_t *frag_text_new(const char *text, size_t len)
{
    frag_text_t *t = malloc(sizeof *t + len + 1);
    if (!t)
        return NULL;
    t->len = len;
    t->family_end = NULL;
    t->families = 0;
    memcpy(t->text, text, len);
    t->text[len] = '\0';
    return t;
}

/* Keep the first rendering installed (another reader may have won). */
static const frag_text_t *frag_install(_Atomic(frag_text_t *) *slot, frag_text_t *mine)
{
    frag_text_t *have = NULL;
    if (!mine || atomic_compare_exchange_strong(slot, &have, mine))
        return mine;
    free(mine->family_end);
    free(mine);
    return have;
}

const frag_text_t *frag_json(frag_t *f)
{
    frag_text_t *have = atomic_load(&f->json);
    if (have)
        return have;
    return frag_install(&f->json, f->view ? fleet_view_render_node_json(f) : fleet_view_render_cluster_json(f));
}

const frag_text_t *frag_prom(frag_t *f)
{
    frag_text_t *have = atomic_load(&f->prom);
    if (have || !f->view)
        return have;
    return frag_install(&f->prom, fleet_view_render_node_prom(f));
}

frag_set_t *frag_set_new(size_t count)
{
    frag_set_t *set = calloc(1, sizeof *set);
    if (!set || !(set->items = calloc(count ? count : 1, sizeof *set->items))) {
        free(set);
        return NULL;
    }
    atomic_init(&set->refs, 1);
    set->count = count;
    return set;
}

frag_set_t *frag_set_ref(frag_set_t *set)
{
    if (set)
        atomic_fetch_add(&set->refs, 1);
    return set;
}

void frag_set_unref(frag_set_t **set_p)
{
    frag_set_t *set = set_p ? *set_p : NULL;
    if (!set)
        return;
    *set_p = NULL;
    if (atomic_fetch_sub(&set->refs, 1) != 1)
        return;
    for (size_t i = 0; i < set->count; i++)
        frag_unref(&set->items[i]);
    free(set->items);
    free(set);
}

/* Cluster ids compare as numbers (the sets are sorted that way). */
static int frag_id_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);
}

static int frag_key_cmp(const frag_t *f, const char *key, bool clusters)
{
    return clusters ? frag_id_cmp(f->id, key) : strcmp(f->name, key);
}

/* Index of the first item whose key is greater than key (after = true) or
 * not less than it. */
static size_t frag_set_bound(const frag_set_t *set, const char *key, bool clusters, bool after)
{
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = frag_key_cmp(set->items[mid], key, clusters);
        if (c < 0 || (after && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

frag_t *frag_set_find_node(const frag_set_t *set, const char *name)
{
    size_t i = set ? frag_set_bound(set, name, false, false) : 0;
    return set && i < set->count && strcmp(set->items[i]->name, name) == 0 ? set->items[i] : NULL;
}

frag_t *frag_set_find_cluster(const frag_set_t *set, const char *id_or_name)
{
    if (!set)
        return NULL;
    size_t i = frag_set_bound(set, id_or_name, true, false);
    if (i < set->count && strcmp(set->items[i]->id, id_or_name) == 0)
        return set->items[i];
    for (i = 0; i < set->count; i++)
        if (strcmp(set->items[i]->name, id_or_name) == 0)
            return set->items[i];
    return NULL;
}

static const char *const frag_state_names[] = {"up", "down", "stale"};
static const char *const frag_status_names[] = {"ok", "degraded", "critical"};
static const char *const frag_role_names[] = {"unknown", "primary", "replica"};

static bool frag_matches(const frag_t *f, bool clusters, const frag_query_t *q)
{
    const char *const *states = clusters ? frag_status_names : frag_state_names;
    if (q->region && strcmp(f->region, q->region) != 0)
        return false;
    if (q->status && (f->state > 2 || strcmp(states[f->state], q->status) != 0))
        return false;
    if (q->role && !clusters && (f->role > 2 || strcmp(frag_role_names[f->role], q->role) != 0))
        return false;
    if (q->cluster && strcmp(f->id, q->cluster) != 0 &&
        strcmp(clusters ? f->name : f->cluster_name, q->cluster) != 0)
        return false;
    if (q->prefix && strncmp(f->name, q->prefix, strlen(q->prefix)) != 0)
        return false;
    return true;
}

static int frag_worse(const void *a, const void *b)
{
    const frag_t *x = *(const frag_t *const *)a, *y = *(const frag_t *const *)b;
    if (x->badness != y->badness)
        return x->badness > y->badness ? -1 : 1;
    return strcmp(x->name, y->name);
}

static uint64_t frag_fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* The matching items in answer order, and where the cursor puts the page. */
static frag_t **frag_select(const frag_set_t *set, bool clusters, const frag_query_t *q, size_t *n,
                                  size_t *offset)
{
    frag_t **sel = calloc(set->count ? set->count : 1, sizeof *sel);
    size_t k = 0;
    *offset = 0;
    if (!sel)
        return NULL;
    for (size_t i = 0; i < set->count; i++)
        if (frag_matches(set->items[i], clusters, q))
            sel[k++] = set->items[i];
    *n = k;
    const char *cursor = q->cursor && q->cursor[0] ? q->cursor + 2 : NULL;
    if (q->worst_first) {
        qsort(sel, k, sizeof *sel, frag_worse);
        if (cursor)
            *offset = strtoull(cursor, NULL, 10);
    } else if (cursor) { /* set order: the first key after the cursor's */
        while (*offset < k && frag_key_cmp(sel[*offset], cursor, clusters) <= 0)
            (*offset)++;
    }
    return sel;
}

int frag_set_write_json(const frag_set_t *set, bool clusters, const frag_query_t *q, FILE *f, frag_page_t *page)
{
    size_t n = 0, offset = 0;
    memset(page, 0, sizeof *page);
    if (q->cursor && q->cursor[0] && !((q->cursor[0] == 'k' && !q->worst_first) || (q->cursor[0] == 'o' && q->worst_first)))
        return -1;
    frag_t **sel = frag_select(set, clusters, q, &n, &offset);
    if (!sel)
        return -1;
    page->matched = n;
    uint64_t h = 14695981039346656037ull;
    size_t end = q->limit && offset + q->limit < n ? offset + q->limit : n;
    for (size_t i = offset; i < end; i++) {
        const frag_text_t *t = frag_json(sel[i]);
        if (i > offset)
            fputc(',', f);
        if (t)
            fwrite(t->text, 1, t->len, f);
        else
            fputs("null", f); /* out of memory: the list keeps its shape */
        h = frag_fnv(h, &sel[i]->serial, sizeof sel[i]->serial);
    }
    page->returned = end > offset ? end - offset : 0;
    if (end < n && page->returned) {
        if (q->worst_first)
            snprintf(page->next, sizeof page->next, "o:%zu", end);
        else
            snprintf(page->next, sizeof page->next, "k:%s", clusters ? sel[end - 1]->id : sel[end - 1]->name);
    }
    h = frag_fnv(h, &page->matched, sizeof page->matched);
    h = frag_fnv(h, page->next, strlen(page->next));
    snprintf(page->etag, sizeof page->etag, "\"%016" PRIx64 "\"", h);
    free(sel);
    return 0;
}

void frag_set_write_prom(const frag_set_t *nodes, FILE *f)
{
    if (!nodes)
        return;
    const frag_text_t **texts = calloc(nodes->count ? nodes->count : 1, sizeof *texts);
    if (!texts)
        return;
    for (size_t i = 0; i < nodes->count; i++)
        texts[i] = frag_prom(nodes->items[i]);
    for (size_t fam = 0; fam < nodes->families; fam++) {
        fputs(nodes->family_headers[fam], f);
        for (size_t i = 0; i < nodes->count; i++) {
            const frag_text_t *x = texts[i];
            if (!x || fam >= x->families)
                continue;
            uint32_t from = fam ? x->family_end[fam - 1] : 0, to = x->family_end[fam];
            fwrite(x->text + from, 1, to - from, f);
        }
    }
    free(texts);
}

json_t *frag_node_detail(frag_t *node)
{
    const frag_text_t *t = frag_json(node);
    json_t *j = t ? json_loadb(t->text, t->len, 0, NULL) : NULL;
    if (!j || !node->view)
        return j;
    const node_view_t *v = node->view;
    if (node->sample)
        json_object_set_new(j, "sample", pbjson_from_message(&node->sample->s->base));
    json_object_set_new(j, "ingest",
                        json_pack("{s:I, s:I, s:I, s:I}", "received", (json_int_t)v->received, "gaps",
                                  (json_int_t)v->gaps, "duplicates", (json_int_t)v->duplicates, "restarts",
                                  (json_int_t)v->restarts));
    return j;
}
