/*
 * conn.h - the connections' half of the event loop, for loop.c: what a
 * turn of the loop calls on connections.  Not for other modules: they use
 * loop.h.
 *
 * A connection receives while it may (not paused by its unread output, not
 * waiting for the input budget, not holding frames for a later turn), hands
 * complete frames to hooks.frame, and is freed only when none of its I/O is
 * in flight.
 */
#ifndef BOOKD_CONN_H
#define BOOKD_CONN_H

#include "loop.h"

/* A new connection on fd, or a refusal (said on fd, then closed). */
void conn_new(struct loop *l, int fd);
/* Start closing c (hooks.closing, shutdown); freed once its I/O is done. */
void conn_close(struct loop *l, struct conn *c);
/* Free c now (its I/O is known to be over). */
void conn_free(struct loop *l, struct conn *c);
/* Send what c has to send, when no send is in flight. */
void conn_flush(struct loop *l, struct conn *c);
/* Flush c at the end of this turn (close it there when cut off). */
void conn_want_flush(struct loop *l, struct conn *c);
/* The end of a turn: flush (or close) every connection asked for. */
void conn_flush_turn(struct loop *l);
/* Bytes c has not had read yet: to send, in flight, parked. */
size_t conn_backlog(const struct conn *c);
/* Each turn: frames left over from the last turn, and connections that
 * waited for the input budget. */
void conn_run_ready(struct loop *l);
void conn_run_starved(struct loop *l);
/* Once a second: close connections past the frame or idle timeout. */
void conn_sweep(struct loop *l);

#endif
