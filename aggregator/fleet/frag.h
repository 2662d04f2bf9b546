/*
 * frag.h — immutable, reference-counted fragments of the fleet's views, and
 * the sets of them a snapshot is made of.
 *
 * A node fragment is an immutable copy of one node's view (nodeview.h) taken
 * when that view changed, a reference to its latest sample (frag_sample_t,
 * shared with the core, which never changes a sample once applied, so
 * nothing is copied or packed), and the keys readers
 * filter and sort on; a cluster fragment holds the cluster's state, its
 * status and references to its members' fragments. Their JSON and
 * Prometheus text are rendered on first use by whichever reader needs them
 * (fleet_view.c) and kept with the fragment: a node is rendered at most once
 * per change, and only if someone asks, so the core's cost per change is a
 * copy. A snapshot holds one frag_set_t of nodes (sorted by name) and one of
 * clusters (sorted by id); consecutive snapshots share every fragment that
 * did not change, so a publish costs what changed plus one pointer per node.
 *
 * Ownership: the core creates fragments and sets; a set holds one reference
 * to each fragment in it, a cluster fragment one to each member, a snapshot
 * one to each set. Nothing but the rendered-text caches changes after a
 * fragment is put in a set; those are set once with an atomic
 * compare-and-swap, so HTTP threads read without locks. The query and render
 * functions are for any thread.
 */
#ifndef PGVIGIL_FRAG_H
#define PGVIGIL_FRAG_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FRAG_NAME_MAX 64
#define FRAG_ID_MAX 24

/* Node states and cluster statuses, in the order "worst first" uses. */
typedef enum { FRAG_UP, FRAG_DOWN, FRAG_STALE } frag_state_t;
typedef enum { FRAG_OK, FRAG_DEGRADED, FRAG_CRITICAL } frag_status_t;

/* Rendered text, allocated with its bytes. */
typedef struct {
    size_t len;
    uint32_t *family_end; /* Prometheus text: family i is text[family_end[i-1], family_end[i]) */
    size_t families;
    char text[];
} frag_text_t;

struct node_view;
struct Pgvigil__Sample;

/* A decoded sample shared by its node (the core) and that node's fragments:
 * read-only from the moment it is wrapped; freed with its last reference,
 * on whichever thread drops it. */
typedef struct {
    atomic_uint refs;
    struct Pgvigil__Sample *s;
} frag_sample_t;

/* Wraps s (taking it) with one reference; NULL when out of memory (s is then
 * still the caller's). */
frag_sample_t *frag_sample_new(struct Pgvigil__Sample *s);
frag_sample_t *frag_sample_ref(frag_sample_t *x);
void frag_sample_unref(frag_sample_t **x_p);

typedef struct frag {
    atomic_uint refs;
    uint64_t serial;                  /* unique per fragment: an ETag ingredient */
    _Atomic(frag_text_t *) json;      /* node summary or cluster object, on first use */
    _Atomic(frag_text_t *) prom;      /* nodes: Prometheus lines family by family, on first use */
    struct node_view *view;           /* nodes: the view as it was (its latest sample NULL) */
    frag_sample_t *sample;            /* nodes: the latest sample, one reference (NULL: none) */
    struct frag **members;            /* clusters: member nodes by name, one reference each */
    char (*upstream)[FRAG_NAME_MAX];  /* clusters: each replica member's upstream ("" unknown) */
    size_t member_count;
    char primary[FRAG_NAME_MAX];      /* clusters */
    uint32_t timeline;
    bool split_brain;
    bool has_owner;                   /* clusters: "owner" shown (several aggregators) */
    char owner[FRAG_NAME_MAX];        /* clusters: "" unknown (null) */
    char name[FRAG_NAME_MAX];         /* node name; cluster display name */
    char id[FRAG_ID_MAX];             /* cluster id (system identifier), "" when unknown */
    char cluster_name[80];            /* nodes: their cluster's display name */
    char region[FRAG_NAME_MAX];       /* nodes: region; clusters: the primary's */
    uint8_t role;                     /* nodes: Pgvigil__Role */
    uint8_t state;                    /* nodes: frag_state_t; clusters: frag_status_t */
    double badness;                   /* larger is worse ("worst first") */
} frag_t;

/* A new fragment with one reference (the caller's). */
frag_t *frag_new(void);
frag_t *frag_ref(frag_t *f);
void frag_unref(frag_t **f_p);

typedef struct {
    atomic_uint refs;
    size_t count;
    frag_t **items; /* one reference each */
    const char *const *family_headers; /* "# HELP ...\n# TYPE ...\n" per family (static) */
    size_t families;
} frag_set_t;

/* A set of count (still NULL) items, one reference (the caller's). */
frag_set_t *frag_set_new(size_t count);
frag_set_t *frag_set_ref(frag_set_t *set);
void frag_set_unref(frag_set_t **set_p);

/* Binary search: the node named name (node sets) or the cluster with id
 * (cluster sets); NULL when absent. frag_set_find_cluster also matches the
 * display name. */
frag_t *frag_set_find_node(const frag_set_t *set, const char *name);
frag_t *frag_set_find_cluster(const frag_set_t *set, const char *id_or_name);

/* Filters and paging of a list request (NULL/0: any, all). Names of states
 * and statuses as the JSON shows them ("up", "degraded"...). The cursor is
 * the opaque "next" of the previous page. */
typedef struct {
    const char *region, *status, *role, *cluster, *prefix, *cursor;
    size_t limit;
    bool worst_first; /* order by badness, worst first; otherwise by name (nodes) or id (clusters) */
} frag_query_t;

typedef struct {
    size_t matched;      /* items that pass the filters */
    size_t returned;
    char next[80];       /* cursor of the next page, "" at the end */
    char etag[24];       /* "\"<hex>\"": changes when anything returned (or the paging) changes */
} frag_page_t;

/* Write the matching fragments' JSON as the elements of an array (no
 * brackets) to f. -1 when the query is malformed (bad cursor). */
int frag_set_write_json(const frag_set_t *set, bool clusters, const frag_query_t *q, FILE *f, frag_page_t *page);

/* Every node's Prometheus lines, grouped by family with their headers. */
void frag_set_write_prom(const frag_set_t *nodes, FILE *f);

/* A node's full view (summary, "sample" rendered from its latest sample,
 * "ingest" counts) as new JSON the caller owns; NULL on failure. */
json_t *frag_node_detail(frag_t *node);

/* The fragment's JSON and Prometheus text, rendered now if need be (NULL on
 * failure). */
const frag_text_t *frag_json(frag_t *f);
const frag_text_t *frag_prom(frag_t *f);

/* The renderers, in fleet_view.c (pure over the fragment, any thread). */
frag_text_t *fleet_view_render_node_json(const frag_t *node);
frag_text_t *fleet_view_render_node_prom(const frag_t *node);
frag_text_t *fleet_view_render_cluster_json(frag_t *cluster);
/* Text of len bytes (plus a NUL), for the renderers; NULL on failure. */
frag_text_t *frag_text_new(const char *text, size_t len);

#endif
