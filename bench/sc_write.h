/*
 * sc_write.h - the scenarios that change state: book (durable bookings per
 * second and their latency at several concurrency levels, closed loop, with
 * --sync off as a reference) and hold (heartbeats per second, and the delay
 * from a hold to its push reaching a thousand subscribers).
 *
 * Failure: each returns 0, or -1 after one line on stderr; figures measured
 * before a failure stay in the report.
 */
#ifndef BENCH_SC_WRITE_H
#define BENCH_SC_WRITE_H

#include "scenario.h"

int sc_book(struct bench_ctx *x);
int sc_hold(struct bench_ctx *x);

#endif
