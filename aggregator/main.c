/*
 * main.c — pgvigil-aggregator: command line, configuration, and the actors
 * started in order (store, notify after restoring open alerts, core, ingest,
 * HTTP) and stopped in reverse on SIGINT or SIGTERM.
 *
 *   pgvigil-aggregator -c FILE [--log-level LEVEL]
 *   pgvigil-aggregator keygen PATH
 *   pgvigil-aggregator token          (a new API token and its SHA-256)
 *   pgvigil-aggregator --version
 *
 * Exit status: 0 clean stop, 1 runtime failure (a port cannot be bound),
 * 2 usage or configuration error.
 */
#include <civetweb.h>
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "agg_config.h"
#include "auth.h"
#include "core.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "notify.h"
#include "snapshot.h"
#include "store.h"

static int keygen(const char *path)
{
    zcert_t *cert = zcert_new();
    if (!cert || zcert_save(cert, path) != 0) {
        fprintf(stderr, "pgvigil-aggregator: could not write key pair \"%s\" and \"%s_secret\"\n",
                path, path);
        zcert_destroy(&cert);
        return 1;
    }
    printf("public key %s written to %s (secret in %s_secret)\n", zcert_public_txt(cert), path, path);
    zcert_destroy(&cert);
    return 0;
}

static int run(const agg_config_t *cfg)
{
    static ingest_counters_t counters;
    static notify_stats_t notify_stats;
    char err[512] = "", alert_spool[1024];
    int rc = 1;
    const char *sql_dir = getenv("PGVIGIL_SQL_DIR") ? getenv("PGVIGIL_SQL_DIR") : PGVIGIL_SQL_DIR;
    json_t *alerts = NULL, *silences = NULL;
    notify_t *notify = NULL;
    core_t *core = NULL;
    store_t *store = NULL;
    ingest_t *ingest = NULL;
    http_t *http = NULL;
    snapshot_holder_t *snaps = snapshot_holder_new();
    if (cfg->storage_dsn) {
        char spool[1024];
        snprintf(spool, sizeof spool, "%s/aggregator.spool", cfg->spool_dir);
        store_options_t opt = {.dsn = cfg->storage_dsn,
                               .sql_dir = sql_dir,
                               .spool_path = spool,
                               .retention_days = cfg->retention_days,
                               .partitions_ahead_days = cfg->partitions_ahead_days,
                               .memory_rows = cfg->memory_rows,
                               .maintenance_interval_ms = cfg->maintenance_interval_ms};
        if (!(store = store_new(&opt)))
            goto done;
    } else {
        log_warning("storage is not configured: no history is kept");
    }
    snprintf(alert_spool, sizeof alert_spool, "%s/alerts.spool", cfg->spool_dir);
    notify_load_state(cfg->storage_dsn, sql_dir, alert_spool, &alerts, &silences);
    if (!(notify = notify_new(cfg, sql_dir, alert_spool, &notify_stats))) {
        log_error("could not start notifications: out of memory");
        goto done;
    }
    if (!snaps || !(core = core_new(cfg, snaps, store, alerts, silences))) {
        log_error("could not start the core: out of memory");
        goto done;
    }
    if (!(ingest = ingest_new(cfg, CORE_SAMPLES_ENDPOINT, &counters, err, sizeof err))) {
        log_report(LOG_LEVEL_ERROR, NULL, "Check listen.ingest in the configuration.",
                   "could not start ingest: %s", err);
        goto done;
    }
    if (!(http = http_new(cfg, snaps, &counters, store, &notify_stats, err, sizeof err))) {
        log_report(LOG_LEVEL_ERROR, NULL, "Check listen.http in the configuration.", "%s", err);
        goto done;
    }
    log_info("aggregating samples on %s; HTTP API on http://%s/", cfg->ingest_endpoints[0],
             cfg->http_listen);
    while (!zsys_interrupted)
        zclock_sleep(100);
    log_info("shutting down");
    rc = 0;
done:
    core_quiesce(core);
    http_destroy(&http);
    ingest_destroy(&ingest);
    core_destroy(&core);
    notify_destroy(&notify);
    store_destroy(&store);
    json_decref(alerts);
    json_decref(silences);
    snapshot_holder_destroy(&snaps);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *level_text = NULL;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"log-level", required_argument, NULL, 'l'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    if (argc == 3 && strcmp(argv[1], "keygen") == 0)
        return keygen(argv[2]);
    if (argc == 2 && strcmp(argv[1], "token") == 0) {
        char token[64], hex[65];
        if (auth_new_token(token, hex) != 0) {
            fprintf(stderr, "pgvigil-aggregator: no random bytes available\n");
            return 1;
        }
        printf("token:  %s\nsha256: %s\n# auth.tokens entry: {name: NAME, role: viewer|operator|admin, sha256: %s}\n",
               token, hex, hex);
        return 0;
    }
    int c;
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'l': level_text = optarg; break;
        case 'V': printf("pgvigil-aggregator %s\n", PGVIGIL_VERSION); return 0;
        default:
            fprintf(stderr, "usage: pgvigil-aggregator -c FILE [--log-level LEVEL]\n");
            return 2;
        }
    }
    if (!path || optind != argc) {
        fprintf(stderr, "usage: pgvigil-aggregator -c FILE [--log-level LEVEL]\n"
                        "       pgvigil-aggregator keygen PATH\n"
                        "       pgvigil-aggregator token\n");
        return 2;
    }
    log_init("pgvigil-aggregator", LOG_LEVEL_INFO);
    char err[2048];
    agg_config_t *cfg = agg_config_load(path, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "pgvigil-aggregator: %s\n", err);
        return 2;
    }
    log_level_t level = (log_level_t)cfg->log_level;
    if (level_text && log_parse_level(level_text, &level) != 0) {
        fprintf(stderr, "pgvigil-aggregator: --log-level: expected debug, info, warning or error\n");
        agg_config_destroy(&cfg);
        return 2;
    }
    log_set_level(level);
    mg_init_library(0);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread starts */
    int rc = run(cfg);
    curl_global_cleanup();
    mg_exit_library();
    agg_config_destroy(&cfg);
    return rc;
}
