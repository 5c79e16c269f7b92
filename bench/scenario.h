/*
 * scenario.h - what every scenario of bookd-bench receives: the options of
 * the run, the report to add figures to, and the helper that gives it an
 * engine with the benchmark's resources in place.
 *
 * A scenario is a function int sc_NAME(struct bench_ctx *x) that returns 0
 * when it measured, or -1 after saying why (the run goes on with the next
 * scenario and exits non-zero at the end).  Every scenario bounds its own
 * time: a fixed number of repeats of warm-up plus timed phase, and loads of
 * a fixed size, each wait bounded by the engine module's limits.
 */
#ifndef BENCH_SCENARIO_H
#define BENCH_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "report.h"
#include "work.h"

#define BENCH_MAX_LEVELS  8
#define BENCH_MAX_REPEATS 32

struct bench_ctx {
	const char *bin;	 /* the bookd binary */
	const char *base;	 /* where engines' temporary directories go */
	const char *attach_sock; /* with attach_data: use a running engine */
	const char *attach_data;
	const char *redis_sock;	 /* the peer scenarios' Redis socket */
	const char *engine_args; /* appended to every started engine's */
	uint64_t warm_ms, run_ms;
	int repeats;
	uint32_t nres, ndays; /* the shape: resources x days from tomorrow */
	uint64_t preload;     /* active bookings before read scenarios */
	uint64_t history;     /* past bookings of the history scenario */
	uint64_t recover[BENCH_MAX_LEVELS]; /* log lengths of recover */
	size_t nrecover;
	uint64_t memory_bookings;      /* bookings loaded by memory */
	uint64_t ckpt_bookings;	       /* bookings of ckpt-latency's snapshot */
	int clients[BENCH_MAX_LEVELS]; /* concurrency levels of book */
	size_t nclients;
	int pipeline;	      /* requests in flight per pipelined connection */
	int pipe_conns;	      /* connections of the pipelined figures */
	uint32_t subscribers; /* holds subscribers of the hold scenario */
	uint32_t pushes;      /* holds whose push delay is measured */
	int cpu;	      /* the CPU the reader figures are pinned to */
	struct bench_report *rep;
};

/*
 * An engine for a scenario: attach to the running one when the run was
 * given --socket and --data, else start a new one with the extra arguments
 * (NULL for none).  The shape's resources are created either way.
 */
int bench_ctx_engine(struct bench_ctx *x, struct bench_engine *e,
		     const char *extra);

#endif
