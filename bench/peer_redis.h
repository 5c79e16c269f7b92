/*
 * peer_redis.h - the Redis side of the side-by-side comparison, driven by
 * bookd-bench itself so that the workload's shape, the closed loop and the
 * latency accounting are exactly those of the book and read scenarios.
 *
 * The model (bench/peers/README in bench/README.md): one string per
 * resource-day, "bm:<resource>:<day>", holding the 96-slot bitmap (bit i is
 * slot i, most significant bit of byte 0 first, as SETBIT numbers them).  A
 * booking is one EVALSHA of a Lua script that reads the span's bits with
 * BITFIELD GET, refuses on any set bit, sets them with BITFIELD SET, and
 * stores a booking hash (resource, day, start slot, slots, name, email)
 * under an id from INCR: the same facts bookd logs.  An availability check
 * is GETRANGE of the bytes covering the span, tested by the client.
 * Redis runs with appendonly yes and appendfsync always (bench/peers/
 * redis.sh), so a booking's reply follows its fsync.
 *
 * The connection speaks RESP over a Unix socket with send and receive
 * timeouts of BENCH_CALL_MS, so no wait is unbounded.
 *
 * Failure: the scenario returns 0, or -1 after one line on stderr.
 */
#ifndef BENCH_PEER_REDIS_H
#define BENCH_PEER_REDIS_H

#include "scenario.h"

/* The "redis" scenario: needs x->redis_sock. */
int sc_redis(struct bench_ctx *x);

#endif
