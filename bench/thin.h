/*
 * thin.h - a thin bookd client for the side-by-side figures: the frame and
 * the MessagePack of check and ping written by hand into one buffer, one
 * send per flush, replies read through one receive buffer and unpacked
 * into one reused zone.  It does what the Redis peer's RESP client does
 * (bench/peer_redis.c), so that bookd's and Redis's socket figures pay the
 * same client-side costs; libbookd's own figures stay what a caller of the
 * library gets.
 *
 * Failure: every call returns 0, or -1 after one line on stderr; the
 * connection is then unusable (thin_close it).  Sends and receives time
 * out after BENCH_CALL_MS.
 */
#ifndef BENCH_THIN_H
#define BENCH_THIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "util.h"

struct thin_conn {
	int fd;
	char *wb; /* requests not yet sent */
	size_t wlen, wcap;
	struct bench_rbuf in; /* received, not yet parsed */
	msgpack_zone zone;    /* the last reply's objects */
	bool zone_up;
	uint64_t next_id;
};

int thin_connect(const char *path, struct thin_conn *c);
void thin_close(struct thin_conn *c);
/* Queue {id, op: "check", args: {resource, start, end}}. */
void thin_add_check(struct thin_conn *c, const char *res, int64_t start,
		    int64_t end);
/* Queue {id, op: "ping"}. */
void thin_add_ping(struct thin_conn *c);
/* Send everything queued. */
int thin_flush(struct thin_conn *c);
/* Read the next reply; *ok: its "ok" is true.  With check, an ok reply
 * without a boolean "free" in its result is a failure. */
int thin_read(struct thin_conn *c, bool check, bool *ok);

#endif
