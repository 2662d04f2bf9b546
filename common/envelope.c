/*
 * envelope.c — encode and validate the envelope frame (see envelope.h).
 */
#include "envelope.h"

#include <string.h>

bool envelope_node_name_valid(const char *name)
{
    if (!name)
        return false;
    size_t n = strlen(name);
    if (n == 0 || n > ENVELOPE_NODE_MAX)
        return false;
    /* The first character is a letter or digit: no ".", "..", ".hidden" or
     * "-option"-looking names, which become URL and file path segments. */
    char first = name[0];
    if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') ||
          (first >= '0' && first <= '9')))
        return false;
    if (strstr(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool envelope_type_valid(uint8_t type)
{
    return type >= ENVELOPE_SAMPLE && type <= ENVELOPE_ACK;
}

size_t envelope_encode(const envelope_t *env, uint8_t *buf, size_t cap)
{
    if (!envelope_node_name_valid(env->node) || !envelope_type_valid(env->type))
        return 0;
    size_t n = strlen(env->node);
    if (cap < 5 + n)
        return 0;
    buf[0] = 'P';
    buf[1] = 'V';
    buf[2] = env->version ? env->version : ENVELOPE_VERSION;
    buf[3] = env->type;
    buf[4] = (uint8_t)n;
    memcpy(buf + 5, env->node, n);
    return 5 + n;
}

int envelope_decode(const uint8_t *buf, size_t len, envelope_t *out)
{
    if (!buf || len < 6 || buf[0] != 'P' || buf[1] != 'V')
        return -1;
    if (buf[2] != ENVELOPE_VERSION || !envelope_type_valid(buf[3]))
        return -1;
    size_t n = buf[4];
    if (n == 0 || n > ENVELOPE_NODE_MAX || len != 5 + n)
        return -1;
    out->version = buf[2];
    out->type = buf[3];
    memcpy(out->node, buf + 5, n);
    out->node[n] = '\0';
    return envelope_node_name_valid(out->node) ? 0 : -1;
}
