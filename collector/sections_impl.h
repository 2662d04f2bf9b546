/*
 * sections_impl.h — the SQL choosers and decoders of every section, for the
 * table in sections.c. One file per group of sections.
 */
#ifndef PGVIGIL_SECTIONS_IMPL_H
#define PGVIGIL_SECTIONS_IMPL_H

#include <stdlib.h>

#include "section.h"

#define SECTION_DECL(name)                                                          \
    const char *name##_sql(const section_ctx_t *ctx);                               \
    int name##_decode(const PGresult *r, section_ctx_t *ctx, Pgvigil__Sample *s, \
                      char *err, size_t errlen)

/* section_activity.c */
SECTION_DECL(connections);
SECTION_DECL(locks);
/* section_replication.c */
SECTION_DECL(primary_replication);
SECTION_DECL(replica_replication);
SECTION_DECL(slots);
/* section_server.c */
SECTION_DECL(databases);
SECTION_DECL(checkpointer);
SECTION_DECL(archiver);
SECTION_DECL(wraparound);
/* section_relations.c */
SECTION_DECL(tables);
SECTION_DECL(indexes);
/* section_statements.c */
SECTION_DECL(statements);

/* Allocate and init a protobuf-c message into ptr; false if out of memory. */
#define SECTION_NEW(ptr, init) (((ptr) = malloc(sizeof *(ptr))) != NULL ? (init(ptr), true) : false)
/* Allocate an array of n message pointers (NULL-safe for n == 0). */
void *section_new_array(size_t n);

#endif
