/*
 * server.h - the engine's event loop, connections and commit pipeline.
 *
 * One thread, one io_uring.  The loop accepts connections, receives bytes,
 * frames and dispatches requests through the op table, and sends replies.
 * It also owns the one place where the order "WAL durable -> replies ->
 * pages -> pushes" is kept (group_durable in server.c):
 *
 *   1. Handlers run against in-memory state.  A mutation appends its WAL
 *      record and applies it at once, so later requests see it.
 *   2. Every reply is tagged with the last LSN its handler could have seen.
 *      It leaves when that LSN is durable: a mutation's reply waits for its
 *      own group, and a read that observed an uncommitted change waits too,
 *      so nobody is told anything a crash could take back.
 *   3. At the end of each loop turn the gathered records become one group:
 *      one write into the page cache, then one fdatasync through io_uring
 *      (or, with --sync-mode plain, inline).  While it is in flight the next
 *      group gathers.
 *   4. When the group is durable its deltas are published to the shared
 *      pages, parked replies are released, and "slots" subscribers of the
 *      touched resource-days are pushed.
 *
 * Holds take the short path: memory, the pages' held bits and "holds"
 * pushes, at once.
 *
 * A failed WAL write or fdatasync ends the process (exit status 3) after a
 * log line: no parked reply is ever sent, so no client is told a lost
 * change succeeded.
 */
#ifndef BOOKD_SERVER_H
#define BOOKD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <liburing.h>
#include <msgpack.h>

#include "caller.h"
#include "ops.h"
#include "snapshot.h"
#include "state.h"
#include "wal.h"
#include "wire.h"

struct pagesw;

enum sync_mode { SYNC_URING, SYNC_PLAIN, SYNC_OFF };

struct config {
	const char *data_dir;
	const char *socket_path;
	int64_t hold_ttl_ms;
	uint32_t horizon_days;
	uint32_t past_days;
	uint32_t max_resources;
	uint32_t max_conns;
	enum sync_mode sync;
	gid_t admin_gid;
	bool have_admin_gid;
	uint64_t segment_size;
	uint64_t
	    checkpoint_bytes; /* log bytes between checkpoints, 0: default */
	bool archive;	      /* keep trimmed segments in wal/archive/ */
	struct caller_limits limits; /* what one caller may take */
	/* Test builds only: fail the Nth fdatasync (0: never). */
	uint64_t fail_sync_at;
};

enum ev_kind {
	EV_ACCEPT = 1,
	EV_RECV,
	EV_SEND,
	EV_TIMER,
	EV_WAL_SYNC,
	EV_SIGNAL,
	EV_GATHER, /* the group-commit gathering window ended */
};

struct ev {
	uint8_t kind;
	void *owner;
};

struct park {
	size_t end;   /* end offset of the reply in conn.parked */
	uint64_t lsn; /* released when this LSN is durable */
};

struct sub {
	struct sub *rnext, *rprev; /* the resource's subscriptions */
	struct sub *cnext;	   /* the connection's subscriptions */
	struct conn *conn;
	uint64_t id;
	uint32_t res;
	uint8_t topic; /* 0 slots, 1 holds */
	int64_t from_day, to_day;
};

#define TOPIC_SLOTS 0
#define TOPIC_HOLDS 1

/* A resource-day whose subscribers are due a push (day: a local date in the
 * resource's zone). */
struct dayref {
	uint32_t res;
	int64_t day;
};

struct dayrefs {
	struct dayref *v;
	size_t n, cap;
};

struct conn {
	struct ev rd, wr;
	int fd;
	uint64_t cid;
	uint8_t role;
	bool reading, writing, closing, close_after_send, paused;
	bool dropped; /* hello {role: public}: for good */
	bool cut;     /* too far behind on pushes: closed at the turn's end */
	int inflight; /* SQEs not yet completed */
	uid_t uid;
	char subject[64];
	struct wbuf in;
	struct wbuf out;     /* to send next */
	struct wbuf sending; /* owned by the send in flight */
	struct wbuf parked;  /* replies waiting for durability */
	struct park *parks;
	size_t nparks, capparks;
	struct conn *pnext; /* on server.parked_conns */
	bool on_parked;
	struct sub *subs;
	uint32_t nsubs;
	struct conn *next, *prev; /* all connections */
};

struct stats {
	uint64_t conns_total;
	uint64_t ops;
	uint64_t commits;
	uint64_t fsyncs;
	uint64_t records;
	uint64_t pushes;
	uint64_t cut_off;
};

struct server {
	struct config cfg;
	struct io_uring ring;
	int dirfd;
	int lockfd;
	int listen_fd;
	int signal_fd;
	struct ev accept_ev, signal_ev, timer_ev, wal_sync_ev;
	struct ev gather_ev;
	struct __kernel_timespec gather_ts;
	bool gather_armed;
	/* Group commit: records gathered for the next group, the size of the
	 * last group, when the next may stop waiting for more, and how long
	 * the last write+fdatasync took (microseconds). */
	uint32_t gathered;
	uint32_t last_group;
	uint32_t expect; /* records expected in the next group */
	int64_t gather_until_us;
	int64_t sync_started_us, last_sync_us;
	struct __kernel_timespec timer_ts;
	int timers_armed;
	int64_t timer_deadline;
	struct signalfd_siginfo *sigbuf;
	bool accepting;
	bool stopping;
	bool started;
	struct state st;
	struct wal *wal;
	struct checkpoint ck;
	struct pagesw *pages;
	struct wal_group group;
	struct delta *flight_deltas;
	size_t nflight_deltas;
	uint32_t group_mark;
	struct conn *conns;
	uint32_t nconns;
	struct conn *parked_conns;
	uint64_t next_cid;
	uint64_t next_sub;
	uint64_t nsubs;
	uint64_t syncs_done;
	int64_t today;
	int64_t started_ms;
	uint64_t last_checkpoint_lsn;
	unsigned char auth_key[32];
	struct stats stats;
	struct wbuf rb; /* the reply being built */
	msgpack_packer pk;
	struct wbuf pb; /* a push being built (pushes happen inside handlers) */
	struct dayrefs due_slots, due_holds; /* pushes of this turn */
	uint64_t holds_seq;		     /* version of "holds" pushes */
	msgpack_packer ppk;
};

/* The request being handled; handlers read args and pack the result. */
struct req {
	struct server *s;
	struct conn *c;
	int op;
	const msgpack_object *a[ARG__COUNT];
	msgpack_packer *pk;
	/* Who the request acts for (caller.h) and the role it runs with: the
	 * connection's, or public when it names a visitor. */
	uint8_t role;
	bool visitor;
	char principal[PRINCIPAL_MAX + 1];
	struct proto_error e; /* the error reply, when e.code != 0 */
	bool admin_details;   /* may see which bookings are in the way */
};

int server_init(struct server *s, const struct config *cfg);
int server_run(struct server *s);
void server_free(struct server *s);

/* For handlers: refuse the request with code, naming field (NULL: none;
 * with a field the message reads "<field>: ...").  Returns code. */
int req_error(struct req *r, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
uint64_t server_log_record(struct server *s, uint16_t type,
			   const struct wbuf *payload);
int server_subscribe(struct server *s, struct conn *c, uint8_t topic,
		     uint32_t res, int64_t from_day, int64_t to_day,
		     uint64_t *id);
int server_unsubscribe(struct server *s, struct conn *c, uint64_t id);

/* The handler table (ops.c). */
typedef int (*handler_fn)(struct req *r);
extern const handler_fn op_handlers[OP__COUNT];

#endif
