/*
 * cluster_hrw.c — rendezvous hashing over member names (cluster_hrw.h).
 *
 * The score mixes a 64-bit FNV-1a hash of the member name with the key
 * through splitmix64's finaliser: FNV alone spreads short, similar names
 * ("agg-1", "agg-2") poorly, the finaliser makes every bit of both inputs
 * reach every bit of the score.
 */
#include "cluster_hrw.h"

#include <string.h>

static uint64_t cluster_hrw_fnv1a(const char *text)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t cluster_hrw_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

uint64_t cluster_hrw_score(const char *member, uint64_t key)
{
    return cluster_hrw_mix(cluster_hrw_mix(key) ^ cluster_hrw_fnv1a(member));
}

/* Does a (score sa, name na) rank above b? */
static int cluster_hrw_above(uint64_t sa, const char *na, uint64_t sb, const char *nb)
{
    return sa > sb || (sa == sb && strcmp(na, nb) < 0);
}

int cluster_hrw_owner(const char *const *members, size_t count, uint64_t key)
{
    int best = -1;
    uint64_t best_score = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t s = cluster_hrw_score(members[i], key);
        if (best < 0 || cluster_hrw_above(s, members[i], best_score, members[best])) {
            best = (int)i;
            best_score = s;
        }
    }
    return best;
}

int cluster_hrw_heir(const char *const *members, size_t count, uint64_t key)
{
    int first = cluster_hrw_owner(members, count, key), best = -1;
    uint64_t best_score = 0;
    for (size_t i = 0; first >= 0 && i < count; i++) {
        if ((int)i == first)
            continue;
        uint64_t s = cluster_hrw_score(members[i], key);
        if (best < 0 || cluster_hrw_above(s, members[i], best_score, members[best])) {
            best = (int)i;
            best_score = s;
        }
    }
    return best;
}
