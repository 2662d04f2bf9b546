/*
 * config.c — YAML configuration access on top of libyaml's document loader.
 *
 * The whole file is loaded into a yaml_document_t; config_node_t handles wrap
 * its nodes together with their dotted key path, so that every error can say
 * where it happened. Handles are allocated on first use and freed with the
 * config (a list: configs are small and read once at start).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct config_node {
    yaml_node_t *node;
    char *path;
    struct config_node *next;
};

struct config {
    char *path;
    yaml_document_t doc;
    bool doc_loaded;
    config_node_t *nodes; /* every handle handed out */
    const config_node_t *root;
    char error[2048];
    bool failed;
};

static config_node_t *config_wrap(config_t *cfg, yaml_node_t *node, const char *path)
{
    config_node_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->node = node;
    n->path = strdup(path);
    if (!n->path) {
        free(n);
        return NULL;
    }
    n->next = cfg->nodes;
    cfg->nodes = n;
    return n;
}

static config_t *config_parse(const char *name, FILE *file, const char *text, char *err,
                              size_t errlen)
{
    config_t *cfg = calloc(1, sizeof *cfg);
    yaml_parser_t parser;
    if (!cfg || !(cfg->path = strdup(name)) || !yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto fail;
    }
    if (file)
        yaml_parser_set_input_file(&parser, file);
    else
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&parser, &cfg->doc)) {
        snprintf(err, errlen, "%s:%zu: invalid YAML: %s%s%s", name, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "parse error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        goto fail;
    }
    yaml_parser_delete(&parser);
    cfg->doc_loaded = true;

    yaml_node_t *root = yaml_document_get_root_node(&cfg->doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "%s: expected a mapping of settings (key: value lines), got %s", name,
                 root ? "another kind of document" : "an empty document");
        goto fail;
    }
    cfg->root = config_wrap(cfg, root, "");
    if (!cfg->root) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto fail;
    }
    return cfg;
fail:
    config_destroy(&cfg);
    return NULL;
}

config_t *config_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: could not open configuration file: %s", path, strerror(errno));
        return NULL;
    }
    config_t *cfg = config_parse(path, f, NULL, err, errlen);
    fclose(f);
    return cfg;
}

config_t *config_load_string(const char *name, const char *text, char *err, size_t errlen)
{
    return config_parse(name, NULL, text, err, errlen);
}

void config_destroy(config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    config_t *cfg = *self_p;
    while (cfg->nodes) {
        config_node_t *next = cfg->nodes->next;
        free(cfg->nodes->path);
        free(cfg->nodes);
        cfg->nodes = next;
    }
    if (cfg->doc_loaded)
        yaml_document_delete(&cfg->doc);
    free(cfg->path);
    free(cfg);
    *self_p = NULL;
}

const char *config_path(const config_t *cfg) { return cfg->path; }

const char *config_error(const config_t *cfg) { return cfg->failed ? cfg->error : NULL; }

const config_node_t *config_root(config_t *cfg) { return cfg->root; }

const char *config_node_path(const config_node_t *node) { return node ? node->path : ""; }

bool config_node_is_map(const config_node_t *n) { return n && n->node->type == YAML_MAPPING_NODE; }

bool config_node_is_seq(const config_node_t *n) { return n && n->node->type == YAML_SEQUENCE_NODE; }

bool config_node_is_scalar(const config_node_t *n)
{
    return n && n->node->type == YAML_SCALAR_NODE;
}

const char *config_node_scalar(const config_node_t *n)
{
    return config_node_is_scalar(n) ? (const char *)n->node->data.scalar.value : NULL;
}

static void config_join(char *out, size_t cap, const char *parent, const char *key)
{
    if (!key)
        snprintf(out, cap, "%s", parent);
    else if (parent[0] == '\0')
        snprintf(out, cap, "%s", key);
    else
        snprintf(out, cap, "%s.%s", parent, key);
}

int config_fail(config_t *cfg, const config_node_t *node, const char *key, const char *fmt, ...)
{
    if (cfg->failed)
        return -1;
    char path[512];
    config_join(path, sizeof path, config_node_path(node), key);
    size_t line = node ? node->node->start_mark.line + 1 : 0;
    /* Point at the key's own line when we can find it. */
    if (key && config_node_is_map(node)) {
        for (yaml_node_pair_t *p = node->node->data.mapping.pairs.start;
             p < node->node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&cfg->doc, p->key);
            if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
                line = k->start_mark.line + 1;
        }
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path[0])
        snprintf(cfg->error, sizeof cfg->error, "%s:%zu: key \"%s\": %s", cfg->path, line, path,
                 msg);
    else
        snprintf(cfg->error, sizeof cfg->error, "%s:%zu: %s", cfg->path, line, msg);
    cfg->failed = true;
    return -1;
}

/* The value node of key in map (raw), or NULL. */
static yaml_node_t *config_lookup(config_t *cfg, const config_node_t *map, const char *key)
{
    if (!config_node_is_map(map))
        return NULL;
    for (yaml_node_pair_t *p = map->node->data.mapping.pairs.start;
         p < map->node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&cfg->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(&cfg->doc, p->value);
    }
    return NULL;
}

/* YAML's null: "~", "null", or nothing at all after the colon. */
static bool config_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

const config_node_t *config_get(config_t *cfg, const config_node_t *map, const char *key)
{
    yaml_node_t *n = config_lookup(cfg, map, key);
    if (!n || config_is_null(n))
        return NULL;
    char path[512];
    config_join(path, sizeof path, config_node_path(map), key);
    return config_wrap(cfg, n, path);
}

int config_expect_keys(config_t *cfg, const config_node_t *map, const char *const *allowed)
{
    if (cfg->failed)
        return -1;
    if (!config_node_is_map(map))
        return config_fail(cfg, map, NULL, "expected a mapping (key: value pairs)");
    for (yaml_node_pair_t *p = map->node->data.mapping.pairs.start;
         p < map->node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&cfg->doc, p->key);
        if (!k || k->type != YAML_SCALAR_NODE)
            return config_fail(cfg, map, NULL, "expected plain text keys");
        const char *key = (const char *)k->data.scalar.value;
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, key) == 0;
        if (!known) {
            char list[400] = "";
            size_t len = 0;
            for (const char *const *a = allowed; *a && len < sizeof list; a++) {
                int w = snprintf(list + len, sizeof list - len, "%s%s", a == allowed ? "" : ", ", *a);
                if (w > 0)
                    len += (size_t)w;
            }
            return config_fail(cfg, map, key, "unknown key; expected one of: %s", list);
        }
        for (yaml_node_pair_t *q = map->node->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = yaml_document_get_node(&cfg->doc, q->key);
            if (k2 && k2->type == YAML_SCALAR_NODE && strcmp((char *)k2->data.scalar.value, key) == 0)
                return config_fail(cfg, map, key, "key appears more than once");
        }
    }
    return 0;
}

/* Fetch the scalar text of key: 1 when absent (not required), 0 found, -1 error. */
static int config_scalar(config_t *cfg, const config_node_t *map, const char *key, bool required,
                         const char *what, const char **out)
{
    if (cfg->failed)
        return -1;
    yaml_node_t *n = config_lookup(cfg, map, key);
    if (!n || config_is_null(n)) {
        if (required)
            return config_fail(cfg, map, key, "required key is missing; expected %s", what);
        return 1;
    }
    if (n->type != YAML_SCALAR_NODE)
        return config_fail(cfg, map, key, "expected %s, got a %s", what,
                           n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    *out = (const char *)n->data.scalar.value;
    return 0;
}

int config_str(config_t *cfg, const config_node_t *map, const char *key, bool required,
               const char **out)
{
    const char *v = NULL;
    int rc = config_scalar(cfg, map, key, required, "a text value", &v);
    if (rc < 0)
        return -1;
    if (rc == 0)
        *out = v;
    return 0;
}

int config_parse_duration_ms(const char *text, uint64_t *out_ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if (!text || !*text)
        return -1;
    if (strcmp(text, "0") == 0) { /* zero needs no unit ("0 turns it off") */
        *out_ms = 0;
        return 0;
    }
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0 || !isfinite(v) || *text == '+' || *text == '-')
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double ms = v * units[i].ms;
            if (ms > 1e15 || ms != floor(ms))
                return -1;
            *out_ms = (uint64_t)ms;
            return 0;
        }
    }
    return -1;
}

int config_duration_ms(config_t *cfg, const config_node_t *map, const char *key, bool required,
                       uint64_t *out_ms)
{
    const char *what = "a duration such as \"500ms\", \"1s\", \"5m\", \"1h\" or \"2d\"";
    const char *v = NULL;
    int rc = config_scalar(cfg, map, key, required, what, &v);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (config_parse_duration_ms(v, out_ms) != 0)
        return config_fail(cfg, map, key, "expected %s, got \"%s\"", what, v);
    return 0;
}

int config_uint(config_t *cfg, const config_node_t *map, const char *key, bool required,
                uint64_t min, uint64_t max, uint64_t *out)
{
    const char *v = NULL;
    int rc = config_scalar(cfg, map, key, required, "a whole number", &v);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n < min || n > max)
        return config_fail(cfg, map, key, "expected a whole number from %llu to %llu, got \"%s\"",
                           (unsigned long long)min, (unsigned long long)max, v);
    *out = n;
    return 0;
}

int config_double(config_t *cfg, const config_node_t *map, const char *key, bool required,
                  double min, double max, double *out)
{
    const char *v = NULL;
    int rc = config_scalar(cfg, map, key, required, "a number", &v);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    errno = 0;
    char *end;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < min || d > max)
        return config_fail(cfg, map, key, "expected a number from %g to %g, got \"%s\"", min, max,
                           v);
    *out = d;
    return 0;
}

int config_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (text && strcasecmp(text, yes[i]) == 0)
            return (*out = true), 0;
        if (text && strcasecmp(text, no[i]) == 0)
            return (*out = false), 0;
    }
    return -1;
}

int config_bool(config_t *cfg, const config_node_t *map, const char *key, bool required,
                bool *out)
{
    const char *v = NULL;
    int rc = config_scalar(cfg, map, key, required, "true or false", &v);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (config_parse_bool(v, out) != 0)
        return config_fail(cfg, map, key, "expected true or false, got \"%s\"", v);
    return 0;
}

int config_enum(config_t *cfg, const config_node_t *map, const char *key, bool required,
                const char *const *choices, int *out_index)
{
    char list[400] = "";
    size_t len = 0;
    for (const char *const *c = choices; *c && len < sizeof list; c++) {
        int w = snprintf(list + len, sizeof list - len, "%s%s", c == choices ? "" : ", ", *c);
        if (w > 0)
            len += (size_t)w;
    }
    char what[440];
    snprintf(what, sizeof what, "one of: %s", list);
    const char *v = NULL;
    int rc = config_scalar(cfg, map, key, required, what, &v);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    for (int i = 0; choices[i]; i++) {
        if (strcmp(choices[i], v) == 0) {
            *out_index = i;
            return 0;
        }
    }
    return config_fail(cfg, map, key, "expected %s, got \"%s\"", what, v);
}

static int config_container(config_t *cfg, const config_node_t *map, const char *key,
                            bool required, yaml_node_type_t type, const config_node_t **out)
{
    const char *what = type == YAML_MAPPING_NODE ? "a mapping (key: value pairs)" : "a list";
    *out = NULL;
    if (cfg->failed)
        return -1;
    const config_node_t *n = config_get(cfg, map, key);
    if (!n) {
        if (required)
            return config_fail(cfg, map, key, "required key is missing; expected %s", what);
        return 0;
    }
    if (n->node->type != type)
        return config_fail(cfg, map, key, "expected %s", what);
    *out = n;
    return 0;
}

int config_map(config_t *cfg, const config_node_t *map, const char *key, bool required,
               const config_node_t **out)
{
    return config_container(cfg, map, key, required, YAML_MAPPING_NODE, out);
}

int config_seq(config_t *cfg, const config_node_t *map, const char *key, bool required,
               const config_node_t **out)
{
    return config_container(cfg, map, key, required, YAML_SEQUENCE_NODE, out);
}

size_t config_seq_len(const config_node_t *seq)
{
    if (!config_node_is_seq(seq))
        return 0;
    return (size_t)(seq->node->data.sequence.items.top - seq->node->data.sequence.items.start);
}

const config_node_t *config_seq_at(config_t *cfg, const config_node_t *seq, size_t i)
{
    if (i >= config_seq_len(seq))
        return NULL;
    yaml_node_t *n = yaml_document_get_node(&cfg->doc, seq->node->data.sequence.items.start[i]);
    char path[512];
    snprintf(path, sizeof path, "%s[%zu]", seq->path, i);
    return n ? config_wrap(cfg, n, path) : NULL;
}

int config_seq_str(config_t *cfg, const config_node_t *seq, size_t i, const char **out)
{
    if (cfg->failed)
        return -1;
    const config_node_t *item = config_seq_at(cfg, seq, i);
    if (!config_node_is_scalar(item) || config_is_null(item->node))
        return config_fail(cfg, item ? item : seq, NULL, "expected a text value in the list");
    *out = config_node_scalar(item);
    return 0;
}

size_t config_map_len(const config_node_t *map)
{
    if (!config_node_is_map(map))
        return 0;
    return (size_t)(map->node->data.mapping.pairs.top - map->node->data.mapping.pairs.start);
}

const char *config_map_key(config_t *cfg, const config_node_t *map, size_t i)
{
    if (i >= config_map_len(map))
        return NULL;
    yaml_node_t *k = yaml_document_get_node(&cfg->doc, map->node->data.mapping.pairs.start[i].key);
    return (k && k->type == YAML_SCALAR_NODE) ? (const char *)k->data.scalar.value : NULL;
}

const config_node_t *config_map_value(config_t *cfg, const config_node_t *map, size_t i)
{
    if (i >= config_map_len(map))
        return NULL;
    yaml_node_pair_t *p = &map->node->data.mapping.pairs.start[i];
    yaml_node_t *k = yaml_document_get_node(&cfg->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(&cfg->doc, p->value);
    if (!k || k->type != YAML_SCALAR_NODE || !v)
        return NULL;
    char path[512];
    config_join(path, sizeof path, map->path, (const char *)k->data.scalar.value);
    return config_wrap(cfg, v, path);
}
