/*
 * pbjson.c — descriptor-driven protobuf-c to JSON (see pbjson.h).
 */
#include "pbjson.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lsn.h"

static bool pbjson_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ROLE_PRIMARY of enum Role -> "primary". */
static json_t *pbjson_enum(const ProtobufCEnumDescriptor *ed, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(ed, value);
    if (!v)
        return json_integer(value);
    const char *name = v->name;
    size_t plen = strlen(ed->short_name);
    if (strlen(name) > plen + 1 && name[plen] == '_' && strncasecmp(name, ed->short_name, plen) == 0)
        name += plen + 1;
    char buf[128];
    size_t i = 0;
    for (; name[i] && i < sizeof buf - 1; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[i] = '\0';
    return json_string(buf);
}

static json_t *pbjson_u64(const ProtobufCFieldDescriptor *f, uint64_t v)
{
    if (pbjson_ends_with(f->name, "_lsn")) {
        char buf[LSN_TEXT_MAX];
        return json_string(lsn_format(v, buf));
    }
    if (strcmp(f->name, "system_identifier") == 0) {
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRIu64, v);
        return json_string(buf);
    }
    /* JSON integers are signed 64-bit in jansson; counters never get there. */
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* One value of field f stored at p. */
static json_t *pbjson_value(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return pbjson_u64(f, *(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return pbjson_enum(f->descriptor, *(const int *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s ? json_string(s) : NULL;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return json_pack("{s:I}", "bytes", (json_int_t)((const ProtobufCBinaryData *)p)->len);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(const ProtobufCMessage *const *)p;
        return m ? pbjson_from_message(m) : NULL;
    }
    }
    return NULL;
}

static size_t pbjson_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

/* Is a singular field present? */
static bool pbjson_present(const ProtobufCFieldDescriptor *f, const char *base)
{
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *)(base + f->offset) != NULL;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
    return true; /* required, or proto3 without presence */
}

json_t *pbjson_from_message(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *base = (const char *)msg;
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *v = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (n == 0)
                continue;
            const char *items = *(const char *const *)(base + f->offset);
            v = json_array();
            for (size_t k = 0; v && k < n; k++) {
                json_t *item = pbjson_value(f, items + k * pbjson_size(f->type));
                if (item && json_array_append_new(v, item) != 0)
                    json_decref(v), v = NULL;
            }
        } else if (pbjson_present(f, base)) {
            v = pbjson_value(f, base + f->offset);
        } else {
            continue;
        }
        if (!v || json_object_set_new(obj, f->name, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}
