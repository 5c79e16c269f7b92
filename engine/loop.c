/*
 * loop.c - the event loop and connections; see loop.h.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "ops.h"

#define RECV_MIN	  4096	/* the first receive of a connection */
#define RECV_CHUNK	  65536 /* the most one receive asks for */
#define SMALL_OUT	  65536 /* unread output that never pauses reading */
#define RING_ENTRIES	  4096
#define FD_SLACK	  64	/* descriptors besides connections */
#define ACCEPT_BACKOFF_MS 100	/* accept paused after EMFILE and the like */
#define LOG_EVERY_MS	  10000 /* lines a client can provoke, at most */
#define TICK_MS		  1000	/* the timer's period when nothing is due */
#define STOP_MS		  5000	/* bound on settling after a stop signal */
#define DRAIN_MS	  2000	/* bound on waiting for connections' I/O */

static void conn_close(struct loop *l, struct conn *c);
static void conn_flush(struct loop *l, struct conn *c);
static void unlink_ours(struct loop *l);
static void arm_accept(struct loop *l);

struct io_uring_sqe *loop_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
	if (sqe == NULL) {
		/* The submission queue is full: hand it to the kernel and
		 * take a fresh entry. */
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	if (sqe == NULL) {
		log_msg("io_uring submission queue exhausted");
		exit(BOOKD_EXIT_FATAL);
	}
	return sqe;
}

void loop_want_background(struct loop *l)
{
	l->background_due = true;
}

/* ---- replies ---------------------------------------------------------- */

void loop_reply(struct loop *l, struct conn *c, const void *frame, size_t len,
		uint64_t need_lsn)
{
	l->out_bytes += len;
	if (c->nparks == 0 && need_lsn <= l->durable_lsn) {
		wbuf_append(&c->out, frame, len);
		return;
	}
	wbuf_append(&c->parked, frame, len);
	if (c->nparks == c->capparks) {
		size_t cap = c->capparks ? c->capparks * 2 : 16;
		struct park *p = reallocarray(c->parks, cap, sizeof(*p));
		if (p == NULL)
			abort();
		c->parks = p;
		c->capparks = cap;
	}
	c->parks[c->nparks++] = (struct park){c->parked.len, need_lsn};
	if (!c->on_parked) {
		c->on_parked = true;
		c->pnext = l->parked_conns;
		l->parked_conns = c;
	}
}

void loop_durable(struct loop *l, uint64_t durable)
{
	struct conn **pp = &l->parked_conns;

	l->durable_lsn = durable;
	while (*pp) {
		struct conn *c = *pp;
		size_t k = 0;
		while (k < c->nparks && c->parks[k].lsn <= durable)
			k++;
		if (k > 0) {
			size_t bytes = c->parks[k - 1].end;
			wbuf_append(&c->out, c->parked.data, bytes);
			wbuf_consume(&c->parked, bytes);
			memmove(c->parks, c->parks + k,
				(c->nparks - k) * sizeof(*c->parks));
			c->nparks -= k;
			for (size_t i = 0; i < c->nparks; i++)
				c->parks[i].end -= bytes;
			conn_flush(l, c);
		}
		if (c->nparks == 0) {
			c->on_parked = false;
			*pp = c->pnext;
		} else {
			pp = &c->pnext;
		}
	}
}

static size_t conn_backlog(const struct conn *c)
{
	return c->out.len + c->sending.len + c->parked.len;
}

/*
 * Is c's unread output too much to read more requests?  Past its own
 * limit, or past a small amount while all connections together are over
 * the budget.  The pause is checked before each frame, so a frame's reply
 * (at most 1 MiB) is the most it can overshoot.
 */
static bool out_over(const struct loop *l, const struct conn *c)
{
	size_t b = conn_backlog(c);
	return b > l->cfg.conn_out_max ||
	       (l->out_bytes > l->cfg.out_budget && b > SMALL_OUT);
}

/* ... and, with hysteresis, low enough to read again. */
static bool out_relieved(const struct loop *l, const struct conn *c)
{
	size_t b = conn_backlog(c);
	return b <= l->cfg.conn_out_max / 2 &&
	       (l->out_bytes <= l->cfg.out_budget || b <= SMALL_OUT);
}

bool loop_push(struct loop *l, struct conn *c, const void *frame, size_t len)
{
	if (c->closing || c->cut)
		return false;
	if (conn_backlog(c) > 2 * l->cfg.conn_out_max) {
		/* Closing here would free subscriptions the caller may be
		 * walking; the loop closes cut connections at the end of the
		 * turn. */
		log_msg("connection %" PRIu64 " cut off: %zu bytes of pushes "
			"unread",
			c->cid, conn_backlog(c));
		l->stats->cut_off++;
		c->cut = true;
		return false;
	}
	/* Pushes are not replies: they never wait behind parked replies. */
	l->out_bytes += len;
	wbuf_append(&c->out, frame, len);
	conn_flush(l, c);
	return true;
}

/*
 * An error frame the loop sends on its own (a connection refused, a frame
 * too large): {id: nil, ok: false, error: {code, message}}, the shape of
 * every error reply (proto/PROTOCOL.md section 2).
 */
static void pack_refusal(struct wbuf *b, const char *code, const char *message)
{
	msgpack_packer pk;
	size_t off = wire_frame_begin(b);

	wbuf_packer_init(&pk, b);
	msgpack_pack_map(&pk, 3);
	wire_pk_str(&pk, "id");
	msgpack_pack_nil(&pk);
	wire_pk_kbool(&pk, "ok", false);
	wire_pk_str(&pk, "error");
	msgpack_pack_map(&pk, 2);
	wire_pk_kstr(&pk, "code", code);
	wire_pk_kstr(&pk, "message", message);
	wire_frame_end(b, off);
}

/* ---- connections ------------------------------------------------------ */

/*
 * Receive into c->in.  A receive asks for what the frame being read still
 * needs, or twice what the last receive brought, within [RECV_MIN,
 * RECV_CHUNK]: an idle connection costs a few KiB, and a large frame grows
 * its buffer only as its bytes arrive (exactly to the frame's size).
 * While the bytes of incomplete frames of all connections are over the
 * input budget, a connection in the middle of a large frame waits.
 */
static void arm_recv(struct loop *l, struct conn *c)
{
	struct io_uring_sqe *sqe;
	size_t want = c->last_recv * 2, need = 0;

	if (c->reading || c->closing || c->paused || c->ready ||
	    c->close_after_send || c->starved)
		return;
	if (c->in.len >= 4) {
		const unsigned char *u = (const unsigned char *)c->in.data;
		size_t flen = (size_t)u[0] << 24 | (size_t)u[1] << 16 |
			      (size_t)u[2] << 8 | u[3];
		if (4 + flen > c->in.len)
			need = 4 + flen - c->in.len;
	}
	if (c->in.len > RECV_CHUNK && l->in_bytes > l->cfg.in_budget) {
		c->starved = true;
		l->nstarved++;
		return;
	}
	if (need > want)
		want = need;
	if (want < RECV_MIN)
		want = RECV_MIN;
	if (want > RECV_CHUNK)
		want = RECV_CHUNK;
	if (c->in.cap - c->in.len < want) {
		/* Exactly what is asked for: wbuf's doubling would make a
		 * frame of 1 MiB cost 2. */
		char *p = realloc(c->in.data, c->in.len + want);
		if (p == NULL)
			abort();
		c->in.data = p;
		c->in.cap = c->in.len + want;
	}
	sqe = loop_sqe(l);
	io_uring_prep_recv(sqe, c->fd, c->in.data + c->in.len, want, 0);
	io_uring_sqe_set_data(sqe, &c->rd);
	c->reading = true;
	c->inflight++;
}

static void conn_flush(struct loop *l, struct conn *c)
{
	struct io_uring_sqe *sqe;
	struct wbuf tmp;

	if (c->writing || c->out.len == 0 || c->closing)
		return;
	tmp = c->sending;
	c->sending = c->out;
	c->out = tmp;
	c->out.len = 0;
	sqe = loop_sqe(l);
	io_uring_prep_send(sqe, c->fd, c->sending.data, c->sending.len,
			   MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &c->wr);
	c->writing = true;
	c->inflight++;
}

/*
 * Is the peer on fd an admin?  Root and the engine's own user are; with
 * --admin-group, so is a peer whose primary group or one of whose
 * supplementary groups (as the kernel has them for that process:
 * SO_PEERGROUPS, not /etc/group, which may say otherwise) is that group.
 */
static bool peer_is_admin(struct loop *l, int fd, uid_t uid, gid_t gid)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool found = false;
	int rc;

	if (uid == 0 || uid == geteuid())
		return true;
	if (!l->cfg.have_admin_gid)
		return false;
	if (gid == l->cfg.admin_gid)
		return true;
	rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
	if (rc < 0 && errno == ERANGE && len > sizeof(small)) {
		groups = malloc(len);
		if (groups == NULL)
			return false;
		rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
	}
	if (rc == 0)
		for (size_t i = 0; i < len / sizeof(gid_t); i++)
			found = found || groups[i] == l->cfg.admin_gid;
	else
		log_msg("SO_PEERGROUPS: %s; the peer is not admin",
			strerror(errno));
	if (groups != small)
		free(groups);
	return found;
}

static void on_recv(void *owner, int res, unsigned flags);
static void on_send(void *owner, int res, unsigned flags);

static struct uid_count *uid_slot(struct loop *l, uid_t uid, bool add)
{
	for (size_t i = 0; i < l->nuids; i++)
		if (l->uids[i].uid == uid)
			return &l->uids[i];
	if (!add)
		return NULL;
	if (l->nuids == l->capuids) {
		size_t cap = l->capuids ? l->capuids * 2 : 16;
		struct uid_count *v = reallocarray(l->uids, cap, sizeof(*v));
		if (v == NULL)
			abort();
		l->uids = v;
		l->capuids = cap;
	}
	l->uids[l->nuids] = (struct uid_count){uid, 0};
	return &l->uids[l->nuids++];
}

static void uid_release(struct loop *l, struct conn *c)
{
	struct uid_count *u;

	if (!c->uid_counted)
		return;
	c->uid_counted = false;
	u = uid_slot(l, c->uid, false);
	if (u && --u->n == 0)
		*u = l->uids[--l->nuids];
}

/* Say why before hanging up: a best-effort write to a fresh socket whose
 * buffer is empty.  The log line is rate-limited: refusals are cheap to
 * provoke. */
static void refuse(struct loop *l, int fd, const char *code, const char *why)
{
	struct wbuf b = {0};
	uint64_t more;

	pack_refusal(&b, code, why);
	if (log_due(&l->refuse_log, LOG_EVERY_MS, &more))
		log_msg("refusing a connection: %s (%" PRIu64
			" more refused since the last such line)",
			why, more);
	if (send(fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* The peer is gone already; nothing to tell. */
	}
	wbuf_free(&b);
	close(fd);
}

static void conn_new(struct loop *l, int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	bool admin = false, known;
	struct uid_count *u = NULL;
	struct conn *c;

	known = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0;
	if (known)
		admin = peer_is_admin(l, fd, cred.uid, cred.gid);
	if (l->stopping) {
		refuse(l, fd, "UNAVAILABLE", "shutting down");
		return;
	}
	if (l->nconns >= l->cfg.max_conns) {
		refuse(l, fd, "LIMIT", "too many connections");
		return;
	}
	if (!admin) {
		/* The last admin_reserve connections are for admins, and no
		 * one other user may take more than its share. */
		if (l->nconns + l->cfg.admin_reserve >= l->cfg.max_conns) {
			refuse(l, fd, "LIMIT",
			       "too many connections (the rest are kept for "
			       "admins)");
			return;
		}
		if (known && l->cfg.max_conns_per_uid) {
			u = uid_slot(l, cred.uid, true);
			if (u->n >= l->cfg.max_conns_per_uid) {
				refuse(l, fd, "LIMIT",
				       "too many connections from this user");
				return;
			}
		}
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (u && u->n == 0)
			*u = l->uids[--l->nuids];
		close(fd);
		return;
	}
	c->loop = l;
	c->fd = fd;
	c->cid = ++l->next_cid;
	c->rd = (struct loop_ev){on_recv, c};
	c->wr = (struct loop_ev){on_send, c};
	c->role = admin ? ROLE_ADMIN : ROLE_PUBLIC;
	c->active_ms = mono_ms();
	if (known)
		c->uid = cred.uid;
	if (u) {
		u->n++;
		c->uid_counted = true;
	}
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->nconns++;
	l->stats->conns_total++;
	arm_recv(l, c);
}

static void conn_free(struct loop *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->nconns--;
	l->out_bytes -= conn_backlog(c);
	l->in_bytes -= c->in.len;
	if (c->starved)
		l->nstarved--;
	if (c->ready) {
		struct conn **pp = &l->ready;
		while (*pp != c)
			pp = &(*pp)->rnext;
		*pp = c->rnext;
	}
	uid_release(l, c);
	if (c->on_parked) {
		struct conn **pp = &l->parked_conns;
		while (*pp != c)
			pp = &(*pp)->pnext;
		*pp = c->pnext;
	}
	close(c->fd);
	wbuf_free(&c->in);
	wbuf_free(&c->out);
	wbuf_free(&c->sending);
	wbuf_free(&c->parked);
	free(c->parks);
	free(c);
}

static void conn_close(struct loop *l, struct conn *c)
{
	if (!c->closing) {
		c->closing = true;
		l->hooks.closing(l->hooks.ctx, c);
		/* Wake any receive or send in flight; they complete with an
		 * error and the last one frees the connection. */
		shutdown(c->fd, SHUT_RDWR);
	}
	if (c->inflight == 0)
		conn_free(l, c);
}

/*
 * Handle the complete frames in c->in, at most frames_per_turn of them or
 * bytes_per_turn bytes (past the first frame; the rest wait on loop.ready
 * for the next turn, so one connection's expensive frames cannot hold the
 * others up), and never while c's unread output is over its limit
 * (checked before each frame).  Then receive more when c may.
 */
static void conn_input(struct loop *l, struct conn *c)
{
	const char *body;
	size_t blen, used, pos = 0;
	uint32_t n = 0;
	int k = 0;

	while (!c->closing && !c->close_after_send) {
		if (out_over(l, c)) {
			c->paused = true;
			break;
		}
		k = wire_frame_next(c->in.data + pos, c->in.len - pos, &body,
				    &blen, &used);
		if (k != 1)
			break;
		if (n == l->cfg.frames_per_turn ||
		    (n > 0 && pos >= l->cfg.bytes_per_turn)) {
			c->ready = true;
			c->rnext = l->ready;
			l->ready = c;
			break;
		}
		l->stats->ops++;
		l->hooks.frame(l->hooks.ctx, c, body, blen);
		pos += used;
		n++;
	}
	if (pos) {
		wbuf_consume(&c->in, pos);
		l->in_bytes -= pos;
		c->active_ms = mono_ms();
	}
	if (k < 0) {
		/* The length cannot be trusted, so the stream cannot be
		 * resynchronised: answer and hang up. */
		struct wbuf b = {0};
		pack_refusal(&b, "TOO_LARGE", "frame: larger than 1 MiB");
		loop_reply(l, c, b.data, b.len, 0);
		wbuf_free(&b);
		c->close_after_send = true;
		l->in_bytes -= c->in.len;
		c->in.len = 0;
	}
	if (c->in.len == 0) {
		c->partial_ms = 0;
		if (c->in.cap > 2 * RECV_CHUNK) {
			/* A large frame is done: give its buffer back. */
			wbuf_free(&c->in);
			memset(&c->in, 0, sizeof(c->in));
		}
	} else if (pos || c->partial_ms == 0) {
		c->partial_ms = mono_ms();
	}
	conn_flush(l, c);
	if (c->close_after_send) {
		if (!c->writing && c->out.len == 0 && c->nparks == 0)
			conn_close(l, c);
		return;
	}
	arm_recv(l, c);
}

static void on_recv(void *owner, int res, unsigned flags)
{
	struct conn *c = owner;
	struct loop *l = c->loop;

	(void)flags;
	c->reading = false;
	c->inflight--;
	if (c->closing || res <= 0) {
		conn_close(l, c);
		return;
	}
	c->in.len += (size_t)res;
	l->in_bytes += (size_t)res;
	c->last_recv = (size_t)res;
	conn_input(l, c);
}

static void on_send(void *owner, int res, unsigned flags)
{
	struct conn *c = owner;
	struct loop *l = c->loop;

	(void)flags;
	c->writing = false;
	c->inflight--;
	if (c->closing || res < 0) {
		conn_close(l, c);
		return;
	}
	wbuf_consume(&c->sending, (size_t)res);
	l->out_bytes -= (size_t)res;
	c->active_ms = mono_ms();
	if (c->sending.len > 0) {
		/* A short send: push the rest out before anything newer. */
		struct wbuf tmp = c->sending;
		c->sending = c->out;
		c->out = tmp;
		wbuf_append(&c->out, c->sending.data, c->sending.len);
		c->sending.len = 0;
	}
	conn_flush(l, c);
	if (c->paused && out_relieved(l, c)) {
		c->paused = false;
		conn_input(l, c);
		return;
	}
	if (c->close_after_send && !c->writing && c->nparks == 0)
		conn_close(l, c);
}

/* Frames left over from earlier turns get their next share. */
static void run_ready(struct loop *l)
{
	struct conn *c = l->ready;

	l->ready = NULL;
	while (c) {
		struct conn *next = c->rnext;
		c->ready = false;
		conn_input(l, c);
		c = next;
	}
}

/* Connections that waited for the input budget receive again. */
static void run_starved(struct loop *l)
{
	if (l->nstarved == 0 || l->in_bytes > l->cfg.in_budget)
		return;
	for (struct conn *c = l->conns; c; c = c->next)
		if (c->starved) {
			c->starved = false;
			l->nstarved--;
			arm_recv(l, c);
		}
}

/*
 * Once a second: close connections that sat on an incomplete frame too
 * long, and public connections idle too long that hold nothing (no
 * subscription, no reply on its way).  Each is told why first.
 */
static void sweep(struct loop *l)
{
	int64_t now = mono_ms();

	for (struct conn *c = l->conns, *next; c; c = next) {
		const char *why = NULL;
		struct wbuf b = {0};

		next = c->next;
		if (c->closing || c->close_after_send)
			continue;
		if (c->partial_ms && l->cfg.frame_timeout_ms &&
		    now - c->partial_ms > l->cfg.frame_timeout_ms)
			why = "frame: incomplete for too long (limit)";
		else if (l->cfg.idle_timeout_ms && c->role != ROLE_ADMIN &&
			 c->nsubs == 0 && c->nparks == 0 &&
			 conn_backlog(c) == 0 && c->in.len == 0 &&
			 now - c->active_ms > l->cfg.idle_timeout_ms)
			why = "connection: idle for too long (limit)";
		if (why == NULL)
			continue;
		pack_refusal(&b, "LIMIT", why);
		loop_reply(l, c, b.data, b.len, 0);
		wbuf_free(&b);
		c->close_after_send = true;
		l->in_bytes -= c->in.len;
		c->in.len = 0;
		c->partial_ms = 0;
		if (c->starved) {
			c->starved = false;
			l->nstarved--;
		}
		conn_flush(l, c);
	}
}

/* ---- timer, accept, signals ------------------------------------------- */

void loop_arm_timer(struct loop *l, int64_t deadline_mono)
{
	struct io_uring_sqe *sqe;
	int64_t now = mono_ms(), d = deadline_mono - now;

	if (l->timers_armed > 0 && l->timer_deadline <= deadline_mono)
		return;
	if (d < 1)
		d = 1;
	l->timer_ts.tv_sec = d / 1000;
	l->timer_ts.tv_nsec = (d % 1000) * 1000000;
	sqe = loop_sqe(l);
	io_uring_prep_timeout(sqe, &l->timer_ts, 0, 0);
	io_uring_sqe_set_data(sqe, &l->timer_ev);
	l->timers_armed++;
	l->timer_deadline = deadline_mono;
}

static void on_timer(void *owner, int res, unsigned flags)
{
	struct loop *l = owner;

	(void)res;
	(void)flags;
	l->timers_armed--;
	if (!l->accept_armed && mono_ms() >= l->accept_retry_ms)
		arm_accept(l);
	sweep(l);
	l->hooks.tick(l->hooks.ctx);
	if (l->timers_armed == 0)
		loop_arm_timer(l, mono_ms() + TICK_MS);
}

static void arm_accept(struct loop *l)
{
	struct io_uring_sqe *sqe;

	if (l->accept_armed || l->stopping || l->listen_fd < 0)
		return;
	sqe = loop_sqe(l);
	io_uring_prep_multishot_accept(sqe, l->listen_fd, NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &l->accept_ev);
	l->accept_armed = true;
}

/*
 * Out of descriptors (EMFILE, ENFILE) or memory, accept fails for every
 * waiting peer at once, and re-arming at once would spin the loop writing
 * the same line: pause accepting for ACCEPT_BACKOFF_MS (the timer re-arms
 * it) and log once per LOG_EVERY_MS.
 */
static void on_accept(void *owner, int res, unsigned flags)
{
	struct loop *l = owner;

	if (!(flags & IORING_CQE_F_MORE))
		l->accept_armed = false;
	if (res >= 0) {
		conn_new(l, res);
	} else if (res != -ECANCELED && res != -EINVAL && !l->stopping) {
		uint64_t more;
		if (log_due(&l->accept_log, LOG_EVERY_MS, &more))
			log_msg("accept: %s (%" PRIu64 " more failures since "
				"the last such line); pausing accepts for "
				"%d ms",
				strerror(-res), more, ACCEPT_BACKOFF_MS);
		l->accept_retry_ms = mono_ms() + ACCEPT_BACKOFF_MS;
		if (l->accept_armed) {
			struct io_uring_sqe *sqe = loop_sqe(l);
			io_uring_prep_cancel(sqe, &l->accept_ev, 0);
			io_uring_sqe_set_data(sqe, NULL);
		}
		loop_arm_timer(l, l->accept_retry_ms);
		return;
	}
	if (mono_ms() >= l->accept_retry_ms)
		arm_accept(l);
}

static void arm_signal(struct loop *l)
{
	struct io_uring_sqe *sqe = loop_sqe(l);
	io_uring_prep_read(sqe, l->signal_fd, l->sigbuf, sizeof(*l->sigbuf), 0);
	io_uring_sqe_set_data(sqe, &l->signal_ev);
}

static void begin_stop(struct loop *l)
{
	if (l->stopping)
		return;
	log_msg("stopping: finishing the commit in flight");
	l->stopping = true;
	if (l->listen_fd >= 0) {
		shutdown(l->listen_fd, SHUT_RDWR);
		close(l->listen_fd);
		l->listen_fd = -1;
		unlink_ours(l);
	}
}

static void on_signal(void *owner, int res, unsigned flags)
{
	struct loop *l = owner;

	(void)flags;
	if (res > 0)
		begin_stop(l);
	else
		arm_signal(l);
}

/* ---- the loop --------------------------------------------------------- */

static void run_completions(struct loop *l)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&l->ring, head, cqe)
	{
		struct loop_ev *e = io_uring_cqe_get_data(cqe);
		if (e != NULL)
			e->fn(e->owner, cqe->res, cqe->flags);
		n++;
	}
	io_uring_cq_advance(&l->ring, n);
}

static bool drained(struct loop *l)
{
	if (!l->hooks.settled(l->hooks.ctx))
		return false;
	for (struct conn *c = l->conns; c; c = c->next)
		if (c->writing || c->out.len || c->nparks)
			return false;
	return true;
}

int loop_run(struct loop *l)
{
	int64_t stop_deadline = 0;

	arm_accept(l);
	arm_signal(l);
	loop_arm_timer(l, mono_ms() + TICK_MS);
	log_msg("ready");
	while (1) {
		/* Frames left over from the last turn: look for completions
		 * without waiting for one. */
		int rc = io_uring_submit_and_wait(&l->ring, l->ready ? 0 : 1);
		if (rc < 0 && rc != -EINTR && rc != -EBUSY) {
			log_msg("io_uring: %s", strerror(-rc));
			return BOOKD_EXIT_FATAL;
		}
		run_completions(l);
		run_ready(l);
		run_starved(l);
		l->hooks.turn_end(l->hooks.ctx);
		for (struct conn *c = l->conns, *next; c; c = next) {
			next = c->next;
			if (c->cut)
				conn_close(l, c);
			else
				conn_flush(l, c);
		}
		if (l->background_due) {
			/* Replies and the next sync go to the kernel before
			 * the slow work starts. */
			l->background_due = false;
			io_uring_submit(&l->ring);
			l->hooks.background(l->hooks.ctx);
		}
		if (l->stopping) {
			if (stop_deadline == 0)
				stop_deadline = mono_ms() + STOP_MS;
			if (drained(l) || mono_ms() > stop_deadline)
				break;
			loop_arm_timer(l, mono_ms() + 50);
		}
	}
	return BOOKD_EXIT_OK;
}

/* ---- setup ------------------------------------------------------------ */

/* Remove the socket file only while it is still the one we made. */
static void unlink_ours(struct loop *l)
{
	struct stat st;

	if (l->sock_ino && lstat(l->cfg.socket_path, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == l->sock_dev &&
	    st.st_ino == l->sock_ino)
		unlink(l->cfg.socket_path);
	l->sock_ino = 0;
}

/*
 * Listen on path.  A file already there is removed only when it is a
 * socket nobody answers on (a dead engine's): a live engine keeps its
 * socket (this one refuses to start), and a file that is not a socket is
 * never deleted.
 */
static int listen_unix(struct loop *l, const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_msg("--socket: path longer than %zu bytes",
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		int probe;
		if (!S_ISSOCK(st.st_mode)) {
			log_msg("--socket: %s exists and is not a socket; "
				"not removing it",
				path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			log_msg("--socket: an engine is listening on %s; "
				"not taking it over",
				path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1024) < 0) {
		log_msg("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		l->sock_dev = st.st_dev;
		l->sock_ino = st.st_ino;
	}
	chmod(path, 0666);
	return fd;
}

/*
 * Every connection is a descriptor: raise the soft RLIMIT_NOFILE to what
 * max_conns needs, or refuse to start, rather than fail accepts later.
 */
int loop_raise_nofile(uint32_t max_conns)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)max_conns + FD_SLACK;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_cur == RLIM_INFINITY)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		struct rlimit up = {need, need};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return 0;
		log_msg("--max-conns %u needs %llu open files, but "
			"RLIMIT_NOFILE allows at most %llu: raise it (ulimit "
			"-n, LimitNOFILE=) or lower --max-conns",
			max_conns, (unsigned long long)need,
			(unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_msg("cannot raise RLIMIT_NOFILE to %llu: %s",
			(unsigned long long)need, strerror(errno));
		return -1;
	}
	return 0;
}

int loop_init(struct loop *l, const struct loop_config *cfg,
	      const struct loop_hooks *hooks, struct stats *stats)
{
	sigset_t mask;
	int rc;

	memset(l, 0, sizeof(*l));
	l->cfg = *cfg;
	l->hooks = *hooks;
	l->stats = stats;
	l->listen_fd = l->signal_fd = -1;
	l->accept_ev = (struct loop_ev){on_accept, l};
	l->signal_ev = (struct loop_ev){on_signal, l};
	l->timer_ev = (struct loop_ev){on_timer, l};

	/* One thread submits everything: let the kernel run completion work
	 * only when we ask for events, instead of interrupting the loop.
	 * Older kernels lack these flags; fall back step by step. */
	rc = io_uring_queue_init(RING_ENTRIES, &l->ring,
				 IORING_SETUP_SINGLE_ISSUER |
				     IORING_SETUP_DEFER_TASKRUN);
	if (rc == -EINVAL)
		rc = io_uring_queue_init(RING_ENTRIES, &l->ring,
					 IORING_SETUP_COOP_TASKRUN);
	if (rc == -EINVAL)
		rc = io_uring_queue_init(RING_ENTRIES, &l->ring, 0);
	if (rc < 0) {
		log_msg("io_uring_queue_init: %s", strerror(-rc));
		return BOOKD_EXIT_START;
	}
	l->ring_up = true;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	l->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	l->sigbuf = calloc(1, sizeof(*l->sigbuf));
	if (l->signal_fd < 0 || l->sigbuf == NULL)
		return BOOKD_EXIT_START;
	l->listen_fd = listen_unix(l, cfg->socket_path);
	if (l->listen_fd < 0)
		return BOOKD_EXIT_START;
	return 0;
}

/*
 * Close every connection and wait (bounded) for their receives and sends
 * to complete: the kernel writes into a connection's buffers until then,
 * so freeing them earlier would let a late recv scribble on the heap.
 */
static void drain_conns(struct loop *l)
{
	int64_t deadline = mono_ms() + DRAIN_MS;

	for (struct conn *c = l->conns, *next; c; c = next) {
		next = c->next;
		conn_close(l, c);
	}
	while (l->conns && mono_ms() < deadline) {
		struct __kernel_timespec ts = {0, 50 * 1000000};
		struct io_uring_cqe *cqe;

		io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
		run_completions(l);
	}
}

void loop_free(struct loop *l)
{
	if (l->ring_up) {
		drain_conns(l);
		io_uring_queue_exit(&l->ring);
		l->ring_up = false;
	}
	/* Connections still there could not be drained in time; with the
	 * ring gone nothing writes into them any more. */
	while (l->conns) {
		struct conn *c = l->conns;
		if (!c->closing) {
			c->closing = true;
			l->hooks.closing(l->hooks.ctx, c);
		}
		c->inflight = 0;
		conn_free(l, c);
	}
	if (l->listen_fd >= 0)
		close(l->listen_fd);
	unlink_ours(l);
	if (l->signal_fd >= 0)
		close(l->signal_fd);
	free(l->sigbuf);
	free(l->uids);
}
