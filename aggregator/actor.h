/*
 * actor.h — the pipe reader of an actor's zloop that only waits for $TERM
 * (zactor_destroy): the loop ends on it, or when the pipe breaks.
 */
#ifndef PGVIGIL_ACTOR_H
#define PGVIGIL_ACTOR_H

#include <czmq.h>

static inline int actor_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    (void)arg;
    char *cmd = zstr_recv(pipe);
    bool term = !cmd || streq(cmd, "$TERM");
    zstr_free(&cmd);
    return term ? -1 : 0;
}

#endif
