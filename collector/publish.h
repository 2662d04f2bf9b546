/*
 * publish.h — delivery of samples to every configured aggregator.
 *
 * One ZeroMQ DEALER per endpoint (collectors connect, aggregators bind), so
 * every aggregator receives every sample. Messages are two frames,
 * [envelope][packed Sample]. Sends never block: while an aggregator is
 * unreachable up to send_queue messages wait for it (ZMQ_SNDHWM); beyond
 * that a sample is dropped for that aggregator and counted. With CURVE keys
 * configured every connection is encrypted and authenticated.
 */
#ifndef PGVIGIL_PUBLISH_H
#define PGVIGIL_PUBLISH_H

#include <czmq.h>
#include <stdint.h>

#include "col_config.h"
#include "pgvigil.pb-c.h"

typedef struct publish publish_t;

/* NULL with err set if a key cannot be loaded or an endpoint is refused. */
publish_t *publish_new(const col_config_t *cfg, char *err, size_t errlen);
void publish_destroy(publish_t **self_p);

/* Pack and send to every aggregator. Returns how many accepted it. */
int publish_sample(publish_t *self, const Pgvigil__Sample *s);
uint64_t publish_dropped(const publish_t *self);

/* Register a reader for messages from aggregators on loop: each valid
 * Command goes to on_command with the socket it came on (answer there with
 * publish_reply); anything else is logged and dropped. */
typedef void(publish_command_fn)(void *arg, zsock_t *from, const Pgvigil__Command *cmd);
int publish_attach(publish_t *self, zloop_t *loop, publish_command_fn *on_command, void *arg);
/* Send a command's result back to the aggregator behind sock. */
void publish_reply(zsock_t *sock, const Pgvigil__CommandResult *r);

#endif
