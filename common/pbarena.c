/*
 * pbarena.c — see pbarena.h. The arena header and its first chunk are one
 * allocation; further chunks hang from it, newest first.
 */
#include "pbarena.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

typedef struct pbarena_chunk {
    struct pbarena_chunk *next; /* the chunk filled before this one */
    size_t size, used;
    _Alignas(16) unsigned char data[];
} pbarena_chunk_t;

typedef struct pbarena {
    _Alignas(16) pbarena_chunk_t *cur; /* being filled; its chain ends at the first */
    size_t bytes;
} pbarena_t;

#define PBARENA_SLOT sizeof(pbarena_t *)
#define PBARENA_RATIO_MIN 16       /* decoded bytes per wire byte, x16 */
#define PBARENA_RATIO_MAX (64 * 16)

/* Decoded bytes per wire byte (x16) this thread saw lately. */
static _Thread_local size_t pbarena_ratio = 8 * 16;

static pbarena_t *pbarena_of(const ProtobufCMessage *m)
{
    const unsigned char *slot = (const unsigned char *)m - PBARENA_SLOT;
    pbarena_t *a;
    ASAN_UNPOISON_MEMORY_REGION(slot, PBARENA_SLOT);
    memcpy(&a, slot, sizeof a);
    ASAN_POISON_MEMORY_REGION(slot, PBARENA_SLOT);
    return a;
}

static pbarena_chunk_t *pbarena_first(pbarena_t *a) { return (pbarena_chunk_t *)(a + 1); }

static void pbarena_release(pbarena_t *a)
{
    pbarena_chunk_t *c = a->cur;
    while (c != pbarena_first(a)) {
        pbarena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

static void *pbarena_alloc(void *data, size_t size)
{
    pbarena_t *a = data;
    size_t need = PBARENA_SLOT + ((size + 7) & ~(size_t)7);
    if (need < size)
        return NULL;
    pbarena_chunk_t *c = a->cur;
    if (c->size - c->used < need) {
        size_t cap = c->size > need ? c->size : need;
        if (!(c = malloc(sizeof *c + cap)))
            return NULL;
        *c = (pbarena_chunk_t){.next = a->cur, .size = cap};
        ASAN_POISON_MEMORY_REGION(c->data, cap);
        a->cur = c;
        a->bytes += sizeof *c + cap;
    }
    unsigned char *p = c->data + c->used;
    c->used += need;
    ASAN_UNPOISON_MEMORY_REGION(p, PBARENA_SLOT);
    memcpy(p, &a, sizeof a);
    ASAN_POISON_MEMORY_REGION(p, PBARENA_SLOT);
    ASAN_UNPOISON_MEMORY_REGION(p + PBARENA_SLOT, size);
    return p + PBARENA_SLOT;
}

/* Parts are freed with the whole (protobuf-c frees its scratch and, after a
 * failed decode, what it built so far). */
static void pbarena_keep(void *data, void *p)
{
    (void)data;
    (void)p;
}

static pbarena_t *pbarena_new(size_t len)
{
    size_t cap = len / 16 * pbarena_ratio + len % 16 * pbarena_ratio / 16 + 512;
    cap = (cap + 63) & ~(size_t)63;
    pbarena_t *a = malloc(sizeof *a + sizeof(pbarena_chunk_t) + cap);
    if (!a)
        return NULL;
    pbarena_chunk_t *c = pbarena_first(a);
    *c = (pbarena_chunk_t){.size = cap};
    ASAN_POISON_MEMORY_REGION(c->data, cap);
    *a = (pbarena_t){.cur = c, .bytes = sizeof *a + sizeof *c + cap};
    return a;
}

/* Moves the thread's ratio an eighth of the way to what this message took. */
static void pbarena_learn(const pbarena_t *a, size_t len)
{
    if (len == 0)
        return;
    size_t used = 0;
    for (const pbarena_chunk_t *c = a->cur; c; c = c->next)
        used += c->used;
    size_t now = used / len * 16 + used % len * 16 / len + 1;
    if (now > PBARENA_RATIO_MAX)
        now = PBARENA_RATIO_MAX;
    size_t r = (pbarena_ratio * 7 + now) / 8;
    pbarena_ratio = r < PBARENA_RATIO_MIN ? PBARENA_RATIO_MIN : r;
}

ProtobufCMessage *pbarena_unpack(const ProtobufCMessageDescriptor *d, size_t len, const uint8_t *data)
{
    pbarena_t *a = pbarena_new(len);
    if (!a)
        return NULL;
    ProtobufCAllocator al = {.alloc = pbarena_alloc, .free = pbarena_keep, .allocator_data = a};
    ProtobufCMessage *m = protobuf_c_message_unpack(d, &al, len, data);
    if (!m) {
        pbarena_release(a);
        return NULL;
    }
    pbarena_learn(a, len);
    return m;
}

void pbarena_free(ProtobufCMessage *m)
{
    if (m)
        pbarena_release(pbarena_of(m));
}

ProtobufCMessage *pbarena_copy(ProtobufCMessage *owner, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    protobuf_c_message_pack(m, buf);
    ProtobufCAllocator al = {.alloc = pbarena_alloc, .free = pbarena_keep, .allocator_data = pbarena_of(owner)};
    ProtobufCMessage *copy = protobuf_c_message_unpack(m->descriptor, &al, len, buf);
    free(buf);
    return copy;
}

size_t pbarena_bytes(const ProtobufCMessage *owner) { return pbarena_of(owner)->bytes; }
