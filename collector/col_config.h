/*
 * col_config.h — the collector's configuration file (YAML). The annotated
 * reference is deploy/collector.example.yaml.
 */
#ifndef PGVIGIL_COL_CONFIG_H
#define PGVIGIL_COL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *path;
    char *node;
    char *region;
    char *dsn;
    char **aggregators;
    size_t aggregator_count;
    char **databases;            /* NULL: every connectable database */
    size_t database_count;
    uint64_t interval_ms;        /* fast cadence, default 1 s */
    uint64_t slow_interval_ms;   /* default 15 s */
    uint64_t stats_interval_ms;  /* default 60 s */
    uint64_t hourly_interval_ms; /* default 1 h */
    uint64_t watch_interval_ms;  /* watch between rounds; default 250 ms
                                    (0 when interval <= 250 ms); 0: off */
    uint64_t connect_timeout_ms; /* default 3 s */
    uint64_t statement_timeout_ms; /* default: the fast interval, at most 5 s */
    uint64_t lock_timeout_ms;    /* default 500 ms */
    bool statements_enabled;     /* default true */
    bool statements_query_text;  /* default true */
    uint64_t statements_max;     /* default 500 */
    uint64_t statements_query_text_max; /* default 1000 bytes */
    char *curve_server_public_key; /* path of the aggregator's public cert */
    char *curve_client_cert;     /* path of this collector's secret cert */
    uint64_t send_queue;         /* default 3600 */
    int log_level;               /* LOG_LEVEL_* */

    /* maintenance: operations the aggregator asks for (off unless enabled) */
    bool maintenance_enabled;
    uint64_t maintenance_statement_timeout_ms; /* default 1 h; 0: none */
    uint64_t maintenance_lock_timeout_ms;      /* default 5 s */

    /* backup: pg_verifybackup on the newest backup under backup_directory */
    char *backup_directory;      /* NULL: no backup checks */
    uint64_t backup_interval_ms; /* default 1 h */
    uint64_t backup_timeout_ms;  /* default 1 h */
    char *backup_bindir;         /* where pg_verifybackup, pg_ctl, postgres live; NULL: next to the server's version */
    bool restore_enabled;        /* restore test, default off */
    uint64_t restore_interval_ms; /* default 24 h */
    uint64_t restore_rto_ms;     /* default 1 h */
    char *restore_query;         /* completeness query, e.g. "select count(*) from weddings" */
    char *restore_database;      /* database the query runs in; default postgres */
    char *restore_user;          /* OS user that runs the scratch server when the collector is root */
    char *restore_scratch_dir;   /* default /tmp */
} col_config_t;

/* Load and validate. need_aggregators: false for --once --print. On error
 * returns NULL with a message naming the file, the key and the expectation. */
col_config_t *col_config_load(const char *path, bool need_aggregators, char *err, size_t errlen);
col_config_t *col_config_load_string(const char *name, const char *text, bool need_aggregators,
                                     char *err, size_t errlen);
void col_config_destroy(col_config_t **self_p);

#endif
