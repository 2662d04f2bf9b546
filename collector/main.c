/*
 * main.c — pgvigil-collector: command line, configuration, and the choice
 * between the daemon, a single printed round, and key generation.
 *
 *   pgvigil-collector -c FILE [--log-level LEVEL]
 *   pgvigil-collector -c FILE --once --print
 *   pgvigil-collector keygen PATH [NODES]   (NODES: the node names or patterns
 *                                            this key may speak for, written as
 *                                            the certificate's "nodes" metadata)
 *   pgvigil-collector --version
 *
 * Exit status: 0 success, 1 runtime failure (--once: server unreachable),
 * 2 usage or configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "backup.h"
#include "col_config.h"
#include "collector.h"
#include "log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: pgvigil-collector -c FILE [--once --print] [--log-level LEVEL]\n"
                 "       pgvigil-collector keygen PATH [NODES]\n"
                 "       pgvigil-collector --version\n");
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
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "keygen") == 0)
        return keygen(argv[2], argc == 4 ? argv[3] : NULL);
    if (argc >= 2 && strcmp(argv[1], "restore-test") == 0) /* run by the collector itself */
        return backup_restore_main(argc - 1, argv + 1);
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
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
    int rc = once ? print_once(cfg) : collector_run(cfg);
    col_config_destroy(&cfg);
    return rc;
}
