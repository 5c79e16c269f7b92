/*
 * sc_sys.h - the scenarios about the machine and the process rather than a
 * query: raw (the harness's own baselines: fdatasync of a 4 KiB append and a
 * Unix-socket ping-pong between two processes, next to bookd's ping),
 * recover (restart time against log length) and memory (RSS and pages size
 * per 1,000 resources x the window, and per million stored bookings).
 *
 * Failure: each returns 0, or -1 after one line on stderr; figures measured
 * before a failure stay in the report.
 */
#ifndef BENCH_SC_SYS_H
#define BENCH_SC_SYS_H

#include "scenario.h"

int sc_raw(struct bench_ctx *x);
int sc_recover(struct bench_ctx *x);
int sc_memory(struct bench_ctx *x);

#endif
