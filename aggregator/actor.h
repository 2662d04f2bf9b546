/*
 * actor.h — the pipe reader of an actor's zloop that only waits for $TERM
 * (zactor_destroy): the loop ends on it, or when the pipe breaks; and the
 * two halves of "RELOAD": the caller's actor_reload() hands the actor a new
 * configuration (a pointer, kept alive by the caller until exit) and waits
 * until the actor has swapped it in at a safe point of its own loop.
 */
#ifndef PGVIGIL_ACTOR_H
#define PGVIGIL_ACTOR_H

#include <czmq.h>
#include <string.h>

static inline int actor_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    (void)arg;
    char *cmd = zstr_recv(pipe);
    bool term = !cmd || streq(cmd, "$TERM");
    zstr_free(&cmd);
    return term ? -1 : 0;
}

/* Caller side: send "RELOAD" and the pointer, wait for the actor's signal. */
static inline int actor_reload(zactor_t *actor, const void *cfg)
{
    if (!actor || zsock_send(actor, "sp", "RELOAD", cfg) != 0)
        return -1;
    return zsock_wait(actor) == 0 ? 0 : -1;
}

/* Actor side: read one pipe command. Returns -1 on $TERM (or a broken
 * pipe), 1 with *cfg set on RELOAD (the actor must zsock_signal the pipe
 * when done), 0 for anything else. */
static inline int actor_pipe_command(zsock_t *pipe, void **cfg)
{
    zmsg_t *msg = zmsg_recv(pipe);
    char *cmd = msg ? zmsg_popstr(msg) : NULL;
    int rc = !cmd || streq(cmd, "$TERM") ? -1 : 0;
    zframe_t *f = rc == 0 && streq(cmd, "RELOAD") ? zmsg_pop(msg) : NULL;
    if (f && zframe_size(f) == sizeof *cfg) {
        memcpy(cfg, zframe_data(f), sizeof *cfg);
        rc = 1;
    }
    zframe_destroy(&f);
    zstr_free(&cmd);
    zmsg_destroy(&msg);
    return rc;
}

#endif
