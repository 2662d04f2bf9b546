/*
 * publish.h — delivery of samples to every configured aggregator, with
 * acknowledgements.
 *
 * One ZeroMQ DEALER per endpoint (collectors connect, aggregators bind), so
 * every aggregator receives every sample. Messages are two frames,
 * [envelope][packed Sample]. Each aggregator acknowledges a sample (envelope
 * ACK, body pgvigil.Ack) once it is durable on its side; until then the
 * sample stays in that aggregator's resend queue (at most send_queue
 * samples; beyond that the oldest is dropped and counted). The queue is
 * sent in order; after every (re)connection it is sent again from its oldest
 * unacknowledged sample, so a sample lost in flight (aggregator killed,
 * connection cut) is delivered later, and the aggregator stores it once.
 *
 * An aggregator that is behind refuses samples (Ack.resend_from): they are
 * kept and sent again after the wait it asks for, one at a time at first.
 *
 * ZeroMQ heartbeats detect a dead peer within seconds, connection attempts
 * time out after a second and are retried every quarter second to a
 * second, so a healed partition delivers within about two seconds. Sends
 * never block. With CURVE keys configured every connection is encrypted and
 * authenticated.
 */
#ifndef PGVIGIL_PUBLISH_H
#define PGVIGIL_PUBLISH_H

#include <czmq.h>
#include <stdint.h>

#include "col_config.h"
#include "pgvigil.pb-c.h"

#define PUBLISH_HEARTBEAT_IVL_MS 1000
#define PUBLISH_HEARTBEAT_TIMEOUT_MS 3000
#define PUBLISH_RECONNECT_IVL_MS 250
#define PUBLISH_RECONNECT_IVL_MAX_MS 1000
#define PUBLISH_CONNECT_TIMEOUT_MS 1000
#define PUBLISH_RETRY_MAX_MS 10000 /* the longest wait a refusal can ask for */
#define PUBLISH_STALL_MS 3000      /* a full window unacknowledged this long is sent again */

typedef struct publish publish_t;

/* NULL with err set if a key cannot be loaded or an endpoint is refused. */
publish_t *publish_new(const col_config_t *cfg, char *err, size_t errlen);
void publish_destroy(publish_t **self_p);

/* Pack, queue for every aggregator and send what the connections take.
 * Returns how many aggregators took it now. */
int publish_sample(publish_t *self, const Pgvigil__Sample *s);
/* Samples dropped from a full resend queue, over all aggregators. */
uint64_t publish_dropped(const publish_t *self);
/* Samples waiting for an acknowledgement, over all aggregators. */
uint64_t publish_unacked(const publish_t *self);

/* At shutdown: wait up to timeout_ms for the acknowledgements of what is
 * queued (sending what is not yet sent). Returns the samples still
 * unacknowledged, which are lost with this process. */
uint64_t publish_drain(publish_t *self, int timeout_ms);

/* Register readers on loop: acknowledgements and connection events are
 * handled here; each valid Command goes to on_command with the socket it
 * came on (answer there with publish_reply); anything else is logged and
 * dropped. */
typedef void(publish_command_fn)(void *arg, zsock_t *from, const Pgvigil__Command *cmd);
int publish_attach(publish_t *self, zloop_t *loop, publish_command_fn *on_command, void *arg);
/* Send a command's result back to the aggregator behind sock. */
void publish_reply(zsock_t *sock, const Pgvigil__CommandResult *r);

#endif
