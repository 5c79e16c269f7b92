/*
 * work.h - the workload every scenario shares: its resources, the random
 * spans it asks about or books, the packed request arguments, the phases of
 * a timed run and the pipelined loader that fills an engine with history.
 *
 * The shape (the issue's): nres resources named bench-0000, bench-0001, ...
 * and ndays UTC days starting tomorrow; a span is one resource, one day and
 * 1 to 8 fifteen-minute slots starting at a random slot, inside the day.
 * The same shape drives the peers (bench/peers), so figures compare.
 *
 * A timed run has three phases that the main thread switches: WARM (work,
 * not counted), MEASURE (counted) and STOP.  Worker threads count an
 * operation when the phase was MEASURE at its start and is still MEASURE
 * at its end, so nothing outside [t0, t1) is counted.
 *
 * Failure: functions return 0 or -1 after one line on stderr; the loader
 * also stops at the first transport error.
 */
#ifndef BENCH_WORK_H
#define BENCH_WORK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include "bookd.h"
#include "engine.h"
#include "util.h"

#define BENCH_RES_PREFIX "bench-"
#define BENCH_ID_LEN	 16 /* "bench-0000" and its NUL fit */
#define BENCH_MAX_SPAN	 8  /* slots */

struct bench_shape {
	uint32_t nres;
	uint32_t ndays;
	int64_t day0; /* first UTC day (days since 1970-01-01) */
};

struct bench_span {
	uint32_t res;
	int64_t day;
	int slot, nslots;
	int64_t start, end; /* Unix seconds */
};

/* nres resources, ndays days from tomorrow (UTC). */
void bench_shape_init(struct bench_shape *s, uint32_t nres, uint32_t ndays);
void bench_span_random(const struct bench_shape *s, struct bench_rng *r,
		       struct bench_span *out);
/* "bench-0042" for i = 42. */
void bench_res_id(uint32_t i, char buf[BENCH_ID_LEN]);

/* Argument maps, rebuilt in place (bookd_args_reset) for each request. */
void bench_pack_check(bookd_args *a, const char *res, int64_t start,
		      int64_t end);
void bench_pack_book(bookd_args *a, const char *res, int64_t start,
		     int64_t end);
void bench_pack_cancel(bookd_args *a, uint64_t id);
void bench_pack_hold(bookd_args *a, const char *res, int64_t start, int64_t end,
		     const char *session);
void bench_pack_slots_day(bookd_args *a, const char *res, const char *date,
			  uint32_t duration);
void bench_pack_slots_month(bookd_args *a, const char *res, const char *from,
			    const char *to, uint32_t duration);

/* Create bench-0000 .. bench-(nres-1), pipelined; EXISTS is fine. */
int bench_create_resources(bookd_conn *c, uint32_t nres);

/*
 * Book n random spans of shape through one pipelined connection (at most
 * BENCH_LOAD_WINDOW requests in flight) and, when cancel is true, cancel
 * each booking as soon as its id is known.  Conflicts are counted, not
 * retried.  Progress goes to stderr every few seconds.
 */
#define BENCH_LOAD_WINDOW 256
struct bench_load_result {
	uint64_t booked, conflicts, cancelled;
	uint64_t ns;
};
int bench_load(const struct bench_engine *e, const struct bench_shape *shape,
	       uint64_t n, bool cancel, uint64_t seed,
	       struct bench_load_result *out);

/* The phases of a timed run. */
enum { BENCH_WARM, BENCH_MEASURE, BENCH_STOP };
struct bench_phase {
	_Atomic int phase;
	uint64_t t0, t1;     /* the MEASURE phase, ns */
	pid_t cpu_pid;	     /* > 0: sample this process's CPU time */
	uint64_t cpu0, cpu1; /* its user + system CPU at t0 and t1, ns */
};
/* User + system CPU time of process pid (every thread), from /proc, in
 * ns; 0 when it cannot be read. */
uint64_t bench_proc_cpu_ns(pid_t pid);
/* From the main thread: WARM for warm_ms, MEASURE for run_ms, then STOP. */
void bench_phase_drive(struct bench_phase *p, uint64_t warm_ms,
		       uint64_t run_ms);
static inline int bench_phase_get(struct bench_phase *p)
{
	return atomic_load_explicit(&p->phase, memory_order_relaxed);
}
/* Seconds of the MEASURE phase. */
double bench_phase_secs(const struct bench_phase *p);

#endif
