/*
 * main.c — pgvigil-collector: command line, configuration, and the choice
 * between the daemon, a single printed round, and key generation.
 *
 *   pgvigil-collector -c FILE [--log-level LEVEL]
 *   pgvigil-collector -c FILE --once --print
 *   pgvigil-collector check-config FILE (validate as at start; nothing runs)
 *   pgvigil-collector keygen PATH [NODES]  (NODES: the node names or patterns
 *                                          this key may speak for, written as
 *                                          the certificate's "nodes" metadata)
 *   pgvigil-collector --help | --version
 *
 * The --help text is also the source of the man page (help2man, see
 * deploy/man/), so it documents every subcommand and option. SIGHUP is
 * answered with a log line: the collector applies a changed file at
 * restart. SIGHUP is blocked in every thread (set before any starts) and
 * taken by one small thread with sigwait(): a handler would interrupt the
 * collector's zmq_poll(), which czmq reads as "terminated".
 *
 * Exit status: 0 success, 1 runtime failure (--once: server unreachable),
 * 2 usage or configuration error.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "backup.h"
#include "col_config.h"
#include "collector.h"
#include "log.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: pgvigil-collector -c FILE [--log-level LEVEL]\n"
            "  or:  pgvigil-collector -c FILE --once --print\n"
            "  or:  pgvigil-collector check-config FILE\n"
            "  or:  pgvigil-collector keygen PATH [NODES]\n"
            "  or:  pgvigil-collector --help | --version\n"
            "\n"
            "Read the statistics of one PostgreSQL instance on a schedule and publish\n"
            "them to one or more pgvigil aggregators over ZeroMQ.\n"
            "\n"
            "Subcommands:\n"
            "  check-config FILE    validate FILE exactly as the daemon does at start,\n"
            "                       print any error (file:line: key: what was expected)\n"
            "                       and exit 0 if valid, 2 if not; nothing is started\n"
            "  keygen PATH          write a CURVE key pair: the public certificate PATH\n"
            "                       (copy it into the aggregator's curve.allow_dir) and\n"
            "                       PATH_secret (this collector's curve.client_cert);\n"
            "                       NODES (comma-separated names or patterns) become\n"
            "                       the certificate's \"nodes\" metadata: the only\n"
            "                       nodes the aggregator lets this key speak for\n"
            "\n"
            "Options:\n"
            "  -c, --config=FILE    run the collector with the configuration FILE\n"
            "                       (YAML; e.g. /etc/pgvigil/collector.yaml)\n"
            "      --once           collect one round and stop (needs --print)\n"
            "      --print          print that round as JSON on stdout; exit 1 if the\n"
            "                       server could not be reached\n"
            "      --log-level=LEVEL  debug, info, warning or error; overrides log_level\n"
            "  -h, --help           print this help and exit\n"
            "  -V, --version        print the version and exit\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop cleanly; SIGHUP is acknowledged in the log\n"
            "and changes nothing: a changed file applies at the next restart.\n"
            "\n"
            "Exit status: 0 clean stop or valid configuration, 1 runtime failure,\n"
            "2 usage or configuration error.\n");
}

static void *main_hangup_thread(void *arg)
{
    sigset_t *hup = arg;
    int sig;
    while (sigwait(hup, &sig) == 0)
        log_info("SIGHUP: configuration changes apply at the next restart");
    return NULL;
}

/* Answer SIGHUP (blocked in every thread by main) from one detached thread. */
static void main_take_hangup(void)
{
    static sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_t t;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        log_warning("could not start the SIGHUP thread: SIGHUP is ignored");
        return;
    }
    if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
        pthread_create(&t, &attr, main_hangup_thread, &hup) != 0)
        log_warning("could not start the SIGHUP thread: SIGHUP is ignored");
    pthread_attr_destroy(&attr);
}

/* check-config: the daemon's own loader, then a one-line verdict. */
static int check_config(const char *path)
{
    char err[2048];
    col_config_t *cfg = col_config_load(path, true, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "pgvigil-collector: %s\n", err);
        fprintf(stderr, "%s: configuration is NOT valid\n", path);
        return 2;
    }
    printf("%s: configuration is valid\n", path);
    col_config_destroy(&cfg);
    return 0;
}

static int keygen(const char *path, const char *nodes)
{
    zcert_t *cert = zcert_new();
    if (cert && nodes)
        zcert_set_meta(cert, "nodes", "%s", nodes);
    if (!cert || zcert_save(cert, path) != 0) {
        fprintf(stderr, "pgvigil-collector: could not write key pair \"%s\" and \"%s_secret\"\n",
                path, path);
        zcert_destroy(&cert);
        return 1;
    }
    printf("public key %s written to %s (secret in %s_secret)\n", zcert_public_txt(cert), path, path);
    zcert_destroy(&cert);
    return 0;
}

static int print_once(const col_config_t *cfg)
{
    bool up = false;
    json_t *j = collector_once(cfg, &up);
    if (!j) {
        fprintf(stderr, "pgvigil-collector: out of memory\n");
        return 1;
    }
    char *text = json_dumps(j, JSON_COMPACT);
    if (text)
        puts(text);
    free(text);
    json_decref(j);
    return up ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *level_text = NULL;
    bool once = false, print = false;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"once", no_argument, NULL, 'o'},
        {"print", no_argument, NULL, 'p'},       {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0) {
        if (argc != 3 && argc != 4) {
            usage(stderr);
            return 2;
        }
        return keygen(argv[2], argc == 4 ? argv[3] : NULL);
    }
    if (argc >= 2 && strcmp(argv[1], "check-config") == 0) {
        if (argc != 3) {
            usage(stderr);
            return 2;
        }
        return check_config(argv[2]);
    }
    if (argc >= 2 && strcmp(argv[1], "restore-test") == 0) /* run by the collector itself */
        return backup_restore_main(argc - 1, argv + 1);
    sigset_t hup; /* before any thread starts, so every thread inherits it */
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &hup, NULL) != 0)
        fprintf(stderr, "pgvigil-collector: could not block SIGHUP: SIGHUP will stop the collector\n");
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'o': once = true; break;
        case 'p': print = true; break;
        case 'l': level_text = optarg; break;
        case 'V': printf("pgvigil-collector %s\n", PGVIGIL_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!path || optind != argc || once != print) {
        usage(stderr);
        return 2;
    }
    log_init("pgvigil-collector", LOG_LEVEL_INFO);
    char err[2048];
    col_config_t *cfg = col_config_load(path, !once, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "pgvigil-collector: %s\n", err);
        return 2;
    }
    log_level_t level = (log_level_t)cfg->log_level;
    if (level_text && log_parse_level(level_text, &level) != 0) {
        fprintf(stderr, "pgvigil-collector: --log-level: expected debug, info, warning or error\n");
        col_config_destroy(&cfg);
        return 2;
    }
    log_set_level(level);
    if (!once)
        main_take_hangup();
    int rc = once ? print_once(cfg) : collector_run(cfg);
    col_config_destroy(&cfg);
    return rc;
}
