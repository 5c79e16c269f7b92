/*
 * client.c - libbookd's connection: the socket, request framing, replies in
 * order, and the push queue.  The API and its rules are described in
 * bookd.h; the typed helpers are in calls.c.
 *
 * Invariants:
 *   - Request ids are 1, 2, 3, ... per connection.  Replies arrive in
 *     request order, so the next reply read from the socket must carry
 *     recv_next, and the next one handed to the caller is ret_next:
 *     ret_next <= recv_next <= next_id, and the replies read but not yet
 *     handed out are exactly the queue rq.
 *   - Every frame is checked (size, MessagePack well-formed, every declared
 *     container length within the bytes that remain) before msgpack-c
 *     allocates anything for it.
 *   - Once c->dead is set (a transport error), no byte is read or written
 *     again; every call returns c->dead.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client_priv.h"
#include "errors.h"
#include "wire.h"

#define READ_CHUNK (64u * 1024)

struct bookd_conn {
	int fd;
	int timeout_ms;
	int dead; /* 0, or the sticky transport error */

	uint64_t next_id;   /* id of the next request to send */
	uint64_t recv_next; /* id the next reply on the socket must carry */
	uint64_t ret_next;  /* id of the next reply to hand to the caller */

	char *rbuf; /* bytes read, frames not yet taken: rbuf[roff..rlen) */
	size_t roff, rlen, rcap;

	struct bookd_buf_ sb; /* the request being built */

	msgpack_unpacked *rq; /* replies read, not yet handed out (ring) */
	size_t rq_head, rq_len, rq_cap;

	/* The reply handed out last; its objects live until the next call. */
	msgpack_unpacked cur;
	const msgpack_object *errobj;
	const msgpack_object *result; /* cur's result after a success */

	bookd_args *args; /* the typed helpers' builder, made on first use */

	struct bookd_push *pq; /* pushes not yet taken (ring) */
	size_t pq_head, pq_len, pq_cap;
	bool pq_overflow; /* pushes were dropped since the queue was full */
	uint64_t pq_dropped;

	char errmsg[512];
	char as[BOOKD_AS_MAX + 1]; /* the envelope's "as", "" for none */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline for poll(): -1 for no deadline. */
static int left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > 1000000000 ? 1000000000 : (int)left;
}

static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int vfail(bookd_conn *c, int err, const char *fmt, va_list ap)
{
	vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
	c->errobj = NULL;
	c->result = NULL;
	return err;
}

int bookd_fail_(bookd_conn *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, err, fmt, ap);
	va_end(ap);
	return err;
}

/* A transport failure: the connection is dead from now on. */
__attribute__((format(printf, 3, 4))) static int die(bookd_conn *c, int err,
						     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, err, fmt, ap);
	va_end(ap);
	c->dead = err;
	return err;
}

/* Start of every public call: clear the last error, refuse a dead conn. */
static int begin(bookd_conn *c)
{
	if (c->dead)
		return c->dead;
	c->errmsg[0] = 0;
	c->errobj = NULL;
	c->result = NULL;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Queues. */

static int rq_push(bookd_conn *c, msgpack_unpacked *up)
{
	if (c->rq_len == c->rq_cap) {
		size_t cap = c->rq_cap ? c->rq_cap * 2 : 16;
		msgpack_unpacked *q = reallocarray(NULL, cap, sizeof *q);
		if (q == NULL)
			return -1;
		for (size_t i = 0; i < c->rq_len; i++)
			q[i] = c->rq[(c->rq_head + i) % c->rq_cap];
		free(c->rq);
		c->rq = q;
		c->rq_cap = cap;
		c->rq_head = 0;
	}
	c->rq[(c->rq_head + c->rq_len) % c->rq_cap] = *up;
	c->rq_len++;
	return 0;
}

static void rq_pop(bookd_conn *c, msgpack_unpacked *out)
{
	*out = c->rq[c->rq_head];
	c->rq_head = (c->rq_head + 1) % c->rq_cap;
	c->rq_len--;
}

/*
 * Queue a push.  When the queue is full, drop pushes from then on and
 * report one "overflow" push once the caller has taken the queued ones:
 * the caller must then re-read, since it cannot know what it missed.
 */
static void pq_push(bookd_conn *c, const struct bookd_push *p)
{
	if (c->pq_overflow || c->pq_len == BOOKD_PUSH_QUEUE_MAX) {
		c->pq_overflow = true;
		c->pq_dropped++;
		return;
	}
	if (c->pq_len == c->pq_cap) {
		size_t cap = c->pq_cap ? c->pq_cap * 2 : 16;
		struct bookd_push *q = reallocarray(NULL, cap, sizeof *q);
		if (q == NULL) {
			c->pq_overflow = true;
			c->pq_dropped++;
			return;
		}
		for (size_t i = 0; i < c->pq_len; i++)
			q[i] = c->pq[(c->pq_head + i) % c->pq_cap];
		free(c->pq);
		c->pq = q;
		c->pq_cap = cap;
		c->pq_head = 0;
	}
	c->pq[(c->pq_head + c->pq_len) % c->pq_cap] = *p;
	c->pq_len++;
}

static bool pq_pop(bookd_conn *c, struct bookd_push *out)
{
	if (c->pq_len > 0) {
		*out = c->pq[c->pq_head];
		c->pq_head = (c->pq_head + 1) % c->pq_cap;
		c->pq_len--;
		return true;
	}
	if (c->pq_overflow) {
		memset(out, 0, sizeof *out);
		snprintf(out->kind, sizeof out->kind, "overflow");
		out->version = c->pq_dropped;
		c->pq_overflow = false;
		c->pq_dropped = 0;
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------------- */
/* Frames from the server. */

void bookd_copy_str_(const msgpack_object *o, char *buf, size_t len)
{
	if (wire_cstr(o, buf, len) < 0)
		buf[0] = 0;
}

static uint64_t get_uint(const msgpack_object *o)
{
	return o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

static void take_push(bookd_conn *c, const msgpack_object *m)
{
	struct bookd_push p;

	memset(&p, 0, sizeof p);
	bookd_copy_str_(wire_get(m, "push"), p.kind, sizeof p.kind);
	p.sub = get_uint(wire_get(m, "sub"));
	bookd_copy_str_(wire_get(m, "topic"), p.topic, sizeof p.topic);
	bookd_copy_str_(wire_get(m, "resource"), p.resource, sizeof p.resource);
	bookd_copy_str_(wire_get(m, "date"), p.date, sizeof p.date);
	p.version = get_uint(wire_get(m, "version"));
	pq_push(c, &p);
}

/* A frame that is neither a reply nor a push: the server is closing the
 * connection and says why (a frame too large, shutting down). */
static int take_conn_error(bookd_conn *c, const msgpack_object *m)
{
	const msgpack_object *e = wire_get(m, "error");
	const msgpack_object *code = wire_get(e, "code");
	const msgpack_object *msg = wire_get(e, "message");
	int err;

	if (code == NULL || code->type != MSGPACK_OBJECT_STR)
		return die(c, BOOKD_E_PROTO,
			   "frame is neither a reply nor a push");
	err = proto_err_from_name(code->via.str.ptr, code->via.str.size);
	if (msg && msg->type == MSGPACK_OBJECT_STR)
		return die(c, err, "server closed the connection: %.*s",
			   (int)msg->via.str.size, msg->via.str.ptr);
	return die(c, err, "server closed the connection: %s",
		   proto_err_message(err));
}

static int take_frame(bookd_conn *c, const char *body, size_t blen)
{
	msgpack_unpacked up;
	const msgpack_object *id, *ok;
	size_t used = 0;
	char *copy;
	int rc = 0;

	if (wire_msgpack_check(body, blen, &used) < 0 || used != blen)
		return die(c, BOOKD_E_PROTO, "malformed MessagePack frame");
	copy = malloc(blen);
	if (copy == NULL)
		return die(c, BOOKD_E_NOMEM, "out of memory for a reply");
	memcpy(copy, body, blen);
	msgpack_unpacked_init(&up);
	used = 0;
	if (msgpack_unpack_next(&up, copy, blen, &used) !=
		MSGPACK_UNPACK_SUCCESS ||
	    used != blen) {
		free(copy);
		rc = die(c, BOOKD_E_PROTO, "malformed MessagePack frame");
		goto out;
	}
	/* The objects point into copy: the zone frees it with them. */
	if (!msgpack_zone_push_finalizer(up.zone, free, copy)) {
		free(copy);
		rc = die(c, BOOKD_E_NOMEM, "out of memory for a reply");
		goto out;
	}
	if (up.data.type != MSGPACK_OBJECT_MAP) {
		rc = die(c, BOOKD_E_PROTO, "frame is not a map");
		goto out;
	}
	if (wire_get(&up.data, "push")) {
		take_push(c, &up.data);
		goto out;
	}
	id = wire_get(&up.data, "id");
	if (id == NULL || id->type == MSGPACK_OBJECT_NIL) {
		rc = take_conn_error(c, &up.data);
		goto out;
	}
	if (id->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    c->recv_next >= c->next_id || id->via.u64 != c->recv_next) {
		rc = die(c, BOOKD_E_PROTO, "reply out of order (id %llu)",
			 (unsigned long long)get_uint(id));
		goto out;
	}
	ok = wire_get(&up.data, "ok");
	if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN) {
		rc = die(c, BOOKD_E_PROTO, "reply without \"ok\"");
		goto out;
	}
	if (rq_push(c, &up) < 0) {
		rc = die(c, BOOKD_E_NOMEM, "out of memory for a reply");
		goto out;
	}
	c->recv_next++;
	return 0;

out:
	msgpack_unpacked_destroy(&up);
	return rc;
}

/* Take every whole frame out of the read buffer. */
static int take_frames(bookd_conn *c)
{
	for (;;) {
		const char *body;
		size_t blen, used;
		int r = wire_frame_next(c->rbuf + c->roff, c->rlen - c->roff,
					&body, &blen, &used);
		if (r < 0)
			return die(c, BOOKD_E_PROTO,
				   "server frame larger than 1 MiB");
		if (r == 0)
			break;
		c->roff += used;
		r = take_frame(c, body, blen);
		if (r < 0)
			return r;
	}
	/* Keep the partial frame, if any, at the front. */
	if (c->roff > 0) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	return 0;
}

/*
 * Make room to read: at least a chunk, and the whole of a frame whose
 * length is known.  take_frames() leaves at most one partial frame at the
 * front, and a frame announcing more than WIRE_MAX_FRAME was refused there,
 * so the buffer never exceeds a frame plus a chunk.
 */
static int rbuf_room(bookd_conn *c)
{
	size_t want = c->rlen + READ_CHUNK;
	char *p;

	if (c->rlen >= 4) {
		size_t flen = 4 + (size_t)wire_be((unsigned char *)c->rbuf, 4);
		if (flen > want)
			want = flen;
	}
	if (c->rcap >= want)
		return 0;
	p = realloc(c->rbuf, want);
	if (p == NULL)
		return die(c, BOOKD_E_NOMEM, "out of memory reading");
	c->rbuf = p;
	c->rcap = want;
	return 0;
}

/* Read what the socket has (it is non-blocking) and take the frames. */
static int read_some(bookd_conn *c)
{
	ssize_t n;
	int rc = rbuf_room(c);

	if (rc < 0)
		return rc;
	n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ECONNRESET)
			return die(c, BOOKD_E_CLOSED_CONN,
				   "connection closed by server");
		return die(c, BOOKD_E_IO, "read: %s", strerror(errno));
	}
	if (n == 0)
		return die(c, BOOKD_E_CLOSED_CONN,
			   "connection closed by server");
	c->rlen += (size_t)n;
	return take_frames(c);
}

/* Wait until the socket is readable (then read) or the deadline passes.
 * 1 after reading, 0 at the deadline, or an error. */
static int wait_read(bookd_conn *c, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {c->fd, POLLIN, 0};
		int r = poll(&pfd, 1, left_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return die(c, BOOKD_E_IO, "poll: %s", strerror(errno));
		if (r == 0)
			return 0;
		r = read_some(c);
		return r < 0 ? r : 1;
	}
}

/* ---------------------------------------------------------------------- */
/* Sending. */

int bookd_buf_put_(struct bookd_buf_ *b, const void *p, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		char *q;
		while (cap - b->len < n)
			cap *= 2;
		q = realloc(b->data, cap);
		if (q == NULL)
			return -1;
		b->data = q;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static int sbuf_put(bookd_conn *c, const void *p, size_t n)
{
	return bookd_buf_put_(&c->sb, p, n);
}

static int sbuf_write(void *data, const char *buf, size_t len)
{
	return sbuf_put(data, buf, len);
}

/*
 * Write the whole request.  While the socket is not writable, read: a
 * server that stops reading until its replies drain must not deadlock
 * against a client that stops reading until its request is sent.
 */
static int send_all(bookd_conn *c, const char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		struct pollfd pfd = {c->fd, POLLIN | POLLOUT, 0};
		int r = poll(&pfd, 1, left_ms(deadline));
		ssize_t w;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return die(c, BOOKD_E_IO, "poll: %s", strerror(errno));
		if (r == 0) {
			errno = ETIMEDOUT;
			return die(c, BOOKD_E_IO, "sending timed out");
		}
		if (pfd.revents & POLLIN) {
			r = read_some(c);
			if (r < 0)
				return r;
		}
		if (!(pfd.revents & (POLLOUT | POLLERR | POLLHUP)))
			continue;
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				return die(c, BOOKD_E_CLOSED_CONN,
					   "connection closed by server");
			return die(c, BOOKD_E_IO, "write: %s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_req(bookd_conn *c, const char *op, const void *args,
		    size_t args_len, uint64_t *id, int64_t deadline)
{
	msgpack_packer pk;
	size_t body, used = 0;
	unsigned char *h;
	int rc;

	if (op == NULL)
		return bookd_fail_(c, BOOKD_E_BAD_REQUEST, "no operation");
	if (args_len == 0)
		args = NULL;
	if (args && (wire_msgpack_check(args, args_len, &used) < 0 ||
		     used != args_len ||
		     !((((const unsigned char *)args)[0] & 0xf0) == 0x80 ||
		       ((const unsigned char *)args)[0] == 0xde ||
		       ((const unsigned char *)args)[0] == 0xdf)))
		return bookd_fail_(c, BOOKD_E_BAD_REQUEST,
				   "args must be one packed MessagePack map");
	c->sb.len = 0;
	msgpack_packer_init(&pk, c, sbuf_write);
	rc = sbuf_put(c, "\0\0\0\0", 4);
	rc |= msgpack_pack_map(&pk, 2 + (args != NULL) + (c->as[0] != 0));
	rc |= msgpack_pack_str_with_body(&pk, "id", 2);
	rc |= msgpack_pack_uint64(&pk, c->next_id);
	rc |= msgpack_pack_str_with_body(&pk, "op", 2);
	rc |= msgpack_pack_str_with_body(&pk, op, strlen(op));
	if (args) {
		rc |= msgpack_pack_str_with_body(&pk, "args", 4);
		rc |= sbuf_put(c, args, args_len);
	}
	if (c->as[0]) {
		rc |= msgpack_pack_str_with_body(&pk, "as", 2);
		rc |= msgpack_pack_str_with_body(&pk, c->as, strlen(c->as));
	}
	if (rc != 0)
		return bookd_fail_(c, BOOKD_E_NOMEM, "out of memory");
	body = c->sb.len - 4;
	if (body > WIRE_MAX_FRAME)
		return bookd_fail_(c, BOOKD_E_TOO_LARGE,
				   "request larger than 1 MiB");
	h = (unsigned char *)c->sb.data;
	h[0] = (unsigned char)(body >> 24);
	h[1] = (unsigned char)(body >> 16);
	h[2] = (unsigned char)(body >> 8);
	h[3] = (unsigned char)body;
	rc = send_all(c, c->sb.data, c->sb.len, deadline);
	if (rc < 0)
		return rc;
	if (id)
		*id = c->next_id;
	c->next_id++;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Public API. */

/*
 * A non-blocking AF_UNIX connect fails with EAGAIN while the server's
 * backlog is full instead of blocking; retry for at most the default
 * timeout, so a wedged server cannot hang the caller.
 */
static int connect_bounded(int fd, const struct sockaddr_un *sun)
{
	int64_t deadline = now_ms() + BOOKD_DEFAULT_TIMEOUT_MS;
	struct timespec pause = {0, 10 * 1000000};

	for (;;) {
		if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		nanosleep(&pause, NULL);
	}
}

bookd_conn *bookd_connect(const char *path, int *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	bookd_conn *c;
	size_t plen;
	int e;

	if (path == NULL || *path == 0)
		path = getenv("BOOKD_SOCKET");
	if (path == NULL || *path == 0)
		path = BOOKD_DEFAULT_SOCKET;
	plen = strlen(path);
	if (plen >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		e = BOOKD_E_IO;
		goto fail;
	}
	memcpy(sun.sun_path, path, plen + 1);
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		e = BOOKD_E_NOMEM;
		goto fail;
	}
	c->timeout_ms = BOOKD_DEFAULT_TIMEOUT_MS;
	c->next_id = c->recv_next = c->ret_next = 1;
	msgpack_unpacked_init(&c->cur);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0 || connect_bounded(c->fd, &sun) < 0) {
		int saved = errno;
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		errno = saved;
		e = BOOKD_E_IO;
		goto fail;
	}
	if (err)
		*err = 0;
	return c;

fail:
	if (err)
		*err = e;
	return NULL;
}

void bookd_close(bookd_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	while (c->rq_len > 0) {
		msgpack_unpacked up;
		rq_pop(c, &up);
		msgpack_unpacked_destroy(&up);
	}
	msgpack_unpacked_destroy(&c->cur);
	free(c->rq);
	free(c->pq);
	free(c->rbuf);
	free(c->sb.data);
	bookd_args_free(c->args);
	free(c);
}

int bookd_fd(const bookd_conn *c)
{
	return c->fd;
}

void bookd_set_timeout(bookd_conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

int bookd_set_as(bookd_conn *c, const char *visitor)
{
	size_t i, n;

	if (visitor == NULL) {
		c->as[0] = 0;
		return 0;
	}
	n = strlen(visitor);
	if (n == 0 || n > BOOKD_AS_MAX)
		return bookd_fail_(c, BOOKD_E_BAD_REQUEST, "as: 1 to %d bytes",
				   BOOKD_AS_MAX);
	for (i = 0; i < n; i++) {
		char ch = visitor[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == ':' || ch == '-'))
			return bookd_fail_(c, BOOKD_E_BAD_REQUEST,
					   "as: only [A-Za-z0-9._:-]");
	}
	memcpy(c->as, visitor, n + 1);
	return 0;
}

int bookd_broken(const bookd_conn *c)
{
	return c->dead;
}

const char *bookd_errmsg(const bookd_conn *c)
{
	return c->errmsg;
}

const msgpack_object *bookd_errobj(const bookd_conn *c)
{
	return c->errobj;
}

const msgpack_object *bookd_result(const bookd_conn *c)
{
	return c->result;
}

bookd_args *bookd_conn_args_(bookd_conn *c)
{
	if (c->args == NULL)
		c->args = bookd_args_new();
	else
		bookd_args_reset(c->args);
	return c->args;
}

size_t bookd_pending(const bookd_conn *c)
{
	return (size_t)(c->next_id - c->ret_next);
}

int bookd_send(bookd_conn *c, const char *op, const void *args, size_t args_len,
	       uint64_t *id)
{
	int rc = begin(c);

	if (rc < 0)
		return rc;
	return send_req(c, op, args, args_len, id,
			deadline_after(c->timeout_ms));
}

/* Hand the oldest queued reply to the caller: it becomes c->cur. */
static int hand_out(bookd_conn *c, uint64_t *id, const msgpack_object **result)
{
	static const msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
	const msgpack_object *r, *e, *code, *msg;
	int err;

	msgpack_unpacked_destroy(&c->cur);
	rq_pop(c, &c->cur);
	if (id)
		*id = c->ret_next;
	c->ret_next++;
	if (wire_get(&c->cur.data, "ok")->via.boolean) {
		r = wire_get(&c->cur.data, "result");
		c->result = r ? r : &nil;
		if (result)
			*result = c->result;
		return 0;
	}
	if (result)
		*result = NULL;
	e = wire_get(&c->cur.data, "error");
	code = wire_get(e, "code");
	msg = wire_get(e, "message");
	if (code == NULL || code->type != MSGPACK_OBJECT_STR)
		return die(c, BOOKD_E_PROTO, "error reply without a code");
	err = proto_err_from_name(code->via.str.ptr, code->via.str.size);
	if (msg && msg->type == MSGPACK_OBJECT_STR)
		bookd_fail_(c, err, "%.*s", (int)msg->via.str.size,
			    msg->via.str.ptr);
	else
		bookd_fail_(c, err, "%s", proto_err_message(err));
	c->errobj = e;
	return err;
}

static int recv_until(bookd_conn *c, uint64_t *id,
		      const msgpack_object **result, int64_t deadline)
{
	while (c->rq_len == 0) {
		int r = wait_read(c, deadline);
		if (r < 0)
			return r;
		if (r == 0) {
			errno = ETIMEDOUT;
			return die(c, BOOKD_E_IO, "no reply within %d ms",
				   c->timeout_ms);
		}
	}
	return hand_out(c, id, result);
}

int bookd_recv(bookd_conn *c, uint64_t *id, const msgpack_object **result)
{
	int rc = begin(c);

	if (rc < 0)
		return rc;
	if (bookd_pending(c) == 0)
		return bookd_fail_(c, BOOKD_E_BAD_REQUEST,
				   "bookd_recv: no request outstanding");
	return recv_until(c, id, result, deadline_after(c->timeout_ms));
}

int bookd_call(bookd_conn *c, const char *op, const void *args, size_t args_len,
	       const msgpack_object **result)
{
	int64_t deadline = deadline_after(c->timeout_ms);
	int rc = begin(c);

	if (rc < 0)
		return rc;
	if (bookd_pending(c) != 0)
		return bookd_fail_(c, BOOKD_E_BAD_REQUEST,
				   "bookd_call: %zu pipelined replies not "
				   "received yet",
				   bookd_pending(c));
	rc = send_req(c, op, args, args_len, NULL, deadline);
	if (rc < 0)
		return rc;
	return recv_until(c, NULL, result, deadline);
}

int bookd_next_push(bookd_conn *c, struct bookd_push *out, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);

	if (pq_pop(c, out))
		return 1;
	if (c->dead)
		return c->dead;
	for (;;) {
		int r = wait_read(c, deadline);
		if (pq_pop(c, out))
			return 1;
		if (r <= 0)
			return r;
	}
}
