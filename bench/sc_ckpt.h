/*
 * sc_ckpt.h - ckpt-latency: the worst reply latency of a booking client
 * while the engine writes a checkpoint of --ckpt-bookings bookings (default
 * 1 M), written by a spawned compactor (the engine's default, `bookd
 * --write-snapshot`) and in the loop (--checkpoint-foreground), side by
 * side in one run.
 *
 * One engine loads the bookings (booked, then cancelled, as `history` and
 * `memory` do) with --sync off and checkpoints out of reach, and is killed
 * with SIGKILL so that nothing is written at stop.  For each way a fresh
 * engine directory gets a copy of that data directory and the engine
 * restarts on it with durable commits and --checkpoint-mb just above the
 * log it replays, so a checkpoint falls due after about 2 MiB of new log.
 * One client books random spans of the shape (closed loop, one request in
 * flight, as `book` with one client) and keeps each successful booking's
 * start time and latency; the main thread follows the engine's log for the
 * line that starts the checkpoint and the one that installs it.
 *
 * Figures per way: max and p99.9 of the bookings that overlap the
 * checkpoint (from 100 ms before its start line to 500 ms after its
 * install line, so the disk's write-back right after it counts too) and
 * of the bookings before it; how long the checkpoint took; for the
 * compactor, how long posix_spawn took and the loop's whole part of
 * starting it (both from the engine's log), how long the compactor took
 * to rebuild the state (its own log line) and the engine's VmRSS.
 *
 * Failure: returns 0, or -1 after one line on stderr (an engine that will
 * not start, a load that fails, no checkpoint within the bound).  Skipped
 * on an attached engine.
 */
#ifndef BENCH_SC_CKPT_H
#define BENCH_SC_CKPT_H

#include "scenario.h"

int sc_ckpt_latency(struct bench_ctx *x);

#endif
