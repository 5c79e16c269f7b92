/*
 * conn.c - connections of the event loop: receiving and framing, replies
 * parked until durable, pushes, sending, and the limits on what one
 * connection may cost (see loop.h and conn.h).
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"

#define RECV_MIN     4096  /* the first receive of a connection */
#define RECV_CHUNK   65536 /* the most one receive asks for */
#define SMALL_OUT    65536 /* unread output that never pauses reading */
#define LOG_EVERY_MS 10000 /* lines a client can provoke, at most */

static void on_recv(void *owner, int res, unsigned flags);
static void on_send(void *owner, int res, unsigned flags);

/* ---- replies ---------------------------------------------------------- */

void loop_reply(struct loop *l, struct conn *c, const void *frame, size_t len,
		uint64_t need_lsn)
{
	l->out_bytes += len;
	if (c->nparks == 0 && need_lsn <= l->durable_lsn) {
		wbuf_append(&c->out, frame, len);
		conn_want_flush(l, c);
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
			conn_want_flush(l, c);
		}
		if (c->nparks == 0) {
			c->on_parked = false;
			*pp = c->pnext;
		} else {
			pp = &c->pnext;
		}
	}
}

size_t conn_backlog(const struct conn *c)
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
		conn_want_flush(l, c);
		return false;
	}
	/* Pushes are not replies: they never wait behind parked replies. */
	l->out_bytes += len;
	wbuf_append(&c->out, frame, len);
	conn_want_flush(l, c);
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

void conn_want_flush(struct loop *l, struct conn *c)
{
	if (c->on_flush)
		return;
	c->on_flush = true;
	c->fnext = l->flush;
	l->flush = c;
}

/*
 * Everything a connection was given in a turn (replies of all the frames
 * it sent, replies released by a commit, pushes) leaves in one send at the
 * turn's end, and only connections that were given something are visited.
 */
void conn_flush_turn(struct loop *l)
{
	while (l->flush) {
		struct conn *c = l->flush;
		l->flush = c->fnext;
		c->on_flush = false;
		if (c->cut)
			conn_close(l, c);
		else
			conn_flush(l, c);
	}
}

void conn_flush(struct loop *l, struct conn *c)
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

/* Kernels without SO_PEERGROUPS: the user's groups as the group database
 * has them. */
static bool groups_of_user(uid_t uid, gid_t want)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

/*
 * Is the peer on fd an admin?  Root and the engine's own user are; with
 * --admin-group, so is a peer whose primary group or one of whose
 * supplementary groups (as the kernel has them for that process:
 * SO_PEERGROUPS, not /etc/group, which may say otherwise; the group
 * database only where the kernel lacks it) is that group.
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
	if (groups != small)
		free(groups);
	if (rc == 0)
		return found;
	return groups_of_user(uid, l->cfg.admin_gid);
}

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

void conn_new(struct loop *l, int fd)
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
	c->role = admin ? CONN_ADMIN : CONN_PUBLIC;
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

void conn_free(struct loop *l, struct conn *c)
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
	if (c->on_flush) {
		struct conn **pp = &l->flush;
		while (*pp != c)
			pp = &(*pp)->fnext;
		*pp = c->fnext;
	}
	close(c->fd);
	wbuf_free(&c->in);
	wbuf_free(&c->out);
	wbuf_free(&c->sending);
	wbuf_free(&c->parked);
	free(c->parks);
	free(c);
}

void conn_close(struct loop *l, struct conn *c)
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
void conn_run_ready(struct loop *l)
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
void conn_run_starved(struct loop *l)
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
 * subscription, no reply on its way), each told why first; and, without a
 * word, connections that have not read what they were sent for three
 * frame timeouts.
 */
void conn_sweep(struct loop *l)
{
	int64_t now = mono_ms();

	for (struct conn *c = l->conns, *next; c; c = next) {
		const char *why = NULL;
		struct wbuf b = {0};

		next = c->next;
		if (c->closing)
			continue;
		if (conn_backlog(c) > 0 && c->writing &&
		    l->cfg.frame_timeout_ms &&
		    now - c->active_ms > 3 * l->cfg.frame_timeout_ms) {
			/* Nothing it was sent has been read for that long:
			 * there is no telling it, only letting go of what
			 * it holds. */
			uint64_t more;
			if (log_due(&l->stall_log, LOG_EVERY_MS, &more))
				log_msg("connection %" PRIu64 " closed: %zu "
					"bytes unread for %lld ms (%" PRIu64
					" more since the last such line)",
					c->cid, conn_backlog(c),
					(long long)(now - c->active_ms), more);
			conn_close(l, c);
			continue;
		}
		if (c->close_after_send)
			continue;
		if (c->partial_ms && l->cfg.frame_timeout_ms &&
		    now - c->partial_ms > l->cfg.frame_timeout_ms)
			why = "frame: incomplete for too long (limit)";
		else if (l->cfg.idle_timeout_ms && c->role == CONN_PUBLIC &&
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
