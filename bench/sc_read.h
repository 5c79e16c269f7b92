/*
 * sc_read.h - the availability scenarios: read-mmap (libbookd's reader on
 * the shared pages, one core), read-socket (the check op over the socket,
 * one synchronous connection and several pipelined ones), slots (slots.day
 * and a 42-day month view, over the socket and from the reader) and history
 * (read-mmap and read-socket before and after loading past bookings).
 *
 * bench_socket_run() is shared with the raw scenario, which times ping
 * with it.
 *
 * Failure: each returns 0, or -1 after one line on stderr; figures measured
 * before a failure stay in the report.
 */
#ifndef BENCH_SC_READ_H
#define BENCH_SC_READ_H

#include "scenario.h"

int sc_read_mmap(struct bench_ctx *x);
int sc_read_socket(struct bench_ctx *x);
int sc_slots(struct bench_ctx *x);
int sc_history(struct bench_ctx *x);

/* What the socket drivers ask, one request per question. */
enum bench_question {
	BENCH_Q_CHECK,	     /* check {resource, start, end} */
	BENCH_Q_SLOTS_DAY,   /* slots.day {resource, date, duration: 60} */
	BENCH_Q_SLOTS_MONTH, /* slots.month over 42 days, duration 60 */
	BENCH_Q_PING,	     /* ping {} */
};

/* Result of one timed socket run. */
struct bench_sock_result {
	double per_s;  /* answers per second over all connections */
	double p50_us; /* latency percentiles (synchronous runs only) */
	double p99_us;
	uint64_t errors; /* error replies (the connection stays usable) */
	double cpu_us;	 /* the engine's CPU per answer (0: unknown) */
};

/* Who asks: libbookd (what a caller of the library gets), or the thin
 * client of thin.h (check and ping only), as thin as the Redis peer's, for
 * the figures set side by side with Redis and with the raw ping-pong. */
enum bench_client { BENCH_LIBBOOKD, BENCH_THIN };

/*
 * nconn connections, each with depth requests in flight (1: synchronous),
 * asking q about random spans of sh, for x's warm-up and run time.
 */
int bench_socket_run(struct bench_ctx *x, const struct bench_engine *e,
		     const struct bench_shape *sh, enum bench_question q,
		     enum bench_client cl, int nconn, int depth, uint64_t seed,
		     struct bench_sock_result *out);

#endif
