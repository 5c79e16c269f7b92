/*
 * loop.c - the event loop and connections; see loop.h.
 */
#include <errno.h>
#include <inttypes.h>
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

#include "conn.h"
#include "log.h"

#define RING_ENTRIES	  4096
#define FD_SLACK	  64	/* descriptors besides connections */
#define ACCEPT_BACKOFF_MS 100	/* accept paused after EMFILE and the like */
#define LOG_EVERY_MS	  10000 /* lines a client can provoke, at most */
#define TICK_MS		  1000	/* the timer's period when nothing is due */
#define STOP_MS		  5000	/* bound on settling after a stop signal */
#define DRAIN_MS	  2000	/* bound on waiting for connections' I/O */

static void unlink_ours(struct loop *l);
static void arm_accept(struct loop *l);

bool loop_idle(struct loop *l)
{
	return l->ready == NULL && io_uring_cq_ready(&l->ring) == 0;
}

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
	conn_sweep(l);
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
		conn_run_ready(l);
		conn_run_starved(l);
		l->hooks.turn_end(l->hooks.ctx);
		conn_flush_turn(l);
		if (l->background_due) {
			/* Replies and the next sync go to the kernel before
			 * the slow work starts. */
			l->background_due = false;
			io_uring_submit(&l->ring);
			l->hooks.background(l->hooks.ctx);
			conn_flush_turn(l);
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
