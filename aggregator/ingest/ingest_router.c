/*
 * ingest_router.c — the ingest ROUTER (see ingest_router.h).
 */
#include "ingest_router.h"

#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "log.h"

#define INGEST_KEEPALIVE_IDLE_S 10
#define INGEST_KEEPALIVE_INTVL_S 2

/* Say at start which allowed keys cannot speak for any node. */
static void ingest_check_allow_dir(const char *dir)
{
    zdir_t *d = zdir_new(dir, NULL);
    zfile_t **files = d ? zdir_flatten(d) : NULL;
    for (size_t i = 0; files && files[i]; i++) {
        const char *path = zfile_filename(files[i], NULL);
        size_t n = strlen(path);
        if (n >= 7 && strcmp(path + n - 7, "_secret") == 0)
            continue;
        zcert_t *c = zcert_load(path);
        const char *nodes = c ? zcert_meta(c, "nodes") : NULL;
        if (c && (!nodes || !nodes[0]))
            log_report(LOG_LEVEL_WARNING, NULL,
                       "Write the key with \"pgvigil-collector keygen PATH NODES\", or add"
                       " nodes = \"NAME ...\" under \"metadata\" in its public certificate.",
                       "curve.allow_dir: the key in \"%s\" has no \"nodes\" metadata; its"
                       " samples will be refused",
                       path);
        zcert_destroy(&c);
    }
    zdir_flatten_free(&files);
    zdir_destroy(&d);
}

zsock_t *ingest_router_new(const agg_config_t *cfg, zactor_t **auth, char *err, size_t errlen)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    if (!router)
        return NULL;
    zsock_set_maxmsgsize(router, ENVELOPE_BODY_MAX_BYTES + 4096);
    /* No receive high-water mark: a connection that reaches one has its
     * input stopped, and libzmq 4.3.4 aborts the process when such a
     * connection is reset while a heartbeat PING waits in its buffer
     * (ingest.c). Ingest keeps the queues short by reading all the time
     * and shedding what it cannot keep up with. */
    zsock_set_rcvhwm(router, 0);
    /* A collector gone silent (partition, dead host) is detected on its
     * side by ZeroMQ heartbeats, and it reconnects at once. Here, TCP
     * keepalive frees the dead connection: no ZeroMQ heartbeats from this
     * socket (a heartbeat timer writes to connections libzmq may have
     * given up on: the same abort, libzmq issue #3937). */
    zsock_set_tcp_keepalive(router, 1);
    zsock_set_tcp_keepalive_idle(router, INGEST_KEEPALIVE_IDLE_S);
    zsock_set_tcp_keepalive_intvl(router, INGEST_KEEPALIVE_INTVL_S);
    zsock_set_tcp_keepalive_cnt(router, 3);
    if (cfg->curve_server_cert) {
        zcert_t *cert = zcert_load(cfg->curve_server_cert);
        if (!cert) {
            snprintf(err, errlen, "could not load the server certificate \"%s\"", cfg->curve_server_cert);
            zsock_destroy(&router);
            return NULL;
        }
        ingest_check_allow_dir(cfg->curve_allow_dir);
        *auth = zactor_new(zauth, NULL);
        zstr_sendx(*auth, "CURVE", cfg->curve_allow_dir, NULL);
        zsock_wait(*auth);
        zcert_apply(cert, router);
        zsock_set_curve_server(router, 1);
        zcert_destroy(&cert);
    }
    for (size_t i = 0; i < cfg->ingest_count; i++) {
        if (zsock_bind(router, "%s", cfg->ingest_endpoints[i]) < 0) {
            snprintf(err, errlen, "could not bind \"%s\": %s", cfg->ingest_endpoints[i],
                     zmq_strerror(zmq_errno()));
            zsock_destroy(&router);
            return NULL;
        }
    }
    return router;
}
