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
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "ops.h"

#define RECV_CHUNK   65536
#define OUT_PAUSE    (8u << 20)	 /* stop reading a client past this */
#define PUSH_CUTOFF  (16u << 20) /* cut a subscriber off past this */
#define RING_ENTRIES 4096
#define TICK_MS	     1000 /* the timer's period when nothing is due */
#define STOP_MS	     5000 /* bound on settling after a stop signal */
#define DRAIN_MS     2000 /* bound on waiting for connections' I/O */

static void conn_close(struct loop *l, struct conn *c);
static void conn_flush(struct loop *l, struct conn *c);

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

bool loop_push(struct loop *l, struct conn *c, const void *frame, size_t len)
{
	if (c->closing || c->cut)
		return false;
	if (conn_backlog(c) > PUSH_CUTOFF) {
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

static void arm_recv(struct loop *l, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->reading || c->closing || c->paused)
		return;
	wbuf_reserve(&c->in, RECV_CHUNK);
	sqe = loop_sqe(l);
	io_uring_prep_recv(sqe, c->fd, c->in.data + c->in.len,
			   c->in.cap - c->in.len, 0);
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

static bool peer_is_admin(struct loop *l, uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (uid == 0 || uid == geteuid())
		return true;
	if (!l->cfg.have_admin_gid)
		return false;
	if (gid == l->cfg.admin_gid)
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == l->cfg.admin_gid)
			return true;
	return false;
}

static void on_recv(void *owner, int res, unsigned flags);
static void on_send(void *owner, int res, unsigned flags);

static void conn_new(struct loop *l, int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct conn *c;

	if (l->nconns >= l->cfg.max_conns || l->stopping) {
		/* Say why before hanging up: a best-effort write to a fresh
		 * socket whose buffer is empty. */
		struct wbuf b = {0};
		pack_refusal(&b, l->stopping ? "UNAVAILABLE" : "LIMIT",
			     l->stopping ? "shutting down"
					 : "too many connections");
		log_msg("refusing a connection: %s",
			l->stopping ? "shutting down" : "connection limit");
		if (send(fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_msg("refusing a connection: %s", strerror(errno));
		wbuf_free(&b);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->loop = l;
	c->fd = fd;
	c->cid = ++l->next_cid;
	c->rd = (struct loop_ev){on_recv, c};
	c->wr = (struct loop_ev){on_send, c};
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
		c->uid = cred.uid;
		c->role = peer_is_admin(l, cred.uid, cred.gid) ? ROLE_ADMIN
							       : ROLE_PUBLIC;
	} else {
		c->role = ROLE_PUBLIC;
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

static void on_recv(void *owner, int res, unsigned flags)
{
	struct conn *c = owner;
	struct loop *l = c->loop;
	const char *body;
	size_t blen, used, pos = 0;
	int k;

	(void)flags;
	c->reading = false;
	c->inflight--;
	if (c->closing || res <= 0) {
		conn_close(l, c);
		return;
	}
	c->in.len += (size_t)res;
	while ((k = wire_frame_next(c->in.data + pos, c->in.len - pos, &body,
				    &blen, &used)) == 1) {
		l->stats->ops++;
		l->hooks.frame(l->hooks.ctx, c, body, blen);
		pos += used;
	}
	wbuf_consume(&c->in, pos);
	if (k < 0) {
		/* The length cannot be trusted, so the stream cannot be
		 * resynchronised: answer and hang up. */
		struct wbuf b = {0};
		pack_refusal(&b, "TOO_LARGE", "frame: larger than 1 MiB");
		loop_reply(l, c, b.data, b.len, 0);
		wbuf_free(&b);
		c->close_after_send = true;
		c->in.len = 0;
	}
	if (conn_backlog(c) > OUT_PAUSE)
		c->paused = true;
	conn_flush(l, c);
	if (!c->close_after_send)
		arm_recv(l, c);
	else if (!c->writing && c->out.len == 0 && c->nparks == 0)
		conn_close(l, c);
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
	if (c->sending.len > 0) {
		/* A short send: push the rest out before anything newer. */
		struct wbuf tmp = c->sending;
		c->sending = c->out;
		c->out = tmp;
		wbuf_append(&c->out, c->sending.data, c->sending.len);
		c->sending.len = 0;
	}
	conn_flush(l, c);
	if (c->paused && conn_backlog(c) < OUT_PAUSE / 2) {
		c->paused = false;
		arm_recv(l, c);
	}
	if (c->close_after_send && !c->writing && c->nparks == 0)
		conn_close(l, c);
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
	l->hooks.tick(l->hooks.ctx);
	if (l->timers_armed == 0)
		loop_arm_timer(l, mono_ms() + TICK_MS);
}

static void arm_accept(struct loop *l)
{
	struct io_uring_sqe *sqe = loop_sqe(l);
	io_uring_prep_multishot_accept(sqe, l->listen_fd, NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &l->accept_ev);
}

static void on_accept(void *owner, int res, unsigned flags)
{
	struct loop *l = owner;

	if (res >= 0)
		conn_new(l, res);
	else if (res != -ECANCELED && res != -EINVAL && !l->stopping)
		log_msg("accept: %s", strerror(-res));
	if (!(flags & IORING_CQE_F_MORE) && !l->stopping && l->listen_fd >= 0)
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
		unlink(l->cfg.socket_path);
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
		int rc = io_uring_submit_and_wait(&l->ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EBUSY) {
			log_msg("io_uring: %s", strerror(-rc));
			return BOOKD_EXIT_FATAL;
		}
		run_completions(l);
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

static int listen_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_msg("--socket: path longer than %zu bytes",
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* We hold the data directory's lock, so a socket file left at this
	 * path is a dead engine's. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1024) < 0) {
		log_msg("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	chmod(path, 0666);
	return fd;
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
	l->listen_fd = listen_unix(cfg->socket_path);
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
	if (l->listen_fd >= 0) {
		close(l->listen_fd);
		unlink(l->cfg.socket_path);
	}
	if (l->signal_fd >= 0)
		close(l->signal_fd);
	free(l->sigbuf);
}
