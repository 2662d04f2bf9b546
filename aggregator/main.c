/*
 * main.c — pgvigil-aggregator: command line, configuration, and the actors
 * started in order (store, coordination with the other aggregators, notify
 * after restoring open alerts, core, ingest, HTTP) and stopped in reverse on
 * SIGINT or SIGTERM.
 *
 *   pgvigil-aggregator -c FILE [--log-level LEVEL]
 *   pgvigil-aggregator check-config FILE (validate as at start; nothing runs)
 *   pgvigil-aggregator keygen PATH
 *   pgvigil-aggregator token          (a new API token and its SHA-256)
 *   pgvigil-aggregator --help | --version
 *
 * The --help text is also the source of the man page (help2man, see
 * deploy/man/), so it documents every subcommand and option.
 *
 * SIGHUP re-reads the file: a bad one is refused (logged, the running
 * configuration kept); a good one is applied live (main_reload). SIGHUP is
 * blocked in every
 * thread (set before any starts) and taken with sigtimedwait() by the main
 * loop alone: a handler would interrupt an actor's zmq_poll(), which czmq
 * reads as "terminated".
 *
 * Exit status: 0 clean stop, 1 runtime failure (a port cannot be bound),
 * 2 usage or configuration error.
 */
#include <civetweb.h>
#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <czmq.h>

#include "agg_config.h"
#include "auth.h"
#include "cluster.h"
#include "core.h"
#include "core_cluster.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "notify.h"
#include "snapshot.h"
#include "store.h"

#ifndef PGVIGIL_SQL_INSTALL_DIR
#define PGVIGIL_SQL_INSTALL_DIR PGVIGIL_SQL_DIR
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: pgvigil-aggregator -c FILE [--log-level LEVEL]\n"
            "  or:  pgvigil-aggregator check-config FILE\n"
            "  or:  pgvigil-aggregator keygen PATH\n"
            "  or:  pgvigil-aggregator token\n"
            "  or:  pgvigil-aggregator --help | --version\n"
            "\n"
            "Receive samples from pgvigil collectors, keep the fleet's state, history and\n"
            "alerts, and serve the HTTP API and the dashboard.\n"
            "\n"
            "Subcommands:\n"
            "  check-config FILE    validate FILE exactly as the daemon does at start,\n"
            "                       print any error (file:line: key: what was expected)\n"
            "                       and exit 0 if valid, 2 if not; nothing is started\n"
            "  keygen PATH          write a CURVE key pair: the public certificate PATH\n"
            "                       (copy it to each collector) and PATH_secret (the\n"
            "                       aggregator's curve.server_cert)\n"
            "  token                print a new API token and the SHA-256 to put in\n"
            "                       auth.tokens\n"
            "\n"
            "Options:\n"
            "  -c, --config=FILE    run the aggregator with the configuration FILE\n"
            "                       (YAML; e.g. /etc/pgvigil/aggregator.yaml)\n"
            "      --log-level=LEVEL  debug, info, warning or error; overrides log_level\n"
            "  -h, --help           print this help and exit\n"
            "  -V, --version        print the version and exit\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop cleanly (history is flushed or spooled);\n"
            "SIGHUP re-reads the configuration file: alert rules, receivers, escalation,\n"
            "peak calendars, display names and API tokens apply at once, alert and fleet\n"
            "state are kept; listen addresses, storage and CURVE keys need a restart;\n"
            "a file that is not valid is refused and the running configuration kept.\n"
            "\n"
            "Exit status: 0 clean stop or valid configuration, 1 runtime failure (for\n"
            "example a port that cannot be bound), 2 usage or configuration error.\n");
}

/* check-config: the daemon's own loader, then a one-line verdict. */
static int check_config(const char *path)
{
    char err[2048];
    agg_config_t *cfg = agg_config_load(path, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "pgvigil-aggregator: %s\n", err);
        fprintf(stderr, "%s: configuration is NOT valid\n", path);
        return 2;
    }
    printf("%s: configuration is valid\n", path);
    agg_config_destroy(&cfg);
    return 0;
}

/* SIGHUP: re-read the file; a bad one is refused whole (the running
 * configuration stays in force). A good one goes to each owner of state,
 * which swaps it at a safe point of its own thread: notify (receivers), the
 * core (rules, escalation, peak calendars; alert and fleet state kept),
 * HTTP (tokens). Keys that need a restart keep their running values.
 * Every loaded configuration is kept in loaded until exit: actors and
 * civetweb threads may still point into an older one. */
static const agg_config_t *main_reload(const agg_config_t *cur, zlistx_t *loaded, notify_t *notify, core_t *core,
                                       http_t *http)
{
    char err[2048], keys[512];
    agg_config_t *next = agg_config_load(cur->path, err, sizeof err);
    if (!next) {
        log_report(LOG_LEVEL_ERROR, NULL, "Fix the file and send SIGHUP again; the running configuration is kept.",
                   "SIGHUP: reload refused: %s", err);
        return cur;
    }
    if (!zlistx_add_end(loaded, next)) {
        log_error("SIGHUP: out of memory; the running configuration is kept");
        agg_config_destroy(&next);
        return cur;
    }
    if (agg_config_restart_only(cur, next, keys, sizeof keys))
        log_warning("SIGHUP: %s changed in \"%s\"; these need a restart and keep their running values", keys,
                    cur->path);
    if (cur->auth.enabled && !next->auth.enabled)
        log_warning("SIGHUP: \"%s\" has no auth section any more: the API is open to anyone who reaches it",
                    cur->path);
    int failed = notify_reload(notify, next) != 0;
    failed |= core_reload_config(core, next) != 0;
    http_set_auth(http, &next->auth);
    if (failed)
        log_error("SIGHUP: an actor did not take the new configuration");
    log_info("SIGHUP: \"%s\" is valid and reloaded: %zu rules, %zu receivers, %zu API tokens", cur->path,
             next->alerting.rule_count, next->alerting.receiver_count, next->auth.token_count);
    return next;
}

static void main_config_free(void **item)
{
    agg_config_destroy((agg_config_t **)item);
}

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

/* The history store when storage is configured (*store stays NULL when it
 * is not); -1 when it could not start. */
static int main_store(const agg_config_t *cfg, const char *sql_dir, store_t **store)
{
    if (!cfg->storage_dsn) {
        log_warning("storage is not configured: no history is kept");
        return 0;
    }
    char spool[1024];
    snprintf(spool, sizeof spool, "%s/aggregator.spool", cfg->spool_dir);
    store_options_t opt = {.dsn = cfg->storage_dsn,
                           .sql_dir = sql_dir,
                           .spool_path = spool,
                           .retention_days = cfg->retention_days,
                           .retention_raw_days = cfg->retention_raw_days,
                           .retention_1m_days = cfg->retention_1m_days,
                           .retention_1h_days = cfg->retention_1h_days,
                           .rollup_interval_ms = cfg->rollup_interval_ms,
                           .partitions_ahead_days = cfg->partitions_ahead_days,
                           .memory_rows = cfg->memory_rows,
                           .maintenance_interval_ms = cfg->maintenance_interval_ms};
    *store = store_new(&opt);
    return *store ? 0 : -1;
}

/* Until SIGTERM/SIGINT: take SIGHUP (blocked in every thread) and reload. */
static void main_wait(const agg_config_t *cfg, zlistx_t *loaded, notify_t *notify, core_t *core,
                      http_t *http)
{
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
    const agg_config_t *live = cfg;
    while (!zsys_interrupted) {
        if (sigtimedwait(&hup, NULL, &tick) == SIGHUP && loaded)
            live = main_reload(live, loaded, notify, core, http);
    }
}

static int run(const agg_config_t *cfg)
{
    static ingest_counters_t counters;
    static notify_stats_t notify_stats;
    char err[512] = "", alert_spool[1024];
    int rc = 1;
    const char *sql_dir = getenv("PGVIGIL_SQL_DIR");
    struct stat sql_st;
    if (!sql_dir) /* the source tree's when built there, else the installed copy */
        sql_dir = stat(PGVIGIL_SQL_DIR, &sql_st) == 0 ? PGVIGIL_SQL_DIR : PGVIGIL_SQL_INSTALL_DIR;
    json_t *alerts = NULL, *silences = NULL;
    notify_t *notify = NULL;
    core_t *core = NULL;
    store_t *store = NULL;
    ingest_t *ingest = NULL;
    http_t *http = NULL;
    cluster_t *cluster = NULL; /* NULL: a lone aggregator */
    snapshot_holder_t *snaps = snapshot_holder_new();
    zlistx_t *loaded = zlistx_new(); /* configurations loaded by SIGHUP, freed last */
    if (loaded)
        zlistx_set_destructor(loaded, main_config_free);
    if (main_store(cfg, sql_dir, &store) != 0)
        goto done;
    /* after the store, which applied the migrations (cluster_epochs) */
    if (cfg->cluster.enabled && !(cluster = cluster_new(&cfg->cluster, cfg->storage_dsn, CORE_CLUSTER_EVENTS_ENDPOINT)))
        goto done;
    snprintf(alert_spool, sizeof alert_spool, "%s/alerts.spool", cfg->spool_dir);
    notify_load_state(cfg->storage_dsn, sql_dir, alert_spool, &alerts, &silences);
    if (!(notify = notify_new(cfg, sql_dir, alert_spool, &notify_stats, cluster_fence(cluster)))) {
        log_error("could not start notifications: out of memory");
        goto done;
    }
    if (!snaps || !(core = core_new(cfg, snaps, store, alerts, silences, cluster))) {
        log_error("could not start the core: out of memory");
        goto done;
    }
    if (!(ingest = ingest_new(cfg, CORE_SAMPLES_ENDPOINT, &counters, err, sizeof err))) {
        log_report(LOG_LEVEL_ERROR, NULL, "Check listen.ingest in the configuration.",
                   "could not start ingest: %s", err);
        goto done;
    }
    if (!(http = http_new(cfg, snaps, &counters, store, &notify_stats, cluster_fence(cluster), err, sizeof err))) {
        log_report(LOG_LEVEL_ERROR, NULL, "Check listen.http in the configuration.", "%s", err);
        goto done;
    }
    log_info("aggregating samples on %s; HTTP API on http://%s/", cfg->ingest_endpoints[0],
             cfg->http_listen);
    main_wait(cfg, loaded, notify, core, http);
    log_info("shutting down");
    rc = 0;
done:
    core_quiesce(core);
    http_destroy(&http);
    ingest_destroy(&ingest);
    core_destroy(&core);
    notify_destroy(&notify);
    cluster_destroy(&cluster); /* after its readers; withdraws this aggregator's lease */
    store_destroy(&store);
    json_decref(alerts);
    json_decref(silences);
    snapshot_holder_destroy(&snaps);
    zlistx_destroy(&loaded);
    return rc;
}

static int print_token(void)
{
    char token[64], hex[65];
    if (auth_new_token(token, hex) != 0) {
        fprintf(stderr, "pgvigil-aggregator: no random bytes available\n");
        return 1;
    }
    printf("token:  %s\nsha256: %s\n# auth.tokens entry: {name: NAME, role: viewer|operator|admin, sha256: %s}\n",
           token, hex, hex);
    return 0;
}

/* Subcommands: -1 when argv names none. */
static int subcommand(int argc, char **argv)
{
    if (argc < 2)
        return -1;
    const char *cmd = argv[1];
    int want = strcmp(cmd, "keygen") == 0 || strcmp(cmd, "check-config") == 0 ? 3
               : strcmp(cmd, "token") == 0                                    ? 2
                                                                             : 0;
    if (!want)
        return -1;
    if (argc != want) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "keygen") == 0)
        return keygen(argv[2]);
    if (strcmp(cmd, "check-config") == 0)
        return check_config(argv[2]);
    return print_token();
}

int main(int argc, char **argv)
{
    const char *path = NULL, *level_text = NULL;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"log-level", required_argument, NULL, 'l'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int sub = subcommand(argc, argv);
    if (sub >= 0)
        return sub;
    sigset_t hup; /* before any thread starts, so every thread inherits it */
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &hup, NULL) != 0)
        fprintf(stderr, "pgvigil-aggregator: could not block SIGHUP: SIGHUP will stop the aggregator\n");
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'l': level_text = optarg; break;
        case 'V': printf("pgvigil-aggregator %s\n", PGVIGIL_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!path || optind != argc) {
        usage(stderr);
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
