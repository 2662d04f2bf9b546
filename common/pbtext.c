/*
 * pbtext.c — UTF-8 and control-character checks over protobuf-c messages
 * (see pbtext.h).
 */
#include "pbtext.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid or cut
 * short by end; *cp receives the code point. RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF. */
static size_t pbtext_utf8_seq(const unsigned char *s, const unsigned char *end, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, *cp = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, *cp = c & 0x0Fu, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, *cp = c & 0x07u, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if ((size_t)(end - s) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            return 0;
        *cp = (*cp << 6) | (b & 0x3Fu);
    }
    return n;
}

static bool pbtext_control(uint32_t cp)
{
    return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp <= 0x9F);
}

pbtext_result_t pbtext_check_str(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        uint32_t cp;
        size_t n = pbtext_utf8_seq(p, end, &cp);
        if (n == 0)
            return PBTEXT_BAD_UTF8;
        if (pbtext_control(cp))
            return PBTEXT_CONTROL;
        p += n;
    }
    return PBTEXT_OK;
}

const char *pbtext_result_name(pbtext_result_t r)
{
    static const char *const names[] = {"ok", "bad_utf8", "control_character", "too_long",
                                        "too_deep"};
    return (unsigned)r <= PBTEXT_TOO_DEEP ? names[r] : "unknown";
}

/* The values of field f in m: a count and a pointer to the first. */
static size_t pbtext_values(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                            void *const **first)
{
    const char *base = (const char *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n;
        memcpy(&n, base + f->quantifier_offset, sizeof n);
        *first = *(void *const *const *)(base + f->offset);
        return *first ? n : 0;
    }
    *first = (void *const *)(base + f->offset);
    return **first ? 1 : 0;
}

/* The fields walked down to the one being checked, innermost first: the
 * path is written out only when a check fails. */
typedef struct pbtext_frame {
    const char *name;
    const struct pbtext_frame *up;
} pbtext_frame_t;

/* "outer.inner.name" into where; a path too long for it is cut (it only
 * names the field). Returns the length written. */
static size_t pbtext_path(char *where, size_t len, const pbtext_frame_t *f)
{
    if (!f || !where || !len)
        return 0;
    size_t at = pbtext_path(where, len, f->up);
    int n = snprintf(where + at, len - at, "%s%s", at ? "." : "", f->name);
    if (n < 0)
        return at;
    return at + (size_t)n < len ? at + (size_t)n : len - 1;
}

static pbtext_result_t pbtext_walk(const ProtobufCMessage *m, size_t max_len, int depth,
                                   const pbtext_frame_t *up, char *where, size_t wherelen)
{
    if (depth > PBTEXT_DEPTH_MAX)
        return PBTEXT_TOO_DEEP;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        void *const *v;
        size_t n = pbtext_values(m, f, &v);
        pbtext_frame_t here = {f->name, up};
        for (size_t k = 0; k < n; k++) {
            pbtext_result_t r = PBTEXT_OK;
            if (!v[k])
                continue;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                r = pbtext_walk(v[k], max_len, depth + 1, &here, where, wherelen);
                if (r != PBTEXT_OK)
                    return r; /* where names the innermost field */
                continue;
            }
            size_t len = strnlen(v[k], max_len + 1);
            r = len > max_len ? PBTEXT_TOO_LONG : pbtext_check_str(v[k], len);
            if (r != PBTEXT_OK) {
                pbtext_path(where, wherelen, &here);
                return r;
            }
        }
    }
    return PBTEXT_OK;
}

pbtext_result_t pbtext_check_message(const ProtobufCMessage *m, size_t max_len, char *where,
                                     size_t wherelen)
{
    if (where && wherelen)
        where[0] = '\0';
    return pbtext_walk(m, max_len, 0, NULL, where, wherelen);
}

/* Appends the UTF-8 form of cp (below U+0800 here) to out. */
static size_t pbtext_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

char *pbtext_to_utf8(const char *s, size_t max_len)
{
    size_t len = strlen(s);
    char *out = malloc(2 * len + 1); /* a LATIN1 byte takes at most two */
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    size_t o = 0;
    while (p < end) {
        uint32_t cp;
        size_t n = pbtext_utf8_seq(p, end, &cp);
        char enc[4];
        size_t elen;
        if (n == 0) { /* not UTF-8: this byte is LATIN1 */
            cp = *p;
            n = 1;
        }
        if (pbtext_control(cp))
            elen = pbtext_put(enc, '?');
        else if (n > 1)
            memcpy(enc, p, elen = n);
        else
            elen = pbtext_put(enc, cp);
        if (o + elen > max_len)
            break;
        memcpy(out + o, enc, elen);
        o += elen;
        p += n;
    }
    out[o] = '\0';
    return out;
}

static int pbtext_repair_walk(ProtobufCMessage *m, size_t max_len, int depth)
{
    int changed = 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (depth > PBTEXT_DEPTH_MAX)
        return 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        void *const *v;
        size_t n = pbtext_values(m, f, &v);
        for (size_t k = 0; k < n; k++) {
            if (!v[k])
                continue;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int r = pbtext_repair_walk(v[k], max_len, depth + 1);
                if (r < 0)
                    return -1;
                changed += r;
                continue;
            }
            char **slot = (char **)&v[k];
            size_t len = strnlen(*slot, max_len + 1);
            if (len <= max_len && pbtext_check_str(*slot, len) == PBTEXT_OK)
                continue;
            char *fixed = pbtext_to_utf8(*slot, max_len);
            if (!fixed)
                return -1;
            free(*slot);
            *slot = fixed;
            changed++;
        }
    }
    return changed;
}

int pbtext_repair_message(ProtobufCMessage *m, size_t max_len)
{
    return pbtext_repair_walk(m, max_len, 0);
}
