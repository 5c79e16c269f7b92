/*
 * harness.c - a real bookd under test, and raw protocol access; see
 * harness.h.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "harness.h"
#include "pagesdir.h"
#include "quanta.h"
#include "wire.h"

#define H_MAX_ARGS 48
#define H_MAX_LIVE 16
#define READY_MARK "bookd: ready"

/*
 * The copier owns the read end of the engine's stderr once the engine is
 * ready.  It lives on the heap rather than in struct harness so that a test
 * copying or abandoning its struct cannot leave the thread reading freed
 * memory.
 */
struct h_copier {
	pthread_t thread;
	int fd;
	int log_fd;
	atomic_bool child_gone;
};

/*
 * Engines and directories still alive, by value, so that an exit handler
 * can kill and remove them when a test fails an assertion (Check ends a
 * failed test with exit()) before reaching h_cleanup().  Only the process
 * that registered an entry acts on it: a child forked by a test and exiting
 * must not kill the engine its parent is still testing.
 */
static struct {
	pid_t owner;
	pid_t pid;
	struct h_copier *copier;
	char dir[256];
} live[H_MAX_LIVE];
static bool atexit_installed;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	/* A data directory's pages link: its file in the pages directory
	 * goes too (engine/pagesdir.h). */
	if (flag == FTW_SL && strcmp(path + ftw->base, "pages") == 0)
		pagesdir_remove_link(path);
	remove(path);
	return 0;
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void live_atexit(void)
{
	pid_t me = getpid();

	for (int i = 0; i < H_MAX_LIVE; i++) {
		if (live[i].owner != me || live[i].dir[0] == 0)
			continue;
		if (live[i].pid > 0) {
			kill(live[i].pid, SIGKILL);
			waitpid(live[i].pid, NULL, 0);
		}
		if (live[i].copier) {
			atomic_store(&live[i].copier->child_gone, true);
			pthread_join(live[i].copier->thread, NULL);
			free(live[i].copier);
		}
		rm_tree(live[i].dir);
		live[i].dir[0] = 0;
	}
}

/* Record dir's engine pid (-1 for none) and stderr copier (or NULL); adds
 * the entry when new. */
static void live_set(const char *dir, pid_t pid, struct h_copier *copier)
{
	int free_slot = -1;
	pid_t me = getpid();

	if (!atexit_installed) {
		atexit(live_atexit);
		atexit_installed = true;
	}
	for (int i = 0; i < H_MAX_LIVE; i++) {
		if (live[i].owner == me && strcmp(live[i].dir, dir) == 0) {
			live[i].pid = pid;
			live[i].copier = copier;
			return;
		}
		if (free_slot < 0 &&
		    (live[i].dir[0] == 0 || live[i].owner != me))
			free_slot = i;
	}
	if (free_slot < 0) {
		fprintf(stderr,
			"harness: more than %d live harnesses; %s will "
			"not be cleaned up on a failed assertion\n",
			H_MAX_LIVE, dir);
		return;
	}
	live[free_slot].owner = me;
	live[free_slot].pid = pid;
	live[free_slot].copier = copier;
	snprintf(live[free_slot].dir, sizeof live[free_slot].dir, "%s", dir);
}

static void live_drop(const char *dir)
{
	pid_t me = getpid();

	for (int i = 0; i < H_MAX_LIVE; i++)
		if (live[i].owner == me && strcmp(live[i].dir, dir) == 0)
			live[i].dir[0] = 0;
}

static void write_all_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* The engine's stderr goes to ours (visible in a failing test's log) and to
 * the harness's log file (searchable with h_log_contains). */
static void copy_out(int log_fd, const char *p, size_t n)
{
	write_all_fd(STDERR_FILENO, p, n);
	if (log_fd >= 0)
		write_all_fd(log_fd, p, n);
}

static void *copier_main(void *arg)
{
	struct h_copier *c = arg;
	char buf[4096];

	for (;;) {
		struct pollfd pfd = {c->fd, POLLIN, 0};
		int r = poll(&pfd, 1, 100);
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		/* A grandchild may hold the pipe open after the engine is
		 * reaped; stop once it has gone quiet. */
		if (r == 0) {
			if (atomic_load(&c->child_gone))
				break;
			continue;
		}
		n = read(c->fd, buf, sizeof buf);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		copy_out(c->log_fd, buf, (size_t)n);
	}
	return NULL;
}

/* Split extra (may be NULL) on spaces into argv[first..]; returns the new
 * argc or -1 when there are too many.  The strings live in copy. */
static int split_args(const char *extra, char *copy, size_t copylen,
		      char *argv[], int argc, int max)
{
	char *save = NULL;
	char *tok;

	if (extra == NULL)
		return argc;
	if (snprintf(copy, copylen, "%s", extra) >= (int)copylen) {
		fprintf(stderr, "harness: extra arguments too long\n");
		return -1;
	}
	for (tok = strtok_r(copy, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (argc >= max) {
			fprintf(stderr, "harness: too many extra arguments\n");
			return -1;
		}
		argv[argc++] = tok;
	}
	return argc;
}

int h_use_test_build(void)
{
	const char *bin = getenv("BOOKD_TEST_BIN");

	if (bin == NULL || *bin == 0 || access(bin, X_OK) != 0) {
		fprintf(stderr, "harness: BOOKD_TEST_BIN (the engine built "
				"with BOOKD_TEST_HOOKS) is not set or not "
				"executable\n");
		return -1;
	}
	return setenv("BOOKD_BIN", bin, 1);
}

/*
 * Fork and exec the engine on h's directory with its stderr on a new pipe,
 * whose read end goes to *rfd.  Returns the pid or -1.
 */
static pid_t spawn_engine(const struct harness *h, const char *extra, int *rfd)
{
	const char *bin = getenv("BOOKD_BIN");
	char copy[1024];
	char *argv[H_MAX_ARGS + 1];
	int argc = 0;
	int p[2];
	pid_t parent = getpid();
	pid_t pid;

	if (bin == NULL || *bin == 0) {
		fprintf(stderr, "harness: BOOKD_BIN is not set\n");
		return -1;
	}
	argv[argc++] = (char *)bin;
	argv[argc++] = "--data";
	argv[argc++] = (char *)h->data;
	argv[argc++] = "--socket";
	argv[argc++] = (char *)h->sock;
	argc = split_args(extra, copy, sizeof copy, argv, argc, H_MAX_ARGS);
	if (argc < 0)
		return -1;
	argv[argc] = NULL;
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("harness: pipe2");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("harness: fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec. */
		sigset_t none;
		int nul;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		nul = open("/dev/null", O_RDONLY);
		if (nul >= 0 && nul != STDIN_FILENO)
			dup2(nul, STDIN_FILENO);
		dup2(p[1], STDERR_FILENO);
		close_range(3, ~0u, 0);
		execv(bin, argv);
		_exit(127);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

/* Wait at most timeout_ms for pid; its status as h_stop() returns it, or
 * -2 when it is still running. */
static int wait_bounded(pid_t pid, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int ws;

	for (;;) {
		pid_t r = waitpid(pid, &ws, WNOHANG);
		if (r == pid) {
			if (WIFEXITED(ws))
				return WEXITSTATUS(ws);
			return 128 + WTERMSIG(ws);
		}
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			return -2;
		sleep_ms(5);
	}
}

/* Kill pid if it has not ended within timeout_ms, and reap it. */
static int reap(pid_t pid, int timeout_ms)
{
	int st = wait_bounded(pid, timeout_ms);

	if (st == -2) {
		kill(pid, SIGKILL);
		st = wait_bounded(pid, 10000);
		if (st == -2)
			fprintf(stderr, "harness: pid %d survives SIGKILL\n",
				(int)pid);
	}
	return st;
}

/* The engine has been reaped: drain and end the copier, close the pipe. */
static void child_ended(struct harness *h, int status)
{
	h->status = status;
	h->pid = -1;
	if (h->copier_) {
		atomic_store(&h->copier_->child_gone, true);
		pthread_join(h->copier_->thread, NULL);
		if (h->copier_->log_fd >= 0)
			close(h->copier_->log_fd);
		free(h->copier_);
		h->copier_ = NULL;
	}
	if (h->stderr_fd >= 0)
		close(h->stderr_fd);
	h->stderr_fd = -1;
	live_set(h->dir, -1, NULL);
}

/* Read the engine's stderr until READY_MARK; 0, or -1 on EOF or timeout. */
static int wait_ready(int fd, int log_fd)
{
	const size_t keep = sizeof READY_MARK - 2;
	char win[sizeof READY_MARK + 4096];
	size_t have = 0;
	int64_t deadline = now_ms() + H_READY_MS;

	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t n;
		int r;

		if (left <= 0) {
			fprintf(stderr,
				"harness: no \"" READY_MARK "\" within %d ms\n",
				H_READY_MS);
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("harness: poll");
			return -1;
		}
		if (r == 0)
			continue;
		n = read(fd, win + have, sizeof win - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "harness: engine closed stderr before "
					"\"" READY_MARK "\"\n");
			return -1;
		}
		copy_out(log_fd, win + have, (size_t)n);
		have += (size_t)n;
		if (memmem(win, have, READY_MARK, sizeof READY_MARK - 1))
			return 0;
		/* Keep only what could begin a mark split across reads. */
		if (have > keep) {
			memmove(win, win + have - keep, keep);
			have = keep;
		}
	}
}

int h_restart(struct harness *h, const char *extra_args)
{
	struct h_copier *c = NULL;
	int fd = -1;
	int log_fd;
	pid_t pid;

	if (h->pid > 0) {
		fprintf(stderr, "harness: h_restart while pid %d runs\n",
			(int)h->pid);
		return -1;
	}
	log_fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	pid = spawn_engine(h, extra_args, &fd);
	if (pid < 0)
		goto fail;
	h->pid = pid;
	h->stderr_fd = fd;
	live_set(h->dir, pid, NULL);
	if (wait_ready(fd, log_fd) < 0) {
		child_ended(h, reap(pid, 1000));
		fprintf(stderr, "harness: engine not ready (status %d)\n",
			h->status);
		goto fail;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL)
		goto fail_running;
	c->fd = fd;
	c->log_fd = log_fd;
	atomic_init(&c->child_gone, false);
	if (pthread_create(&c->thread, NULL, copier_main, c) != 0) {
		free(c);
		goto fail_running;
	}
	h->copier_ = c;
	live_set(h->dir, pid, c);
	return 0;

fail_running:
	fprintf(stderr, "harness: cannot start the stderr copier\n");
	kill(pid, SIGKILL);
	child_ended(h, reap(pid, 1000));
fail:
	if (log_fd >= 0)
		close(log_fd);
	return -1;
}

int h_start(struct harness *h, const char *extra_args)
{
	const char *tmp = getenv("TMPDIR");
	struct sockaddr_un sun;

	memset(h, 0, sizeof *h);
	h->pid = -1;
	h->stderr_fd = -1;
	h->status = -1;
	if (tmp == NULL || *tmp == 0)
		tmp = "/tmp";
	if (snprintf(h->dir, sizeof h->dir, "%s/bookd-test-XXXXXX", tmp) >=
	    (int)sizeof h->dir) {
		fprintf(stderr, "harness: TMPDIR too long\n");
		return -1;
	}
	if (mkdtemp(h->dir) == NULL) {
		perror("harness: mkdtemp");
		h->dir[0] = 0;
		return -1;
	}
	live_set(h->dir, -1, NULL);
	snprintf(h->data, sizeof h->data, "%s/data", h->dir);
	snprintf(h->log, sizeof h->log, "%s/bookd.log", h->dir);
	if (snprintf(h->sock, sizeof h->sock, "%s/bookd.sock", h->dir) >=
	    (int)sizeof sun.sun_path) {
		fprintf(stderr, "harness: socket path %s too long\n", h->sock);
		return -1;
	}
	return h_restart(h, extra_args);
}

int h_stop(struct harness *h)
{
	int st;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, SIGTERM);
	st = wait_bounded(h->pid, H_STOP_MS);
	if (st == -2) {
		fprintf(stderr, "harness: engine ignored SIGTERM for %d ms\n",
			H_STOP_MS);
		st = reap(h->pid, 0);
	}
	child_ended(h, st);
	return st;
}

void h_kill9(struct harness *h)
{
	if (h->pid <= 0)
		return;
	kill(h->pid, SIGKILL);
	child_ended(h, reap(h->pid, 10000));
}

void h_cleanup(struct harness *h)
{
	if (h->pid > 0)
		h_stop(h);
	if (h->dir[0]) {
		rm_tree(h->dir);
		live_drop(h->dir);
		h->dir[0] = 0;
	}
}

int h_run_to_exit(const struct harness *h, const char *extra_args,
		  int timeout_ms, char *errbuf, size_t errlen)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t have = 0;
	int fd = -1;
	pid_t pid = spawn_engine(h, extra_args, &fd);

	if (errbuf && errlen)
		errbuf[0] = 0;
	if (pid < 0)
		return -1;
	for (;;) {
		char buf[1024];
		struct pollfd pfd = {fd, POLLIN, 0};
		int64_t left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			break;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		write_all_fd(STDERR_FILENO, buf, (size_t)n);
		if (errbuf && have + 1 < errlen) {
			size_t k = (size_t)n;
			if (k > errlen - 1 - have)
				k = errlen - 1 - have;
			memcpy(errbuf + have, buf, k);
			have += k;
			errbuf[have] = 0;
		}
	}
	close(fd);
	{
		int64_t left = deadline - now_ms();
		int st = wait_bounded(pid, left > 0 ? (int)left : 0);
		if (st == -2) {
			fprintf(stderr,
				"harness: engine did not exit within "
				"%d ms\n",
				timeout_ms);
			reap(pid, 0);
			return -1;
		}
		return st;
	}
}

int h_run_capture(const char *const argv[], int timeout_ms, char *out,
		  size_t outcap, char *err, size_t errcap)
{
	int po[2], pe[2], fds[2], open_fds = 2, ws;
	size_t no = 0, ne = 0;
	int64_t deadline = now_ms() + timeout_ms;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	fds[0] = po[0];
	fds[1] = pe[0];
	while (open_fds > 0 && now_ms() < deadline) {
		struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
		int k = poll(p, 2, (int)(deadline - now_ms()));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			char *buf = i ? err : out, sink[512];
			size_t cap = i ? errcap : outcap;
			size_t *len = i ? &ne : &no;
			ssize_t got;
			if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (*len + 1 < cap)
				got = read(fds[i], buf + *len, cap - 1 - *len);
			else
				got = read(fds[i], sink, sizeof(sink));
			if (got <= 0) {
				close(fds[i]);
				fds[i] = -1;
				open_fds--;
			} else if (*len + 1 < cap) {
				*len += (size_t)got;
			}
		}
	}
	out[no] = 0;
	err[ne] = 0;
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (open_fds > 0)
		kill(pid, SIGKILL);
	if (waitpid(pid, &ws, 0) != pid)
		return -1;
	if (open_fds > 0)
		return -1;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

bool h_log_contains(const struct harness *h, const char *needle)
{
	FILE *f = fopen(h->log, "r");
	char *buf;
	size_t n;
	bool found;

	if (f == NULL)
		return false;
	buf = malloc(16u << 20);
	if (buf == NULL) {
		fclose(f);
		return false;
	}
	n = fread(buf, 1, 16u << 20, f);
	fclose(f);
	found = memmem(buf, n, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

int h_connect_raw(const struct harness *h)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(h->sock) >= sizeof sun.sun_path)
		return -1;
	memcpy(sun.sun_path, h->sock, strlen(h->sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("harness: socket");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		fprintf(stderr, "harness: connect %s: %s\n", h->sock,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for events on fd until deadline; 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {fd, events, 0};
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r;
	}
}

int h_send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	int64_t deadline = now_ms() + H_CALL_MS;

	while (n > 0) {
		ssize_t w;

		if (wait_fd(fd, POLLOUT, deadline) <= 0) {
			fprintf(stderr, "harness: send timed out\n");
			return -1;
		}
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes before deadline.  Returns n, the short count at EOF,
 * or -1 on error or timeout. */
static ssize_t read_exact(int fd, char *p, size_t n, int64_t deadline)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		if (wait_fd(fd, POLLIN, deadline) <= 0)
			return -1;
		r = recv(fd, p + got, n - got, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int h_recv_frame(int fd, msgpack_unpacked *out, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	unsigned char hdr[4];
	uint32_t len;
	size_t off = 0;
	ssize_t r;
	char *body;

	r = read_exact(fd, (char *)hdr, 4, deadline);
	if (r == 0)
		return 0;
	if (r != 4)
		return -1;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	      (uint32_t)hdr[2] << 8 | hdr[3];
	if (len > WIRE_MAX_FRAME || len == 0)
		return -1;
	body = malloc(len);
	if (body == NULL)
		return -1;
	if (read_exact(fd, body, len, deadline) != (ssize_t)len)
		goto fail;
	if (msgpack_unpack_next(out, body, len, &off) !=
		MSGPACK_UNPACK_SUCCESS ||
	    off != len)
		goto fail;
	/* The unpacked strings point into body: the zone frees it. */
	if (!msgpack_zone_push_finalizer(out->zone, free, body))
		goto fail;
	return 1;

fail:
	free(body);
	return -1;
}

static bool fmt_sep(char c)
{
	return c == ' ' || c == ',' || c == ':';
}

/* Count the values at the top level of fmt up to the bracket close; -1 on
 * a malformed format. */
static int fmt_count(const char *p, char close)
{
	int n = 0;

	for (;;) {
		while (fmt_sep(*p))
			p++;
		if (*p == close)
			return n;
		if (*p == 0)
			return -1;
		if (*p == '{' || *p == '[') {
			int depth = 0;
			do {
				if (*p == '{' || *p == '[')
					depth++;
				else if (*p == '}' || *p == ']')
					depth--;
				else if (*p == 0)
					return -1;
				p++;
			} while (depth > 0);
		} else if (strchr("siIUbno", *p)) {
			p++;
		} else {
			return -1;
		}
		n++;
	}
}

static int pack_value(msgpack_packer *pk, const char **fmt, va_list *ap);

static int pack_items(msgpack_packer *pk, const char **fmt, char close,
		      va_list *ap)
{
	for (;;) {
		while (fmt_sep(**fmt))
			(*fmt)++;
		if (**fmt == close) {
			(*fmt)++;
			return 0;
		}
		if (**fmt == 0 || pack_value(pk, fmt, ap) < 0)
			return -1;
	}
}

static int pack_value(msgpack_packer *pk, const char **fmt, va_list *ap)
{
	char c = *(*fmt)++;
	int n;

	switch (c) {
	case 's': {
		const char *s = va_arg(*ap, const char *);
		if (s)
			wire_pk_str(pk, s);
		else
			msgpack_pack_nil(pk);
		return 0;
	}
	case 'i':
		msgpack_pack_int64(pk, va_arg(*ap, int));
		return 0;
	case 'I':
		msgpack_pack_int64(pk, va_arg(*ap, int64_t));
		return 0;
	case 'U':
		msgpack_pack_uint64(pk, va_arg(*ap, uint64_t));
		return 0;
	case 'b':
		if (va_arg(*ap, int))
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		return 0;
	case 'n':
		msgpack_pack_nil(pk);
		return 0;
	case 'o': {
		const msgpack_object *o = va_arg(*ap, const msgpack_object *);
		if (o)
			msgpack_pack_object(pk, *o);
		else
			msgpack_pack_nil(pk);
		return 0;
	}
	case '{':
		n = fmt_count(*fmt, '}');
		if (n < 0 || n % 2)
			return -1;
		msgpack_pack_map(pk, (size_t)n / 2);
		return pack_items(pk, fmt, '}', ap);
	case '[':
		n = fmt_count(*fmt, ']');
		if (n < 0)
			return -1;
		msgpack_pack_array(pk, (size_t)n);
		return pack_items(pk, fmt, ']', ap);
	default:
		return -1;
	}
}

int h_vpack(msgpack_sbuffer *sb, const char *fmt, va_list ap)
{
	msgpack_packer pk;
	va_list cp;
	int rc;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	va_copy(cp, ap);
	while (fmt_sep(*fmt))
		fmt++;
	rc = pack_value(&pk, &fmt, &cp);
	while (rc == 0 && fmt_sep(*fmt))
		fmt++;
	if (rc == 0 && *fmt != 0)
		rc = -1;
	va_end(cp);
	if (rc < 0)
		fprintf(stderr, "harness: malformed h_pack format\n");
	return rc;
}

int h_pack(msgpack_sbuffer *sb, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = h_vpack(sb, fmt, ap);
	va_end(ap);
	return rc;
}

/* Pack a framed request into sb; 0 or -1. */
static int build_req(msgpack_sbuffer *sb, uint64_t id, const char *as,
		     const char *op, const char *fmt, va_list ap)
{
	msgpack_packer pk;
	size_t n;
	unsigned char *p;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_sbuffer_write(sb, "\0\0\0\0", 4);
	msgpack_pack_map(&pk, (fmt ? 3 : 2) + (as ? 1 : 0));
	wire_pk_str(&pk, "id");
	msgpack_pack_uint64(&pk, id);
	wire_pk_kstr(&pk, "op", op);
	if (as)
		wire_pk_kstr(&pk, "as", as);
	if (fmt) {
		wire_pk_str(&pk, "args");
		if (h_vpack(sb, fmt, ap) < 0)
			return -1;
	}
	n = sb->size - 4;
	if (n > WIRE_MAX_FRAME)
		return -1;
	p = (unsigned char *)sb->data;
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	return 0;
}

static int vsend_req(int fd, uint64_t id, const char *as, const char *op,
		     const char *fmt, va_list ap)
{
	msgpack_sbuffer sb;
	int rc;

	msgpack_sbuffer_init(&sb);
	rc = build_req(&sb, id, as, op, fmt, ap);
	if (rc == 0)
		rc = h_send_all(fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int h_build_req(msgpack_sbuffer *sb, uint64_t id, const char *op,
		const char *fmt, ...)
{
	msgpack_sbuffer one;
	va_list ap;
	int rc;

	msgpack_sbuffer_init(&one);
	va_start(ap, fmt);
	rc = build_req(&one, id, NULL, op, fmt, ap);
	va_end(ap);
	if (rc == 0)
		msgpack_sbuffer_write(sb, one.data, one.size);
	msgpack_sbuffer_destroy(&one);
	return rc;
}

int h_send_req(int fd, uint64_t id, const char *op, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsend_req(fd, id, NULL, op, fmt, ap);
	va_end(ap);
	return rc;
}

static int vcall(int fd, msgpack_unpacked *reply, uint64_t id, const char *as,
		 const char *op, const char *fmt, va_list ap)
{
	int64_t deadline = now_ms() + H_CALL_MS;
	const msgpack_object *v;
	int rc;

	rc = vsend_req(fd, id, as, op, fmt, ap);
	if (rc < 0)
		return BOOKD_E_IO;
	/* Pushes on a subscribed connection may come first: skip them. */
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0 || h_recv_frame(fd, reply, (int)left) != 1)
			return BOOKD_E_IO;
		if (wire_get(&reply->data, "push") == NULL)
			break;
	}
	v = wire_get(&reply->data, "id");
	if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    v->via.u64 != id)
		return BOOKD_E_PROTO;
	v = wire_get(&reply->data, "ok");
	if (v == NULL || v->type != MSGPACK_OBJECT_BOOLEAN)
		return BOOKD_E_PROTO;
	if (v->via.boolean)
		return 0;
	v = wire_get(h_error(reply), "code");
	if (v == NULL || v->type != MSGPACK_OBJECT_STR)
		return BOOKD_E_PROTO;
	return proto_err_from_name(v->via.str.ptr, v->via.str.size);
}

int h_call(int fd, msgpack_unpacked *reply, uint64_t id, const char *op,
	   const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vcall(fd, reply, id, NULL, op, fmt, ap);
	va_end(ap);
	return rc;
}

int h_call_as(int fd, msgpack_unpacked *reply, uint64_t id, const char *as,
	      const char *op, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vcall(fd, reply, id, as, op, fmt, ap);
	va_end(ap);
	return rc;
}

void h_case_start(struct h_case *c, const char *extra_args)
{
	ck_assert_int_eq(h_start(&c->h, extra_args), 0);
	msgpack_unpacked_init(&c->r);
}

void h_case_end(struct h_case *c)
{
	msgpack_unpacked_destroy(&c->r);
	h_cleanup(&c->h);
}

int h_case_call(struct h_case *c, int fd, const char *as, const char *op,
		const char *fmt, ...)
{
	va_list ap;
	int rc;

	msgpack_unpacked_destroy(&c->r);
	msgpack_unpacked_init(&c->r);
	va_start(ap, fmt);
	rc = vcall(fd, &c->r, ++c->last_id, as, op, fmt, ap);
	va_end(ap);
	return rc;
}

void h_case_book_note(struct h_case *c, int fd, const char *res, int i)
{
	static char note[3001];
	int64_t s = h_day(2 + i / 96) + (int64_t)(i % 96) * 900;

	if (note[0] == 0)
		memset(note, 'n', sizeof(note) - 1);
	ck_assert_int_eq(
	    h_case_call(c, fd, NULL, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			"resource", res, "start", s, "end", s + 900, "booker",
			"name", "n", "email", "n@x", "note", note),
	    0);
}

int64_t h_case_stat(struct h_case *c, int fd, const char *key)
{
	const msgpack_object *v;
	int64_t x = -1;

	ck_assert_int_eq(h_case_call(c, fd, NULL, "stats", NULL), 0);
	v = wire_get(h_result(&c->r), key);
	ck_assert_ptr_nonnull(v);
	ck_assert(wire_int(v, &x));
	return x;
}

int h_case_conn(const struct h_case *c)
{
	int fd = h_connect_raw(&c->h);

	ck_assert_int_ge(fd, 0);
	return fd;
}

void h_case_mkres(struct h_case *c, int fd, const char *id)
{
	ck_assert_int_eq(
	    h_case_call(c, fd, NULL, "resource.create", "{s:s}", "id", id), 0);
}

const msgpack_object *h_result(const msgpack_unpacked *reply)
{
	return wire_get(&reply->data, "result");
}

const msgpack_object *h_error(const msgpack_unpacked *reply)
{
	return wire_get(&reply->data, "error");
}

int64_t h_utc(int y, int mo, int d, int hh, int mm)
{
	return q_days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY_SECONDS +
	       (int64_t)hh * 3600 + (int64_t)mm * 60;
}

int64_t h_day(int days_ahead)
{
	return (q_day_of((int64_t)time(NULL)) + days_ahead) * DAY_SECONDS;
}

void h_date(int64_t t, char buf[11])
{
	q_format_date(q_day_of(t), buf);
}
