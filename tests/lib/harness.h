/*
 * harness.h - start a real bookd for black-box tests and speak raw protocol
 * to it.
 *
 * A struct harness owns one temporary directory (mkdtemp under $TMPDIR or
 * /tmp) holding the engine's data directory (dir/data), its socket
 * (dir/bookd.sock) and a copy of everything the engine wrote to stderr
 * (dir/bookd.log, appended across restarts).  h_start() spawns $BOOKD_BIN,
 * waits at most H_READY_MS for "bookd: ready" on its stderr, and from then on
 * a small thread keeps copying the engine's stderr to ours and to the log, so
 * the engine never blocks on a full pipe.
 *
 * Nothing here can hang a test: every wait has a bound (H_READY_MS,
 * H_STOP_MS, the timeout_ms arguments).  An engine whose test process dies
 * is killed too (PR_SET_PDEATHSIG), and a test that fails an assertion
 * between h_start() and h_cleanup() still has its engine killed and its
 * directory removed by an exit handler.
 *
 * Raw access (h_connect_raw, h_send_all, h_recv_frame, h_send_req, h_call)
 * is for tests of the protocol itself, including malformed input; tests of
 * behaviour through the C client use bookd_connect(h->sock, ...).
 *
 * Failure: functions return -1 (or a negative bookd_err for h_call) and
 * print one line saying why on stderr, so a failing test's log explains
 * itself.
 */
#ifndef BOOKD_TEST_HARNESS_H
#define BOOKD_TEST_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include "bookd_errors.h"

#define H_READY_MS 30000 /* bound on waiting for "bookd: ready" */
#define H_STOP_MS  30000 /* bound on waiting for exit after SIGTERM */
#define H_CALL_MS  30000 /* bound on h_call()'s wait for its reply */

struct harness {
	char dir[256];	/* the temporary directory */
	char sock[320]; /* dir/bookd.sock, passed as --socket */
	char data[320]; /* dir/data, passed as --data */
	char log[320];	/* dir/bookd.log, the engine's stderr */
	pid_t pid;	/* the running engine, or -1 */
	int stderr_fd;	/* read end of the engine's stderr pipe, or -1 */
	int status;	/* exit status of the last engine that ended, or -1 */
	/* private: the thread copying stderr once the engine is ready */
	struct h_copier *copier_;
};

/*
 * Create a fresh directory, spawn "$BOOKD_BIN --data DIR/data --socket
 * DIR/bookd.sock" followed by extra_args (split on spaces; NULL for none)
 * and wait for "bookd: ready".  Returns 0, or -1 when the engine could not be
 * started or exited first (its status is then in h->status).
 */
int h_start(struct harness *h, const char *extra_args);
/*
 * Make the following h_start/h_restart run the test build of the engine
 * ($BOOKD_TEST_BIN, built with BOOKD_TEST_HOOKS: the fault-injection flags
 * such as --fail-sync-at) instead of $BOOKD_BIN.  0, or -1 when it is not
 * set or not executable.
 */
int h_use_test_build(void);
/* The same in the existing directory, after h_stop() or h_kill9(). */
int h_restart(struct harness *h, const char *extra_args);
/* SIGTERM, then waitpid for at most H_STOP_MS, then SIGKILL.  Returns the
 * exit status (128 + signal number when killed by a signal), or -1 when no
 * engine was running. */
int h_stop(struct harness *h);
/* SIGKILL and reap, as a crash would. */
void h_kill9(struct harness *h);
/* Stop the engine if it runs and remove the directory. */
void h_cleanup(struct harness *h);

/*
 * Run the engine once more on this harness's directory with extra_args and
 * expect it to exit by itself (a held lock, bad arguments, corruption) within
 * timeout_ms.  Its stderr is captured into errbuf (NUL-terminated, at most
 * errlen bytes; may be NULL).  Returns the exit status as h_stop() does, or
 * -1 when it did not exit in time (it is then killed) or could not start.
 * The harness's own engine, if running, is left alone.
 */
int h_run_to_exit(const struct harness *h, const char *extra_args,
		  int timeout_ms, char *errbuf, size_t errlen);

/*
 * Run argv[0] (a path) with argv, capturing its standard output into
 * out[0..outcap) and its standard error into err[0..errcap), both
 * NUL-terminated (what does not fit is read and dropped), for at most
 * timeout_ms; then it is killed.  Returns the exit status (128 + signal
 * number when killed by a signal), or -1 when it did not finish in time.
 */
int h_run_capture(const char *const argv[], int timeout_ms, char *out,
		  size_t outcap, char *err, size_t errcap);

/* True when the engine's stderr so far (the log) contains needle. */
bool h_log_contains(const struct harness *h, const char *needle);

/* A connected AF_UNIX stream fd to h->sock, or -1. */
int h_connect_raw(const struct harness *h);
/* Write all n bytes (MSG_NOSIGNAL); 0 or -1. */
int h_send_all(int fd, const void *buf, size_t n);
/*
 * Read one frame within timeout_ms.  Returns 1 with the frame unpacked into
 * *out (which must have been msgpack_unpacked_init'ed; the caller destroys
 * it), 0 on a clean EOF before any byte of a frame, and -1 on error, timeout,
 * an oversized length or bytes that are not one MessagePack object.
 */
int h_recv_frame(int fd, msgpack_unpacked *out, int timeout_ms);

/*
 * h_pack: pack a value described by a small format into sb.
 *
 *   s  const char *  a string (NULL packs nil)
 *   i  int           I  int64_t      U  uint64_t
 *   b  int (bool)    n  nil, no argument
 *   o  const msgpack_object *  copied as is
 *   {...}  a map: keys and values alternate ("{s:i, s:s}")
 *   [...]  an array
 * Spaces, commas and colons are separators and may be used freely.
 * Example: h_pack(&sb, "{s:s, s:I, s:[s,s]}", "resource", "studio-a",
 *                 "start", t, "resources", "a", "b");
 * Returns 0, or -1 on a malformed format (an odd map, an unknown letter,
 * unbalanced brackets).
 */
int h_pack(msgpack_sbuffer *sb, const char *fmt, ...);
int h_vpack(msgpack_sbuffer *sb, const char *fmt, va_list ap);

/*
 * Send one request {"id": id, "op": op, "args": <fmt...>} (args omitted
 * when fmt is NULL; fmt must describe a map).  0 or -1.
 */
int h_send_req(int fd, uint64_t id, const char *op, const char *fmt, ...);
/* The same request's frame appended to sb, to send several in one write. */
int h_build_req(msgpack_sbuffer *sb, uint64_t id, const char *op,
		const char *fmt, ...);

/*
 * Send a request and read its reply (within H_CALL_MS) into *reply (which
 * must have been msgpack_unpacked_init'ed; the caller destroys it).  Returns
 * 0 for an "ok": true reply, the negative bookd_err of the error's code for
 * an error reply, BOOKD_E_IO when sending or receiving failed, and
 * BOOKD_E_PROTO when the reply is not a map with this id.
 */
int h_call(int fd, msgpack_unpacked *reply, uint64_t id, const char *op,
	   const char *fmt, ...);

/* h_call with "as": <visitor> in the request envelope (as NULL: none). */
int h_call_as(int fd, msgpack_unpacked *reply, uint64_t id, const char *as,
	      const char *op, const char *fmt, ...);

/* The "result" of a reply (NULL when absent). */
const msgpack_object *h_result(const msgpack_unpacked *reply);
/* The "error" map of a reply (NULL when absent). */
const msgpack_object *h_error(const msgpack_unpacked *reply);

/*
 * A case's frame, shared by the black-box suites that speak to one engine
 * per case: the engine, the reply to the last call (valid until the next
 * call) and the last request id used.  The functions that can fail fail the
 * running Check case.
 */
struct h_case {
	struct harness h;
	msgpack_unpacked r;
	uint64_t last_id;
};

/* Start c's engine with extra_args (h_start) and ready its reply. */
void h_case_start(struct h_case *c, const char *extra_args);
/* Free the reply; stop the engine and remove its directory (h_cleanup). */
void h_case_end(struct h_case *c);
/* h_call_as (as NULL: h_call) with c's next id, into c's reply (the
 * previous one is dropped). */
int h_case_call(struct h_case *c, int fd, const char *as, const char *op,
		const char *fmt, ...);
/* A raw connection to c's engine. */
int h_case_conn(const struct h_case *c);
/* Book slot i of resource res (96 quarters a day from the day after
 * tomorrow) with a 3,000-byte note, so the log grows about 1 MiB per 350
 * bookings; it must succeed. */
void h_case_book_note(struct h_case *c, int fd, const char *res, int i);
/* The integer key of a `stats` reply on fd, which must be there. */
int64_t h_case_stat(struct h_case *c, int fd, const char *key);
/* resource.create {id} on fd, which must succeed. */
void h_case_mkres(struct h_case *c, int fd, const char *id);

/* Unix seconds of a UTC civil time, for building requests. */
int64_t h_utc(int y, int mo, int d, int hh, int mm);
/*
 * UTC midnight of today plus days_ahead, for spans inside the engine's
 * window (SPEC section 2: a booking far from today is OUT_OF_RANGE).
 */
int64_t h_day(int days_ahead);
/* "YYYY-MM-DD" of the UTC day holding t, into buf[11]. */
void h_date(int64_t t, char buf[11]);

#endif
