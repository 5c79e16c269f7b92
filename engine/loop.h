/*
 * loop.h - the event loop: one thread, one io_uring, the listening socket,
 * connections, framing, replies parked until an LSN is durable, one timer
 * and the stop signals (loop.c: the ring, the turn, accept, timer,
 * signals; conn.c: the connections).
 *
 * The loop knows nothing of bookings.  It hands every complete frame to a
 * hook, sends what it is given, and keeps each reply until the LSN it was
 * tagged with is durable (loop_durable).  Everything else it does through
 * struct loop_hooks, called at fixed points of a turn:
 *
 *   1. wait for completions and run each one (receives frame requests and
 *      call hooks.frame; sends; the timer calls hooks.tick; completions
 *      other modules armed call their own struct loop_ev);
 *   2. hooks.turn_end (the commit seals and starts a group here);
 *   3. flush the connections that were given output this turn (one send
 *      each, with everything they were given), close those cut off;
 *   4. submit the turn's work to the kernel, then hooks.background when
 *      loop_want_background asked for it, so slow work (a checkpoint) never
 *      holds back replies already on their way.
 *
 * Invariants:
 *  - A reply tagged with LSN n is written to its socket only once
 *    loop_durable(n) or later has been called, and replies of one
 *    connection leave in the order they were made; pushes do not wait.
 *  - A connection is freed only once no receive or send of it is in flight
 *    (the kernel writes into its buffers until then).
 *
 * How it fails: loop_init returns BOOKD_EXIT_START after a log line when the
 * ring, the signals or the socket cannot be set up; a full submission queue
 * or a failed wait ends the process with BOOKD_EXIT_FATAL.  A client that
 * sends garbage or reads too slowly loses its connection, never the loop.
 */
#ifndef BOOKD_LOOP_H
#define BOOKD_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <liburing.h>

#include "log.h"
#include "stats.h"
#include "wire.h"

/* A completion's owner: the loop calls fn(owner, res, cqe flags). */
struct loop_ev {
	void (*fn)(void *owner, int res, unsigned flags);
	void *owner;
};

struct park {
	size_t end;   /* end offset of the reply in conn.parked */
	uint64_t lsn; /* released when this LSN is durable */
};

struct sub; /* the publisher's */

/* Roles a connection starts with: the values of proto/ops.h's enum role
 * (a hello may change it, e.g. to the gateway role in between). */
#define CONN_PUBLIC 0
#define CONN_ADMIN  2

/* caller.h's PRINCIPAL_MAX. */
#define CONN_PRINCIPAL_MAX 135

struct conn {
	struct loop_ev rd, wr;
	struct loop *loop;
	int fd;
	uint64_t cid;
	uint8_t role; /* proto/ops.h's enum role; starts CONN_PUBLIC/ADMIN */
	bool reading, writing, closing, close_after_send, paused;
	bool dropped; /* hello {role: public}: for good */
	bool cut;     /* too far behind on pushes: closed at the turn's end */
	int inflight; /* SQEs not yet completed */
	uid_t uid;
	char subject[64];
	/* Who the connection's requests act for (caller.h's principal),
	 * made on its first request and again after the subject changes;
	 * "" until then. */
	char principal[CONN_PRINCIPAL_MAX + 1];
	struct wbuf in;
	struct wbuf out;     /* to send next */
	struct wbuf sending; /* owned by the send in flight */
	struct wbuf parked;  /* replies waiting for durability */
	struct park *parks;
	size_t nparks, capparks;
	struct conn *pnext; /* on loop.parked_conns */
	bool on_parked;
	struct conn *fnext; /* on loop.flush: output or a cut-off this turn */
	bool on_flush;
	struct sub *subs; /* the publisher's subscriptions of this connection */
	uint32_t nsubs;
	struct conn *next, *prev; /* all connections */
	/* limits */
	bool uid_counted;   /* counted in loop.uids */
	bool ready;	    /* on loop.ready: frames left for a later turn */
	bool starved;	    /* not receiving: the input budget is spent */
	struct conn *rnext; /* on loop.ready */
	size_t last_recv;   /* bytes of the last receive */
	int64_t partial_ms; /* since when an incomplete frame waits, or 0 */
	int64_t active_ms;  /* last frame or send */
};

struct loop_hooks {
	void *ctx;
	/* One complete frame body of c. */
	void (*frame)(void *ctx, struct conn *c, const char *body, size_t len);
	/* c is closing: drop what refers to it (subscriptions). */
	void (*closing)(void *ctx, struct conn *c);
	/* The timer: about once a second, or at a loop_arm_timer deadline. */
	void (*tick)(void *ctx);
	/* After each turn's completions. */
	void (*turn_end)(void *ctx);
	/* After the turn's work was submitted, when loop_want_background
	 * asked for it. */
	void (*background)(void *ctx);
	/* While stopping: true when nothing is left to make durable. */
	bool (*settled)(void *ctx);
};

/* Limits; proto/PROTOCOL.md section 5 lists them with their flags. */
struct loop_config {
	const char *socket_path;
	uint32_t max_conns;
	uint32_t admin_reserve;	    /* of max_conns, kept for admin peers */
	uint32_t max_conns_per_uid; /* non-admin peers; 0: no cap */
	size_t conn_out_max;	    /* unread output that pauses reading */
	size_t out_budget;	    /* unread output of all connections */
	size_t in_budget;	    /* bytes of incomplete frames, all */
	int64_t frame_timeout_ms;   /* an incomplete frame this old: closed */
	int64_t idle_timeout_ms;    /* public, holding nothing: closed; 0 off */
	uint32_t frames_per_turn;   /* of one connection, then the others */
	size_t bytes_per_turn;	    /* of one connection (past one frame) */
	gid_t admin_gid;
	bool have_admin_gid;
};

/* Connections counted per peer uid (non-admin peers). */
struct uid_count {
	uid_t uid;
	uint32_t n;
};

struct loop {
	struct loop_config cfg;
	struct loop_hooks hooks;
	struct stats *stats;
	struct io_uring ring;
	bool ring_up;
	int listen_fd;
	int signal_fd;
	struct loop_ev accept_ev, signal_ev, timer_ev;
	struct __kernel_timespec timer_ts;
	int timers_armed;
	int64_t timer_deadline;
	struct signalfd_siginfo *sigbuf;
	bool stopping;
	bool background_due;
	uint64_t durable_lsn; /* the last loop_durable */
	struct conn *conns;
	uint32_t nconns;
	struct conn *parked_conns;
	struct conn *flush; /* connections to flush (or close) at turn end */
	uint64_t next_cid;
	/* limits */
	size_t out_bytes; /* unread output of all connections */
	size_t in_bytes;  /* received bytes not yet framed, all */
	struct uid_count *uids;
	size_t nuids, capuids;
	struct conn *ready; /* connections with frames left over */
	uint32_t nstarved;
	bool accept_armed;
	int64_t accept_retry_ms; /* accept paused until then (EMFILE) */
	struct log_rate accept_log, refuse_log, stall_log;
	dev_t sock_dev; /* the socket file we made, to remove only it */
	ino_t sock_ino;
};

/* Raise the soft RLIMIT_NOFILE to what max_conns connections need; -1
 * after a log line when the hard limit does not allow it.  Call it before
 * anything is modified. */
int loop_raise_nofile(uint32_t max_conns);
/* Set up the ring, block SIGINT/SIGTERM into a signalfd and listen on
 * cfg->socket_path.  0, or BOOKD_EXIT_START after a log line. */
int loop_init(struct loop *l, const struct loop_config *cfg,
	      const struct loop_hooks *hooks, struct stats *stats);
/* Run until a stop signal and then until settled (bounded); 0, or
 * BOOKD_EXIT_FATAL. */
int loop_run(struct loop *l);
/* Close every connection (waiting, bounded, for their I/O), the ring and
 * the socket. */
void loop_free(struct loop *l);

/* A submission entry; submits the queue first when it is full. */
/* Nothing waits to be handled: no completion reported and no connection
 * with frames left over. */
bool loop_idle(struct loop *l);
struct io_uring_sqe *loop_sqe(struct loop *l);
/* Call hooks.tick at or before this monotonic deadline (ms). */
void loop_arm_timer(struct loop *l, int64_t deadline_mono_ms);
/* Run hooks.background after this turn's submission. */
void loop_want_background(struct loop *l);

/* A reply frame for c, to leave once need_lsn is durable. */
void loop_reply(struct loop *l, struct conn *c, const void *frame, size_t len,
		uint64_t need_lsn);
/* Every LSN up to lsn is durable: release the replies waiting for it. */
void loop_durable(struct loop *l, uint64_t lsn);
/* A push frame for c, sent at once; false when c is closing or was cut
 * off for reading its pushes too slowly. */
bool loop_push(struct loop *l, struct conn *c, const void *frame, size_t len);

#endif
