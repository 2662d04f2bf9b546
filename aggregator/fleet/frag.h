/*
 * frag.h — immutable, reference-counted fragments of the fleet's views, and
 * the sets of them a snapshot is made of.
 *
 * A node fragment holds what the API and /metrics show of one node, rendered
 * once when its node view changed (fleet_frags.c): its summary as JSON text,
 * its Prometheus lines family by family, its latest sample packed (the
 * detail view unpacks and renders it on request, so no reader pays for
 * rendering every sample), and the keys readers filter and sort on. A
 * cluster fragment holds one cluster's JSON with its members. A snapshot
 * holds one frag_set_t of nodes (sorted by name) and one of clusters (sorted
 * by id); consecutive snapshots share every fragment that did not change, so
 * a publish costs what changed plus one pointer per node.
 *
 * Ownership: the core creates fragments and sets; a set holds one reference
 * to each fragment in it, a snapshot one reference to each set. Nothing is
 * modified after it is put in a set, so HTTP threads read without locks;
 * reference counts are atomic. The query and render functions are for any
 * thread.
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

typedef struct frag {
    atomic_uint refs;
    uint64_t serial;                  /* unique per fragment: an ETag ingredient */
    char *json;                       /* node summary or cluster object, compact JSON */
    size_t json_len;
    char *prom;                       /* nodes: Prometheus lines, family by family */
    uint32_t *family_end;             /* family i is prom[family_end[i-1], family_end[i]) */
    size_t families;
    uint8_t *sample;                  /* nodes: the latest sample, protobuf (NULL: none) */
    size_t sample_len;
    uint64_t received, gaps, duplicates, restarts; /* nodes: the detail view's "ingest" */
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
const frag_t *frag_set_find_node(const frag_set_t *set, const char *name);
const frag_t *frag_set_find_cluster(const frag_set_t *set, const char *id_or_name);

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

/* A node's full view (summary, "sample" rendered from its packed sample,
 * "ingest" counts) as new JSON the caller owns; NULL on failure. */
json_t *frag_node_detail(const frag_t *node);

#endif
