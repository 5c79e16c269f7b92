/*
 * server.h - the glue between the event loop and the domain: the engine
 * as one process.
 *
 * The engine is four parts with one job each:
 *
 *   loop.c       io_uring, the turn, the timer, signals, the socket;
 *   conn.c       connections: framing, replies parked by LSN, pushes out,
 *                the limits of one connection (neither knows bookings);
 *   commit.c     gathers WAL records into groups, writes and syncs them,
 *                then calls one durable(lsn);
 *   publisher.c  the shared pages and the pushes, and every subscription;
 *   state.c, ops.c  the domain and its operations.
 *
 * This file connects them and keeps the one order of things:
 *
 *   1. A frame becomes a request; its handler runs against in-memory
 *      state.  A mutation appends its WAL record (server_log_record) and
 *      applies it at once, so later requests see it.
 *   2. Every reply is tagged with the last LSN its handler could have seen.
 *      It leaves when that LSN is durable: a mutation's reply waits for its
 *      own group, and a read that observed an uncommitted change waits too,
 *      so nobody is told anything a crash could take back.
 *   3. At the end of each loop turn the gathered records become one group
 *      (commit.c).  While it is in flight the next group gathers.
 *   4. When the group is durable its deltas are published to the shared
 *      pages, parked replies are released, "slots" subscribers of the
 *      touched resource-days and "events" subscribers are pushed.  A
 *      checkpoint, when due, starts after that turn's replies were handed
 *      to the kernel, never inside the durable callback: a compactor
 *      process spawned from the engine's own binary (compact.h) rebuilds
 *      the state up to the durable LSN from the files and writes the
 *      snapshot, and its pidfd, polled through the ring, says when to
 *      install it (checkpoint.h).
 *
 * Holds take the short path: memory, the pages' held bits and "holds"
 * pushes, at once.  One exception keeps readers from ever seeing a slot
 * free that is being booked: held bits released by a request that also
 * logged a change (a booking consuming its own hold) stay on the pages
 * until that change is durable, and leave in the same publication as the
 * booked bits.
 *
 * A failed WAL write or fdatasync ends the process (BOOKD_EXIT_FATAL) after
 * a log line: no parked reply is ever sent, so no client is told a lost
 * change succeeded.
 */
#ifndef BOOKD_SERVER_H
#define BOOKD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include "caller.h"
#include "commit.h"
#include "loop.h"
#include "ops.h"
#include "pagesw.h"
#include "publisher.h"
#include "checkpoint.h"
#include "state.h"
#include "stats.h"
#include "wal.h"
#include "wire.h"

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
	bool checkpoint_foreground; /* write snapshots in the loop, no compactor
				     */
	const char *pages_dir; /* the pages file's directory (pagesdir.h),
				  NULL: in the data directory */
	struct caller_limits limits; /* what one caller may take */
	/* Limits (proto/PROTOCOL.md section 5): see struct loop_config. */
	uint32_t admin_reserve;
	uint32_t max_conns_per_uid; /* 0: a quarter of max_conns */
	uint64_t conn_out_max;
	uint64_t out_budget;
	uint64_t in_budget;
	int64_t frame_timeout_ms;
	int64_t idle_timeout_ms;
	uint32_t frames_per_turn;
	uint64_t bytes_per_turn;
	uint32_t max_frame_items; /* MessagePack objects in one request */
	uint32_t max_subs_per_caller;
	uint64_t max_subs;
#ifdef BOOKD_TEST_HOOKS
	uint64_t fail_sync_at;	  /* fail the Nth fdatasync (0: never) */
	uint32_t sync_delay_ms;	  /* slow fdatasyncs (see commit.h) */
	uint32_t wal_max_payload; /* lower the log's record limit (0: no) */
	uint32_t nofile;	  /* RLIMIT_NOFILE after start-up (0: no) */
	uint32_t ckpt_fail;	  /* checkpoint compactors that fail */
	uint32_t ckpt_delay_ms;	  /* a checkpoint compactor waits before exit */
#endif
};

/* Held bits a request released while it also logged a change: kept on the
 * pages until that change is durable (lsn 0: the request is running). */
struct held_defer {
	uint32_t res;
	int64_t day;
	uint64_t bits[2];
	uint64_t lsn;
};

struct server {
	struct config cfg;
	struct loop loop;
	struct commit commit;
	struct publisher pub;
	int dirfd;
	int lockfd;
	bool started;
	bool in_handler;
	struct state st;
	struct wal *wal;
	struct checkpoint ck;
	/* What each group in flight changed, oldest at flight_head. */
	struct flight_deltas {
		struct delta *v;
		size_t n;
	} flight[COMMIT_MAX_FLIGHT];
	unsigned flight_head, nflight;
	struct loop_ev
	    ckpt_ev;	   /* the checkpoint compactor's pidfd is readable */
	bool ckpt_polling; /* that poll is armed */
	uint32_t group_mark;
	struct held_defer *defers;
	size_t ndefers, capdefers;
	int64_t today;
	int64_t started_ms;
	uint64_t last_checkpoint_lsn;
	unsigned char auth_key[32];
	struct stats stats;
	/* Mirrors of the loop's and the publisher's counts for "stats",
	 * refreshed before each request. */
	uint32_t nconns;
	uint64_t nsubs;
	struct wbuf rb; /* the reply being built */
	msgpack_packer pk;
	/* The objects of the request being handled: cleared after each
	 * request and reused, so a request allocates nothing in the common
	 * case (one chunk is kept; its size is bounded by the frame and item
	 * limits). */
	msgpack_zone zone;
	bool zone_up;
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
/* Send the finished reply in s->rb to c once need_lsn is durable. */
void server_deliver(struct server *s, struct conn *c, uint64_t need_lsn);

/* The handler table (ops.c). */
typedef int (*handler_fn)(struct req *r);
extern const handler_fn op_handlers[OP__COUNT];

#endif
