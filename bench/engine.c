/*
 * engine.c - start, attach to, restart and stop the measured bookd.  See
 * engine.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "pagesdir.h"
#include "util.h"
#include "wire.h"

#define MAX_ARGS  32
#define MAX_LIVE  8
#define READY_STR "bookd: ready"

/* Copies an engine's stderr to its log after it is ready. */
struct bench_copier {
	pthread_t thread;
	int fd;	 /* the pipe's read end, owned by the thread */
	int out; /* the log, owned by the thread */
};

/* Engines to kill if the harness dies.  Engines are started and stopped by
 * the main thread only; the watchdog reads the table once, on its way out
 * of the process (bench_die), so a race there costs nothing. */
static struct bench_engine *live[MAX_LIVE];

static void kill_live(void *unused)
{
	(void)unused;
	for (int i = 0; i < MAX_LIVE; i++) {
		if (live[i] == NULL)
			continue;
		if (live[i]->pid > 0) {
			kill(live[i]->pid, SIGKILL);
			waitpid(live[i]->pid, NULL, 0);
			live[i]->pid = -1;
		}
		bench_engine_cleanup(live[i]);
	}
}

static void track(struct bench_engine *e, bool on)
{
	for (int i = 0; i < MAX_LIVE; i++) {
		if (on && live[i] == NULL) {
			live[i] = e;
			bench_on_die(kill_live, NULL);
			return;
		}
		if (!on && live[i] == e) {
			live[i] = NULL;
			return;
		}
	}
	if (on)
		bench_die("more than %d engines at once", MAX_LIVE);
}

static void *copier_main(void *arg)
{
	struct bench_copier *cp = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(cp->fd, buf, sizeof buf)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0 && write(cp->out, buf, (size_t)n) != n)
			break;
	close(cp->fd);
	close(cp->out);
	return NULL;
}

/* Print the last lines of the engine's log, to explain a failure. */
static void show_log_tail(const struct bench_engine *e)
{
	char buf[2048];
	ssize_t n;
	off_t size;
	int fd = open(e->log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof buf - 1)
		lseek(fd, size - (off_t)sizeof buf + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	fprintf(stderr, "bookd-bench: --- tail of %s ---\n%s", e->log, buf);
	if (buf[n - 1] != '\n')
		fputc('\n', stderr);
}

/* Split e->extra on spaces into argv after the fixed arguments. */
static int build_argv(struct bench_engine *e, char *words, char **argv)
{
	int n = 0;
	char *save = NULL, *w;

	argv[n++] = e->bin;
	argv[n++] = "--data";
	argv[n++] = e->data;
	argv[n++] = "--socket";
	argv[n++] = e->sock;
	strlcpy(words, e->extra, sizeof e->extra);
	for (w = strtok_r(words, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		if (n == MAX_ARGS - 1)
			return -1;
		argv[n++] = w;
	}
	argv[n] = NULL;
	return 0;
}

/*
 * Fork and exec the engine with stderr (and stdout) on a pipe, then read
 * the pipe into the log until "bookd: ready" or ready_ms pass.
 */
static int spawn(struct bench_engine *e, int ready_ms, uint64_t *ready_ns)
{
	char words[sizeof e->extra], *argv[MAX_ARGS];
	char seen[4096];
	size_t seen_len = 0;
	uint64_t t0, deadline;
	int pfd[2], out = -1;
	pid_t pid;

	if (build_argv(e, words, argv) < 0) {
		bench_log("too many engine arguments: %s", e->extra);
		return -1;
	}
	out = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0) {
		bench_log("%s: %s", e->log, strerror(errno));
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		bench_log("pipe: %s", strerror(errno));
		close(out);
		return -1;
	}
	t0 = bench_now_ns();
	pid = fork();
	if (pid < 0) {
		bench_log("fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		close(out);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		/* The harness blocks signals for its watchdog thread; the
		 * engine must start with the default mask. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 2);
		dup2(pfd[1], 1);
		execv(e->bin, argv);
		dprintf(2, "exec %s: %s\n", e->bin, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	e->pid = pid;
	e->peer_pid = pid;
	deadline = t0 + (uint64_t)ready_ms * 1000000u;
	for (;;) {
		struct pollfd p = {pfd[0], POLLIN, 0};
		uint64_t now = bench_now_ns();
		char buf[4096];
		ssize_t n;

		if (now >= deadline) {
			bench_log("bookd did not say ready within %d ms",
				  ready_ms);
			goto fail;
		}
		if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) < 0 &&
		    errno != EINTR) {
			bench_log("poll: %s", strerror(errno));
			goto fail;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(pfd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			bench_log("bookd exited before it was ready");
			goto fail;
		}
		if (write(out, buf, (size_t)n) != n) {
			bench_log("%s: short write", e->log);
			goto fail;
		}
		/* Keep the tail of what was read so a line split across reads
		 * is still found; the ready line is short. */
		for (ssize_t i = 0; i < n; i++) {
			if (seen_len == sizeof seen - 1) {
				memmove(seen, seen + sizeof seen / 2,
					seen_len - sizeof seen / 2);
				seen_len -= sizeof seen / 2;
			}
			seen[seen_len++] = buf[i];
		}
		seen[seen_len] = 0;
		if (strstr(seen, READY_STR))
			break;
	}
	if (ready_ns)
		*ready_ns = bench_now_ns() - t0;
	e->copier = bench_calloc(1, sizeof *e->copier);
	e->copier->fd = pfd[0];
	e->copier->out = out;
	if (pthread_create(&e->copier->thread, NULL, copier_main, e->copier) !=
	    0) {
		free(e->copier);
		e->copier = NULL;
		bench_log("pthread_create failed");
		goto fail;
	}
	return 0;

fail:
	close(pfd[0]);
	close(out);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	e->pid = -1;
	show_log_tail(e);
	return -1;
}

/* Join the stderr copier once the engine has exited (the pipe is at EOF). */
static void join_copier(struct bench_engine *e)
{
	if (e->copier == NULL)
		return;
	pthread_join(e->copier->thread, NULL);
	free(e->copier);
	e->copier = NULL;
}

int bench_engine_start(struct bench_engine *e, const char *bin,
		       const char *base, const char *extra)
{
	char tmpl[PATH_MAX];
	int n;

	memset(e, 0, sizeof *e);
	e->pid = e->peer_pid = -1;
	n = snprintf(tmpl, sizeof tmpl, "%s/bookd-bench.XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof tmpl || mkdtemp(tmpl) == NULL) {
		bench_log("cannot create a directory under %s: %s", base,
			  strerror(errno));
		return -1;
	}
	/* The socket path must fit sun_path: fall back to a short name
	 * under /tmp when the base directory is deep. */
	if (strlcpy(e->dir, tmpl, sizeof e->dir) >= sizeof e->dir ||
	    (size_t)snprintf(e->data, sizeof e->data, "%s/data", tmpl) >=
		sizeof e->data ||
	    (size_t)snprintf(e->log, sizeof e->log, "%s/bookd.log", tmpl) >=
		sizeof e->log ||
	    strlcpy(e->bin, bin, sizeof e->bin) >= sizeof e->bin ||
	    strlcpy(e->extra, extra ? extra : "", sizeof e->extra) >=
		sizeof e->extra) {
		bench_log("path or arguments too long");
		rmdir(tmpl);
		return -1;
	}
	if ((size_t)snprintf(e->sock, sizeof e->sock, "%s/s", tmpl) >=
	    sizeof e->sock) {
		bench_log("%s: too deep for a socket path", tmpl);
		rmdir(tmpl);
		return -1;
	}
	track(e, true);
	if (spawn(e, BENCH_READY_MS, NULL) < 0) {
		bench_engine_cleanup(e);
		return -1;
	}
	return 0;
}

int bench_engine_attach(struct bench_engine *e, const char *sock,
			const char *data)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	bookd_conn *c;

	memset(e, 0, sizeof *e);
	e->pid = e->peer_pid = -1;
	e->attached = true;
	if (strlcpy(e->sock, sock, sizeof e->sock) >= sizeof e->sock ||
	    strlcpy(e->data, data, sizeof e->data) >= sizeof e->data) {
		bench_log("--socket or --data too long");
		return -1;
	}
	c = bench_engine_connect(e);
	if (c == NULL)
		return -1;
	if (getsockopt(bookd_fd(c), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		e->peer_pid = cred.pid;
	bookd_close(c);
	return 0;
}

int bench_engine_restart(struct bench_engine *e, int ready_ms,
			 uint64_t *ready_ns)
{
	if (e->attached || e->pid > 0) {
		bench_log("restart: the engine is %s",
			  e->attached ? "not ours" : "still running");
		return -1;
	}
	return spawn(e, ready_ms, ready_ns);
}

/* waitpid with a bound; 1 when reaped (status in *st), 0 on timeout. */
static int wait_bounded(pid_t pid, int *st, int ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)ms * 1000000u;

	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1;
		if (bench_now_ns() >= deadline)
			return 0;
		bench_sleep_ms(2);
	}
}

int bench_engine_stop(struct bench_engine *e)
{
	int st = 0;

	if (e->attached || e->pid <= 0)
		return -1;
	kill(e->pid, SIGTERM);
	if (!wait_bounded(e->pid, &st, BENCH_STOP_MS)) {
		bench_log("bookd did not exit within %d ms of SIGTERM; killing",
			  BENCH_STOP_MS);
		kill(e->pid, SIGKILL);
		waitpid(e->pid, &st, 0);
	}
	e->pid = -1;
	join_copier(e);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

void bench_engine_kill9(struct bench_engine *e)
{
	if (e->attached || e->pid <= 0)
		return;
	kill(e->pid, SIGKILL);
	waitpid(e->pid, NULL, 0);
	e->pid = -1;
	join_copier(e);
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	/* The pages link's file in the pages directory goes too. */
	if (flag == FTW_SL && strcmp(path + ftw->base, "pages") == 0)
		pagesdir_remove_link(path);
	remove(path);
	return 0;
}

void bench_engine_cleanup(struct bench_engine *e)
{
	if (!e->attached) {
		if (e->pid > 0)
			bench_engine_stop(e);
		if (e->dir[0])
			nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		e->dir[0] = 0;
	}
	track(e, false);
}

bookd_conn *bench_engine_connect(const struct bench_engine *e)
{
	int err = 0;
	bookd_conn *c = bookd_connect(e->sock, &err);

	if (c == NULL) {
		bench_log("connect %s: %s (%s)", e->sock, bookd_strerror(err),
			  strerror(errno));
		return NULL;
	}
	bookd_set_timeout(c, BENCH_CALL_MS);
	return c;
}

static int64_t get_int(const msgpack_object *m, const char *key)
{
	int64_t v = 0;

	wire_int(wire_get(m, key), &v);
	return v;
}

int bench_engine_stats(bookd_conn *c, struct bench_stats *out)
{
	const msgpack_object *r;
	int rc = bookd_call(c, "stats", NULL, 0, &r);

	if (rc < 0) {
		bench_log("stats: %s", bookd_errmsg(c));
		return -1;
	}
	out->commits = get_int(r, "commits");
	out->fsyncs = get_int(r, "fsyncs");
	out->records = get_int(r, "records");
	out->bookings = get_int(r, "bookings");
	out->lsn = get_int(r, "lsn");
	out->log_bytes = get_int(r, "log_bytes");
	return 0;
}

int bench_engine_rss(const struct bench_engine *e, int64_t *rss_kib,
		     int64_t *hwm_kib)
{
	char path[64], line[256];
	FILE *f;
	int found = 0;

	if (e->peer_pid <= 0) {
		bench_log("the engine's PID is unknown");
		return -1;
	}
	snprintf(path, sizeof path, "/proc/%d/status", (int)e->peer_pid);
	f = fopen(path, "re");
	if (f == NULL) {
		bench_log("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		long long v;
		if (sscanf(line, "VmRSS: %lld", &v) == 1) {
			*rss_kib = v;
			found |= 1;
		} else if (sscanf(line, "VmHWM: %lld", &v) == 1) {
			*hwm_kib = v;
			found |= 2;
		}
	}
	fclose(f);
	if (found != 3) {
		bench_log("%s: no VmRSS/VmHWM", path);
		return -1;
	}
	return 0;
}
