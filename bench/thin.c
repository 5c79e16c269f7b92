/*
 * thin.c - the thin bookd client of the side-by-side figures; see thin.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine.h"
#include "thin.h"
#include "wire.h"
#include "util.h"

#define FRAME_MAX (1u << 20) /* the protocol's frame limit */

int thin_connect(const char *path, struct thin_conn *c)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {BENCH_CALL_MS / 1000, 0};

	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (strlen(path) >= sizeof sun.sun_path) {
		bench_log("%s: socket path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (!msgpack_zone_init(&c->zone, 4096)) {
		bench_log("out of memory");
		return -1;
	}
	c->zone_up = true;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		bench_log("bookd %s: %s", path, strerror(errno));
		thin_close(c);
		return -1;
	}
	return 0;
}

void thin_close(struct thin_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->zone_up)
		msgpack_zone_destroy(&c->zone);
	free(c->wb);
	free(c->in.b);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static int w_write(void *data, const char *p, size_t n)
{
	struct thin_conn *c = data;

	if (c->wcap - c->wlen < n) {
		size_t cap = c->wcap ? c->wcap : 4096;
		while (cap - c->wlen < n)
			cap *= 2;
		c->wb = bench_reallocarray(c->wb, cap, 1);
		c->wcap = cap;
	}
	memcpy(c->wb + c->wlen, p, n);
	c->wlen += n;
	return 0;
}

static void pk_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* Start a request frame: the length is filled in by end_frame. */
static size_t begin_frame(struct thin_conn *c, msgpack_packer *pk,
			  const char *op, bool args)
{
	static const char len0[4];
	size_t at = c->wlen;

	w_write(c, len0, sizeof len0);
	msgpack_packer_init(pk, c, w_write);
	msgpack_pack_map(pk, args ? 3 : 2);
	pk_str(pk, "id");
	msgpack_pack_uint64(pk, ++c->next_id);
	pk_str(pk, "op");
	pk_str(pk, op);
	return at;
}

static void end_frame(struct thin_conn *c, size_t at)
{
	size_t n = c->wlen - at - 4;
	unsigned char *p = (unsigned char *)c->wb + at;

	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
}

void thin_add_check(struct thin_conn *c, const char *res, int64_t start,
		    int64_t end)
{
	msgpack_packer pk;
	size_t at = begin_frame(c, &pk, "check", true);

	pk_str(&pk, "args");
	msgpack_pack_map(&pk, 3);
	pk_str(&pk, "resource");
	pk_str(&pk, res);
	pk_str(&pk, "start");
	msgpack_pack_int64(&pk, start);
	pk_str(&pk, "end");
	msgpack_pack_int64(&pk, end);
	end_frame(c, at);
}

void thin_add_ping(struct thin_conn *c)
{
	msgpack_packer pk;

	end_frame(c, begin_frame(c, &pk, "ping", false));
}

int thin_flush(struct thin_conn *c)
{
	if (bench_send_all(c->fd, c->wb, c->wlen, "bookd") < 0)
		return -1;
	c->wlen = 0;
	return 0;
}

int thin_read(struct thin_conn *c, bool check, bool *ok)
{
	const unsigned char *u;
	const msgpack_object *o, *res, *free_;
	msgpack_object obj;
	size_t n, off = 0;

	if (bench_recv_need(c->fd, &c->in, 4, "bookd") < 0)
		return -1;
	u = (const unsigned char *)c->in.b + c->in.pos;
	n = (size_t)u[0] << 24 | (size_t)u[1] << 16 | (size_t)u[2] << 8 | u[3];
	if (n > FRAME_MAX) {
		bench_log("bookd: a reply frame of %zu bytes", n);
		return -1;
	}
	if (bench_recv_need(c->fd, &c->in, 4 + n, "bookd") < 0)
		return -1;
	msgpack_zone_clear(&c->zone);
	if (msgpack_unpack(c->in.b + c->in.pos + 4, n, &off, &c->zone, &obj) !=
	    MSGPACK_UNPACK_SUCCESS) {
		bench_log("bookd: a reply that is not one MessagePack map");
		return -1;
	}
	c->in.pos += 4 + n;
	o = wire_get(&obj, "ok");
	*ok = o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
	res = wire_get(&obj, "result");
	free_ = wire_get(res, "free");
	if (*ok && check &&
	    (free_ == NULL || free_->type != MSGPACK_OBJECT_BOOLEAN)) {
		bench_log("bookd: a check reply without 'free'");
		return -1;
	}
	return 0;
}
