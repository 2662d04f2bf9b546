/*
 * config.h — YAML configuration files (libyaml) with typed access and errors
 * that name the file, the line, the key and what was expected:
 *
 *   /etc/pgvigil/collector.yaml:7: key "interval": expected a duration such
 *   as "1s" or "500ms", got "fast"
 *
 * A config_t owns the parsed document; every string and node handle it hands
 * out lives until config_destroy(). The first error is kept (config_error())
 * and every accessor returns -1 once it has happened, so callers may check
 * once after a run of reads, or at each call.
 *
 * Accessors take a mapping node and a key. When the key is absent and not
 * required, they return 0 and leave *out untouched (so callers preset the
 * default). Unknown keys are errors too: call config_expect_keys() on every
 * mapping so a typo ("intreval") is reported, not silently ignored.
 */
#ifndef PGVIGIL_CONFIG_H
#define PGVIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct config config_t;
typedef struct config_node config_node_t;

/* Parse path. On failure returns NULL and writes the reason to err. */
config_t *config_load(const char *path, char *err, size_t errlen);
/* Parse a YAML text held in memory; name is used in messages. */
config_t *config_load_string(const char *name, const char *text, char *err, size_t errlen);
void config_destroy(config_t **self_p);

const char *config_path(const config_t *cfg);
/* The first error recorded, or NULL. */
const char *config_error(const config_t *cfg);

/* The document's top-level mapping (an error if the document is not one). */
const config_node_t *config_root(config_t *cfg);

/* Dotted key path of a node ("aggregators[1]", "sections.tables"). */
const char *config_node_path(const config_node_t *node);
bool config_node_is_map(const config_node_t *node);
bool config_node_is_seq(const config_node_t *node);
bool config_node_is_scalar(const config_node_t *node);
/* The scalar's text, or NULL if the node is not a scalar. */
const char *config_node_scalar(const config_node_t *node);

/* Record an error at node (or, with key, at node's child key) and return -1.
 * The message should say what was expected and what was found. */
int config_fail(config_t *cfg, const config_node_t *node, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Every key of map must be in allowed (NULL-terminated). */
int config_expect_keys(config_t *cfg, const config_node_t *map, const char *const *allowed);

/* Child of map at key, or NULL when absent (no error). */
const config_node_t *config_get(config_t *cfg, const config_node_t *map, const char *key);

int config_str(config_t *cfg, const config_node_t *map, const char *key, bool required,
               const char **out);
/* Durations: "250ms", "1s", "1.5s", "5m", "1h", "2d". A bare number is refused. */
int config_duration_ms(config_t *cfg, const config_node_t *map, const char *key, bool required,
                       uint64_t *out_ms);
int config_uint(config_t *cfg, const config_node_t *map, const char *key, bool required,
                uint64_t min, uint64_t max, uint64_t *out);
int config_double(config_t *cfg, const config_node_t *map, const char *key, bool required,
                  double min, double max, double *out);
int config_bool(config_t *cfg, const config_node_t *map, const char *key, bool required,
                bool *out);
/* One of choices (NULL-terminated); *out_index is the position in choices. */
int config_enum(config_t *cfg, const config_node_t *map, const char *key, bool required,
                const char *const *choices, int *out_index);
int config_map(config_t *cfg, const config_node_t *map, const char *key, bool required,
               const config_node_t **out);
int config_seq(config_t *cfg, const config_node_t *map, const char *key, bool required,
               const config_node_t **out);

/* Sequences: length, items, and scalar items as strings. */
size_t config_seq_len(const config_node_t *seq);
const config_node_t *config_seq_at(config_t *cfg, const config_node_t *seq, size_t i);
int config_seq_str(config_t *cfg, const config_node_t *seq, size_t i, const char **out);

/* Mappings: iterate over keys in file order. */
size_t config_map_len(const config_node_t *map);
const char *config_map_key(config_t *cfg, const config_node_t *map, size_t i);
const config_node_t *config_map_value(config_t *cfg, const config_node_t *map, size_t i);

/* Pure parsers, also used by the accessors. Return 0, or -1 if malformed. */
int config_parse_duration_ms(const char *text, uint64_t *out_ms);
int config_parse_bool(const char *text, bool *out);

#endif
