/*
 * server.c - the event loop, connections and commit pipeline; see server.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "pagesw.h"
#include "quanta.h"
#include "server.h"
#include "tz.h"

#define RECV_CHUNK	  65536
#define OUT_PAUSE	  (8u << 20)  /* stop reading a client past this */
#define PUSH_CUTOFF	  (16u << 20) /* cut a subscriber off past this */
#define MAX_SUBS_PER_CONN 4096
#define RING_ENTRIES	  4096

static void conn_close(struct server *s, struct conn *c);
static void push_holds_due(struct server *s);
static void conn_flush(struct server *s, struct conn *c);
static void publish_page(struct server *s, struct resource *r, struct rday *d,
			 bool slots, bool holds);

static struct io_uring_sqe *get_sqe(struct server *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
	if (sqe == NULL) {
		/* The submission queue is full: hand it to the kernel and
		 * take a fresh entry. */
		io_uring_submit(&s->ring);
		sqe = io_uring_get_sqe(&s->ring);
	}
	if (sqe == NULL) {
		log_msg("io_uring submission queue exhausted");
		exit(3);
	}
	return sqe;
}

/* ---- replies ---------------------------------------------------------- */

int req_error(struct req *r, int code, const char *field, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;

	memset(&r->e, 0, sizeof(r->e));
	r->e.code = code;
	if (field) {
		snprintf(r->e.field, sizeof(r->e.field), "%s", field);
		n = (size_t)snprintf(r->e.msg, sizeof(r->e.msg),
				     "%s: ", r->e.field);
	}
	va_start(ap, fmt);
	vsnprintf(r->e.msg + n, sizeof(r->e.msg) - n, fmt, ap);
	va_end(ap);
	return code;
}

/* Pack {ok: false, error: {...}}; the error's code decides its extra
 * fields, so the map's size follows from the same table. */
static void pack_error(msgpack_packer *pk, const struct proto_error *e)
{
	unsigned d = proto_err_details(e->code);

	wire_pk_str(pk, "ok");
	msgpack_pack_false(pk);
	wire_pk_str(pk, "error");
	bool retry = (d & BOOKD_ERRD_RETRY) && e->retry_after_ms > 0;

	msgpack_pack_map(pk, 2 + (e->field[0] != 0) +
				 !!(d & BOOKD_ERRD_CONFLICTS) +
				 !!(d & BOOKD_ERRD_RESOURCE) + retry);
	wire_pk_kstr(pk, "code", proto_err_name(e->code));
	wire_pk_kstr(pk, "message",
		     e->msg[0] ? e->msg : proto_err_message(e->code));
	if (e->field[0])
		wire_pk_kstr(pk, "field", e->field);
	if (d & BOOKD_ERRD_CONFLICTS) {
		wire_pk_str(pk, "conflicts");
		msgpack_pack_array(pk, e->nconflicts);
		for (uint32_t i = 0; i < e->nconflicts; i++)
			msgpack_pack_uint32(pk, e->conflicts[i]);
	}
	if (d & BOOKD_ERRD_RESOURCE)
		wire_pk_kstr(pk, "resource", e->resource);
	if (retry)
		wire_pk_kint(pk, "retry_after_ms", e->retry_after_ms);
}

/* Route the finished reply in s->rb to the connection. */
static void deliver(struct server *s, struct conn *c, uint64_t need_lsn)
{
	if (c->nparks == 0 && need_lsn <= wal_durable_lsn(s->wal)) {
		wbuf_append(&c->out, s->rb.data, s->rb.len);
		return;
	}
	wbuf_append(&c->parked, s->rb.data, s->rb.len);
	if (c->nparks == c->capparks) {
		size_t cap = c->capparks ? c->capparks * 2 : 16;
		struct park *p = reallocarray(c->parks, cap, sizeof(*p));
		if (p == NULL)
			abort();
		c->parks = p;
		c->capparks = cap;
	}
	c->parks[c->nparks++] = (struct park){c->parked.len, need_lsn};
	if (!c->on_parked) {
		c->on_parked = true;
		c->pnext = s->parked_conns;
		s->parked_conns = c;
	}
}

static void release_parked(struct server *s)
{
	uint64_t durable = wal_durable_lsn(s->wal);
	struct conn **pp = &s->parked_conns;

	while (*pp) {
		struct conn *c = *pp;
		size_t k = 0;
		while (k < c->nparks && c->parks[k].lsn <= durable)
			k++;
		if (k > 0) {
			size_t bytes = c->parks[k - 1].end;
			wbuf_append(&c->out, c->parked.data, bytes);
			wbuf_consume(&c->parked, bytes);
			memmove(c->parks, c->parks + k,
				(c->nparks - k) * sizeof(*c->parks));
			c->nparks -= k;
			for (size_t i = 0; i < c->nparks; i++)
				c->parks[i].end -= bytes;
			conn_flush(s, c);
		}
		if (c->nparks == 0) {
			c->on_parked = false;
			*pp = c->pnext;
		} else {
			pp = &c->pnext;
		}
	}
}

static void deliver(struct server *s, struct conn *c, uint64_t need_lsn);

/* The one way an error reply leaves: a whole frame {id, ok: false, error}. */
static void send_error(struct server *s, struct conn *c,
		       const msgpack_object *id, const struct proto_error *e)
{
	size_t off;

	s->rb.len = 0;
	off = wire_frame_begin(&s->rb);
	msgpack_pack_map(&s->pk, 3);
	wire_pk_str(&s->pk, "id");
	if (id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		msgpack_pack_uint64(&s->pk, id->via.u64);
	else
		msgpack_pack_nil(&s->pk);
	pack_error(&s->pk, e);
	wire_frame_end(&s->rb, off);
	deliver(s, c, wal_last_lsn(s->wal));
}

/* A request-level refusal: code, field (NULL: none) and message. */
static void reply_simple_error(struct server *s, struct conn *c,
			       const msgpack_object *id, int code,
			       const char *field, const char *msg)
{
	struct proto_error e;

	proto_err_set(&e, code, field, "%s", msg);
	send_error(s, c, id, &e);
}

/* ---- requests --------------------------------------------------------- */

static void handle_frame(struct server *s, struct conn *c, const char *body,
			 size_t len)
{
	msgpack_unpacked u;
	size_t used = 0;
	const msgpack_object *id, *op, *args, *as;
	struct req r;
	int opi, rc;
	size_t off;

	s->stats.ops++;
	msgpack_unpacked_init(&u);
	/* Check the structure before msgpack-c allocates for the counts it
	 * announces: a 10-byte frame could otherwise ask for gigabytes. */
	if (wire_msgpack_check(body, len, &used) < 0 || used != len ||
	    (used = 0, msgpack_unpack_next(&u, body, len, &used) !=
			   MSGPACK_UNPACK_SUCCESS) ||
	    used != len) {
		reply_simple_error(s, c, NULL, BOOKD_E_BAD_REQUEST, "request",
				   "not one MessagePack value");
		goto out;
	}
	if (u.data.type != MSGPACK_OBJECT_MAP) {
		reply_simple_error(s, c, NULL, BOOKD_E_BAD_REQUEST, "request",
				   "must be a map");
		goto out;
	}
	id = wire_get(&u.data, "id");
	op = wire_get(&u.data, "op");
	args = wire_get(&u.data, "args");
	as = wire_get(&u.data, "as");
	if (id && id->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		reply_simple_error(s, c, NULL, BOOKD_E_BAD_REQUEST, "id",
				   "must be a non-negative integer");
		goto out;
	}
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		const msgpack_object *k = &u.data.via.map.ptr[i].key;
		if (!wire_str_eq(k, "id") && !wire_str_eq(k, "op") &&
		    !wire_str_eq(k, "args") && !wire_str_eq(k, "as")) {
			reply_simple_error(s, c, id, BOOKD_E_BAD_REQUEST,
					   "request",
					   "unknown key (expected id, op, "
					   "args, as)");
			goto out;
		}
	}
	if (op == NULL || op->type != MSGPACK_OBJECT_STR) {
		reply_simple_error(s, c, id, BOOKD_E_BAD_REQUEST, "op",
				   "required, a string");
		goto out;
	}
	opi = proto_op_lookup(op->via.str.ptr, op->via.str.size);
	if (opi < 0) {
		char m[128];
		int n = (int)(op->via.str.size > 64 ? 64 : op->via.str.size);
		if (wire_text_check(op->via.str.ptr, (size_t)n, false))
			snprintf(m, sizeof(m),
				 "op: unknown operation (its name is not "
				 "valid text)");
		else
			snprintf(m, sizeof(m), "op: unknown operation '%.*s'",
				 n, op->via.str.ptr);
		reply_simple_error(s, c, id, BOOKD_E_UNKNOWN_OP, NULL, m);
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.c = c;
	r.op = opi;
	r.pk = &s->pk;
	r.role = c->role;
	if (as) {
		/* A gateway names the visitor it acts for; the request then
		 * runs as public, whatever the connection may do. */
		if (c->role != ROLE_ADMIN && c->role != ROLE_GATEWAY) {
			reply_simple_error(
			    s, c, id, BOOKD_E_FORBIDDEN, NULL,
			    "as: only a gateway may act for visitors");
			goto out;
		}
		if (as->type != MSGPACK_OBJECT_STR ||
		    !caller_visitor_ok(as->via.str.ptr, as->via.str.size)) {
			reply_simple_error(s, c, id, BOOKD_E_BAD_REQUEST, "as",
					   "1 to 64 bytes of A-Z a-z 0-9 . _ "
					   ": -");
			goto out;
		}
		r.role = ROLE_PUBLIC;
		r.visitor = true;
	}
	caller_principal(r.principal, c->subject, c->uid,
			 as ? as->via.str.ptr : NULL,
			 as ? as->via.str.size : 0);
	r.admin_details = r.role == ROLE_ADMIN;
	if (proto_ops[opi].role > r.role) {
		char m[128];
		snprintf(m, sizeof(m), "%s: admin only", proto_ops[opi].name);
		reply_simple_error(s, c, id, BOOKD_E_FORBIDDEN, NULL, m);
		goto out;
	}
	if (s->stopping && (proto_ops[opi].flags & OPF_WRITE)) {
		reply_simple_error(s, c, id, BOOKD_E_UNAVAILABLE, NULL,
				   "shutting down");
		goto out;
	}
	if (proto_validate_args(opi, args, r.a, &r.e) != 0) {
		send_error(s, c, id, &r.e);
		goto out;
	}
	s->rb.len = 0;
	off = wire_frame_begin(&s->rb);
	msgpack_pack_map(&s->pk, 3);
	wire_pk_str(&s->pk, "id");
	if (id)
		msgpack_pack_uint64(&s->pk, id->via.u64);
	else
		msgpack_pack_nil(&s->pk);
	wire_pk_str(&s->pk, "ok");
	msgpack_pack_true(&s->pk);
	wire_pk_str(&s->pk, "result");
	rc = op_handlers[opi](&r);
	if (rc != 0 || r.e.code != 0) {
		if (r.e.code == 0)
			r.e.code = rc;
		send_error(s, c, id, &r.e);
		goto out;
	}
	if (wire_frame_end(&s->rb, off) < 0) {
		reply_simple_error(s, c, id, BOOKD_E_TOO_LARGE, NULL,
				   "result: larger than 1 MiB; ask for less "
				   "(limit)");
		goto out;
	}
	deliver(s, c, wal_last_lsn(s->wal));
out:
	msgpack_unpacked_destroy(&u);
	push_holds_due(s);
}

/* ---- connections ------------------------------------------------------ */

static void arm_recv(struct server *s, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->reading || c->closing || c->paused)
		return;
	wbuf_reserve(&c->in, RECV_CHUNK);
	sqe = get_sqe(s);
	io_uring_prep_recv(sqe, c->fd, c->in.data + c->in.len,
			   c->in.cap - c->in.len, 0);
	io_uring_sqe_set_data(sqe, &c->rd);
	c->reading = true;
	c->inflight++;
}

static size_t conn_backlog(const struct conn *c)
{
	return c->out.len + c->sending.len + c->parked.len;
}

static void conn_flush(struct server *s, struct conn *c)
{
	struct io_uring_sqe *sqe;
	struct wbuf tmp;

	if (c->writing || c->out.len == 0 || c->closing)
		return;
	tmp = c->sending;
	c->sending = c->out;
	c->out = tmp;
	c->out.len = 0;
	sqe = get_sqe(s);
	io_uring_prep_send(sqe, c->fd, c->sending.data, c->sending.len,
			   MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &c->wr);
	c->writing = true;
	c->inflight++;
}

static bool peer_is_admin(struct server *s, uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (uid == 0 || uid == geteuid())
		return true;
	if (!s->cfg.have_admin_gid)
		return false;
	if (gid == s->cfg.admin_gid)
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == s->cfg.admin_gid)
			return true;
	return false;
}

static void conn_new(struct server *s, int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct conn *c;

	if (s->nconns >= s->cfg.max_conns || s->stopping) {
		/* Say why before hanging up: a best-effort write to a fresh
		 * socket whose buffer is empty. */
		struct wbuf b = {0};
		msgpack_packer pk;
		size_t off = wire_frame_begin(&b);
		wbuf_packer_init(&pk, &b);
		msgpack_pack_map(&pk, 3);
		wire_pk_str(&pk, "id");
		msgpack_pack_nil(&pk);
		wire_pk_kbool(&pk, "ok", false);
		wire_pk_str(&pk, "error");
		msgpack_pack_map(&pk, 2);
		wire_pk_kstr(&pk, "code",
			     s->stopping ? "UNAVAILABLE" : "LIMIT");
		wire_pk_kstr(&pk, "message",
			     s->stopping ? "shutting down"
					 : "too many connections");
		wire_frame_end(&b, off);
		log_msg("refusing a connection: %s",
			s->stopping ? "shutting down" : "connection limit");
		if (send(fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_msg("refusing a connection: %s", strerror(errno));
		wbuf_free(&b);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->cid = ++s->next_cid;
	c->rd = (struct ev){EV_RECV, c};
	c->wr = (struct ev){EV_SEND, c};
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
		c->uid = cred.uid;
		c->role = peer_is_admin(s, cred.uid, cred.gid) ? ROLE_ADMIN
							       : ROLE_PUBLIC;
	} else {
		c->role = ROLE_PUBLIC;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	s->stats.conns_total++;
	arm_recv(s, c);
}

/* Take a subscription off its resource's list and free it. */
static void sub_free(struct server *s, struct sub *x)
{
	struct resource *r = s->st.res[x->res];

	if (x->rprev)
		x->rprev->rnext = x->rnext;
	else
		r->subs = x->rnext;
	if (x->rnext)
		x->rnext->rprev = x->rprev;
	s->nsubs--;
	free(x);
}

static void subs_drop_conn(struct server *s, struct conn *c)
{
	struct sub *x = c->subs;
	while (x) {
		struct sub *n = x->cnext;
		sub_free(s, x);
		x = n;
	}
	c->subs = NULL;
	c->nsubs = 0;
}

static void conn_free(struct server *s, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	if (c->on_parked) {
		struct conn **pp = &s->parked_conns;
		while (*pp != c)
			pp = &(*pp)->pnext;
		*pp = c->pnext;
	}
	close(c->fd);
	wbuf_free(&c->in);
	wbuf_free(&c->out);
	wbuf_free(&c->sending);
	wbuf_free(&c->parked);
	free(c->parks);
	free(c);
}

static void conn_close(struct server *s, struct conn *c)
{
	if (!c->closing) {
		c->closing = true;
		subs_drop_conn(s, c);
		/* Wake any receive or send in flight; they complete with an
		 * error and the last one frees the connection. */
		shutdown(c->fd, SHUT_RDWR);
	}
	if (c->inflight == 0)
		conn_free(s, c);
}

static void on_recv(struct server *s, struct conn *c, int res)
{
	const char *body;
	size_t blen, used, pos = 0;
	int k;

	c->reading = false;
	c->inflight--;
	if (c->closing || res <= 0) {
		conn_close(s, c);
		return;
	}
	c->in.len += (size_t)res;
	while ((k = wire_frame_next(c->in.data + pos, c->in.len - pos, &body,
				    &blen, &used)) == 1) {
		handle_frame(s, c, body, blen);
		pos += used;
	}
	wbuf_consume(&c->in, pos);
	if (k < 0) {
		/* The length cannot be trusted, so the stream cannot be
		 * resynchronised: answer and hang up. */
		reply_simple_error(s, c, NULL, BOOKD_E_TOO_LARGE, NULL,
				   "frame: larger than 1 MiB");
		c->close_after_send = true;
		c->in.len = 0;
	}
	if (conn_backlog(c) > OUT_PAUSE)
		c->paused = true;
	conn_flush(s, c);
	if (!c->close_after_send)
		arm_recv(s, c);
	else if (!c->writing && c->out.len == 0 && c->nparks == 0)
		conn_close(s, c);
}

static void on_send(struct server *s, struct conn *c, int res)
{
	c->writing = false;
	c->inflight--;
	if (c->closing || res < 0) {
		conn_close(s, c);
		return;
	}
	wbuf_consume(&c->sending, (size_t)res);
	if (c->sending.len > 0) {
		/* A short send: push the rest out before anything newer. */
		struct wbuf tmp = c->sending;
		c->sending = c->out;
		c->out = tmp;
		wbuf_append(&c->out, c->sending.data, c->sending.len);
		c->sending.len = 0;
	}
	conn_flush(s, c);
	if (c->paused && conn_backlog(c) < OUT_PAUSE / 2) {
		c->paused = false;
		arm_recv(s, c);
	}
	if (c->close_after_send && !c->writing && c->nparks == 0)
		conn_close(s, c);
}

/* ---- pushes ----------------------------------------------------------- */

static void push(struct server *s, struct sub *x, const char *date,
		 uint64_t version)
{
	struct conn *c = x->conn;
	size_t off;

	if (c->closing || c->cut)
		return;
	if (conn_backlog(c) > PUSH_CUTOFF) {
		/* Closing here would free subscriptions the caller is walking;
		 * the loop closes cut connections at the end of the turn. */
		log_msg("connection %" PRIu64 " cut off: %zu bytes of pushes "
			"unread",
			c->cid, conn_backlog(c));
		s->stats.cut_off++;
		c->cut = true;
		return;
	}
	s->pb.len = 0;
	off = wire_frame_begin(&s->pb);
	msgpack_pack_map(&s->ppk, 6);
	wire_pk_kstr(&s->ppk, "push", "changed");
	wire_pk_kint(&s->ppk, "sub", (int64_t)x->id);
	wire_pk_kstr(&s->ppk, "topic",
		     x->topic == TOPIC_SLOTS ? "slots" : "holds");
	wire_pk_kstr(&s->ppk, "resource", s->st.res[x->res]->id);
	wire_pk_kstr(&s->ppk, "date", date);
	wire_pk_kint(&s->ppk, "version", (int64_t)version);
	wire_frame_end(&s->pb, off);
	/* Pushes are not replies: they never wait behind parked replies. */
	wbuf_append(&c->out, s->pb.data, s->pb.len);
	s->stats.pushes++;
	conn_flush(s, c);
}

/*
 * Pushes name local dates in the resource's zone, while pages are UTC days:
 * a changed UTC day becomes the one or two local dates it overlaps.  Dates
 * are queued and de-duplicated, so a change that spans several UTC days
 * still pushes each subscriber once per local date.
 */
static void due(struct server *s, struct dayrefs *q, const struct resource *r,
		int64_t utc_day, int from, int to)
{
	const struct tz *z = r->tz;
	int64_t t0 = utc_day * DAY_SECONDS + (int64_t)from * Q_SECONDS;
	int64_t t1 = utc_day * DAY_SECONDS + (int64_t)to * Q_SECONDS - 1;
	int64_t l0 = z ? tz_local_day_of(z, t0) : utc_day;
	int64_t l1 = z ? tz_local_day_of(z, t1) : utc_day;

	(void)s;
	if (r->subs == NULL || from >= to)
		return;
	for (int64_t l = l0; l <= l1; l++) {
		if (q->n == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 64;
			struct dayref *v = reallocarray(q->v, cap, sizeof(*v));
			if (v == NULL)
				abort();
			q->v = v;
			q->cap = cap;
		}
		q->v[q->n++] = (struct dayref){r->idx, l};
	}
}

static int dayref_cmp(const void *a, const void *b)
{
	const struct dayref *x = a, *y = b;
	if (x->res != y->res)
		return x->res < y->res ? -1 : 1;
	return (x->day > y->day) - (x->day < y->day);
}

static void push_due(struct server *s, struct dayrefs *q, uint8_t topic,
		     uint64_t version)
{
	if (q->n == 0)
		return;
	qsort(q->v, q->n, sizeof(*q->v), dayref_cmp);
	for (size_t i = 0; i < q->n; i++) {
		const struct dayref *d = &q->v[i];
		struct resource *r = s->st.res[d->res];
		char date[11];

		if (i > 0 && d->res == q->v[i - 1].res &&
		    d->day == q->v[i - 1].day)
			continue;
		q_format_date(d->day, date);
		for (struct sub *x = r->subs; x; x = x->rnext)
			if (x->topic == topic && d->day >= x->from_day &&
			    d->day <= x->to_day)
				push(s, x, date, version);
	}
	q->n = 0;
}

/* Every day of the window of r is due a "slots" push. */
static void due_all_days(struct server *s, const struct resource *r)
{
	for (int64_t day = s->st.first_day; day <= s->st.last_day; day++)
		due(s, &s->due_slots, r, day, 0, Q_PER_DAY);
}

static void push_holds_due(struct server *s)
{
	if (s->due_holds.n)
		push_due(s, &s->due_holds, TOPIC_HOLDS, ++s->holds_seq);
}

int server_subscribe(struct server *s, struct conn *c, uint8_t topic,
		     uint32_t res, int64_t from_day, int64_t to_day,
		     uint64_t *id)
{
	struct resource *r = s->st.res[res];
	struct sub *x;

	if (c->nsubs >= MAX_SUBS_PER_CONN)
		return BOOKD_E_LIMIT;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return BOOKD_E_INTERNAL;
	x->id = ++s->next_sub;
	x->conn = c;
	x->res = res;
	x->topic = topic;
	x->from_day = from_day;
	x->to_day = to_day;
	x->rnext = r->subs;
	if (r->subs)
		r->subs->rprev = x;
	r->subs = x;
	x->cnext = c->subs;
	c->subs = x;
	c->nsubs++;
	s->nsubs++;
	*id = x->id;
	return 0;
}

int server_unsubscribe(struct server *s, struct conn *c, uint64_t id)
{
	struct sub **pp = &c->subs;

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->cnext;
	if (*pp == NULL)
		return BOOKD_E_NOT_FOUND;
	{
		struct sub *x = *pp;
		*pp = x->cnext;
		c->nsubs--;
		sub_free(s, x);
	}
	return 0;
}

/* ---- pages ------------------------------------------------------------ */

static void publish_page(struct server *s, struct resource *r, struct rday *d,
			 bool slots, bool holds)
{
	pagesw_write_page(s->pages, r->idx, d->day, d->copen, d->cbooked,
			  d->held, d->cunits, slots, holds);
}

static void publish_resource(struct server *s, const struct resource *r)
{
	uint32_t flags = (r->active ? PAGES_DIR_ACTIVE : 0) |
			 (r->standalone ? PAGES_DIR_STANDALONE : 0);
	pagesw_set_resource(s->pages, r->idx, r->id, flags, r->cquantity);
	pagesw_set_resource_zone(s->pages, r->idx,
				 r->tz ? tz_name(r->tz) : NULL);
}

static void on_held_changed(void *ctx, struct resource *r, struct rday *d,
			    const uint64_t old[2])
{
	struct server *s = ctx;
	uint64_t x0 = old[0] ^ d->held[0], x1 = old[1] ^ d->held[1];
	int from, to;

	if (!s->started)
		return;
	pagesw_commit_begin(s->pages);
	publish_page(s, r, d, false, true);
	pagesw_commit_end(s->pages);
	/* Only the local dates of the quarters that changed are due. */
	from = x0 ? __builtin_ctzll(x0) : 64 + __builtin_ctzll(x1);
	to = x1 ? 128 - __builtin_clzll(x1) : 64 - __builtin_clzll(x0);
	due(s, &s->due_holds, r, d->day, from, to);
}

static void publish_all(struct server *s)
{
	pagesw_commit_begin(s->pages);
	for (uint32_t i = 0; i < s->st.nres; i++) {
		struct resource *r = s->st.res[i];
		publish_resource(s, r);
		for (int64_t day = s->st.first_day; day <= s->st.last_day;
		     day++) {
			struct rday *d = state_day(&s->st, r, day);
			d->open_changed = false;
			publish_page(s, r, d, false, false);
		}
	}
	pagesw_set_window(s->pages, s->st.first_day, s->st.last_day);
	pagesw_set_durable_lsn(s->pages, wal_durable_lsn(s->wal));
	pagesw_commit_end(s->pages);
}

/* ---- commit pipeline -------------------------------------------------- */

static void fatal_io(const char *what, int err)
{
	log_msg("FATAL: %s failed: %s; the log can no longer be trusted to "
		"hold new changes, stopping without acknowledging them",
		what, strerror(err));
	exit(3);
}

/* The group in flight is durable: publish, answer, push. */
static void group_durable(struct server *s)
{
	struct delta *dl = s->flight_deltas;
	size_t n = s->nflight_deltas;

	wal_group_done(s->wal);
	s->stats.commits++;
	s->group_mark++;
	state_commit_deltas(&s->st, dl, n);
	pagesw_commit_begin(s->pages);
	for (size_t i = 0; i < n; i++) {
		struct resource *r = s->st.res[dl[i].res];
		struct rday *d;
		if (dl[i].kind == DELTA_RESOURCE ||
		    dl[i].kind == DELTA_REQUANT) {
			/* A resource may be new: give it every page of the
			 * window along with its directory entry.  A new
			 * quantity, or (de)activation, changes every day. */
			bool all = dl[i].kind == DELTA_REQUANT || dl[i].qty;
			publish_resource(s, r);
			for (int64_t day = s->st.first_day;
			     day <= s->st.last_day; day++)
				publish_page(s, r, state_day(&s->st, r, day),
					     all, false);
			if (all)
				due_all_days(s, r);
			continue;
		}
		if (dl[i].kind == DELTA_OPEN) {
			/* A schedule change: republish the days whose open
			 * hours moved. */
			for (int64_t day = s->st.first_day;
			     day <= s->st.last_day; day++) {
				d = state_day(&s->st, r, day);
				if (!d->open_changed)
					continue;
				d->open_changed = false;
				publish_page(s, r, d, true, false);
				due(s, &s->due_slots, r, day, 0, Q_PER_DAY);
			}
			continue;
		}
		d = state_day(&s->st, r, dl[i].day);
		if (d == NULL)
			continue;
		due(s, &s->due_slots, r, d->day, dl[i].from, dl[i].to);
		if (d->mark == s->group_mark)
			continue;
		d->mark = s->group_mark;
		publish_page(s, r, d, true, false);
	}
	pagesw_set_durable_lsn(s->pages, wal_durable_lsn(s->wal));
	pagesw_commit_end(s->pages);
	release_parked(s);
	/* One "slots" push per subscriber per local date touched; the
	 * version is the LSN that made the change durable. */
	push_due(s, &s->due_slots, TOPIC_SLOTS, wal_durable_lsn(s->wal));
	free(dl);
	s->flight_deltas = NULL;
	s->nflight_deltas = 0;
	/* A checkpoint, when due, is written here; its rename waits until
	 * the LSN it covers is durable, and then the log is trimmed. */
	{
		char err[256];
		if (checkpoint_tick(&s->ck, &s->st, s->wal, err, sizeof(err)) <
		    0)
			log_msg("checkpoint: %s", err);
		s->last_checkpoint_lsn = s->ck.lsn;
	}
}

/* Write the sealed group into the log file (the page cache). */
static void write_group(struct server *s)
{
	const char *p = s->group.buf;
	size_t left = s->group.len;
	off_t off = s->group.offset;

	while (left > 0) {
		ssize_t w = pwrite(s->group.fd, p, left, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fatal_io("WAL write", w < 0 ? errno : EIO);
		p += w;
		left -= (size_t)w;
		off += w;
	}
}

static void plain_sync(struct server *s)
{
	write_group(s);
	if (s->cfg.sync == SYNC_PLAIN) {
		s->syncs_done++;
		if (s->cfg.fail_sync_at && s->syncs_done == s->cfg.fail_sync_at)
			fatal_io("fdatasync (injected)", EIO);
		if (fdatasync(s->group.fd) < 0)
			fatal_io("fdatasync", errno);
		s->stats.fsyncs++;
	}
	group_durable(s);
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Should the gathered records wait a little for more?  Clients answered by
 * the last group send their next requests a round trip later; submitting
 * before they arrive splits the clients into two cohorts that take turns,
 * each paying a whole extra fdatasync.  So when a group completes, expect
 * what was already gathered plus as many records as that group held, and
 * wait for them, at most half an fdatasync (and 1 ms).  A lone client
 * never waits: its record is the one expected.
 */
static bool gather_more(struct server *s)
{
	int64_t now = mono_us(), left;
	struct io_uring_sqe *sqe;

	if (s->cfg.sync != SYNC_URING || s->stopping ||
	    s->gathered >= s->expect || now >= s->gather_until_us)
		return false;
	if (!s->gather_armed) {
		left = s->gather_until_us - now;
		s->gather_ts.tv_sec = 0;
		s->gather_ts.tv_nsec = left * 1000;
		sqe = get_sqe(s);
		io_uring_prep_timeout(sqe, &s->gather_ts, 0, 0);
		io_uring_sqe_set_data(sqe, &s->gather_ev);
		s->gather_armed = true;
	}
	return true;
}

static void submit_group(struct server *s)
{
	struct io_uring_sqe *sqe;
	int rc;

	if (wal_in_flight(s->wal) || !wal_has_pending(s->wal) || gather_more(s))
		return;
	s->last_group = s->gathered;
	s->gathered = 0;
	s->sync_started_us = mono_us();
	rc = wal_group_begin(s->wal, &s->group);
	if (rc < 0)
		fatal_io("starting a WAL segment", -rc);
	s->flight_deltas = state_take_deltas(&s->st, &s->nflight_deltas);
	s->stats.records += s->group.records;
	if (s->cfg.sync != SYNC_URING) {
		plain_sync(s);
		return;
	}
	/* The write only copies into the page cache: doing it here costs a
	 * few microseconds, while handing it to io_uring puts it on a worker
	 * thread in front of the fdatasync (measured: the sync period grew
	 * from ~0.45 to ~1 ms).  Only the fdatasync, which waits for the
	 * disk, goes to the ring. */
	write_group(s);
	sqe = get_sqe(s);
	io_uring_prep_fsync(sqe, s->group.fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &s->wal_sync_ev);
}

static void on_wal_sync(struct server *s, int res)
{
	int64_t now = mono_us(), w;

	s->syncs_done++;
	if (s->cfg.fail_sync_at && s->syncs_done == s->cfg.fail_sync_at)
		res = -EIO;
	if (res < 0)
		fatal_io("fdatasync", -res);
	s->stats.fsyncs++;
	s->last_sync_us = now - s->sync_started_us;
	w = s->last_sync_us / 2 < 1000 ? s->last_sync_us / 2 : 1000;
	s->gather_until_us = now + w;
	s->expect = s->gathered + s->last_group;
	group_durable(s);
}

/* ---- timers ----------------------------------------------------------- */

static void arm_timer(struct server *s, int64_t deadline_mono)
{
	struct io_uring_sqe *sqe;
	int64_t now = mono_ms(), d = deadline_mono - now;

	if (s->timers_armed > 0 && s->timer_deadline <= deadline_mono)
		return;
	if (d < 1)
		d = 1;
	s->timer_ts.tv_sec = d / 1000;
	s->timer_ts.tv_nsec = (d % 1000) * 1000000;
	sqe = get_sqe(s);
	io_uring_prep_timeout(sqe, &s->timer_ts, 0, 0);
	io_uring_sqe_set_data(sqe, &s->timer_ev);
	s->timers_armed++;
	s->timer_deadline = deadline_mono;
}

static void housekeeping(struct server *s)
{
	int64_t today = q_day_of(now_ms() / 1000);

	state_hold_expire(&s->st, mono_ms());
	push_holds_due(s);
	if (today != s->today) {
		int64_t first = today - s->cfg.past_days;
		int64_t last = today + s->cfg.horizon_days;
		s->today = today;
		state_slide(&s->st, first, last);
		publish_all(s);
	}
}

static void rearm_timer(struct server *s)
{
	int64_t next = mono_ms() + 1000;
	int64_t h = state_hold_next_expiry(&s->st);

	if (h >= 0 && h < next)
		next = h;
	arm_timer(s, next);
}

/* ---- the loop --------------------------------------------------------- */

static void arm_accept(struct server *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);
	io_uring_prep_multishot_accept(sqe, s->listen_fd, NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &s->accept_ev);
}

static void arm_signal(struct server *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);
	io_uring_prep_read(sqe, s->signal_fd, s->sigbuf, sizeof(*s->sigbuf), 0);
	io_uring_sqe_set_data(sqe, &s->signal_ev);
}

static void begin_stop(struct server *s)
{
	if (s->stopping)
		return;
	log_msg("stopping: finishing the commit in flight");
	s->stopping = true;
	if (s->listen_fd >= 0) {
		shutdown(s->listen_fd, SHUT_RDWR);
		close(s->listen_fd);
		s->listen_fd = -1;
		unlink(s->cfg.socket_path);
	}
}

static void dispatch(struct server *s, struct io_uring_cqe *cqe)
{
	struct ev *e = io_uring_cqe_get_data(cqe);
	int res = cqe->res;

	if (e == NULL)
		return;
	switch (e->kind) {
	case EV_ACCEPT:
		if (res >= 0)
			conn_new(s, res);
		else if (res != -ECANCELED && res != -EINVAL && !s->stopping)
			log_msg("accept: %s", strerror(-res));
		if (!(cqe->flags & IORING_CQE_F_MORE) && !s->stopping &&
		    s->listen_fd >= 0)
			arm_accept(s);
		break;
	case EV_RECV:
		on_recv(s, e->owner, res);
		break;
	case EV_SEND:
		on_send(s, e->owner, res);
		break;
	case EV_TIMER:
		s->timers_armed--;
		housekeeping(s);
		if (s->timers_armed == 0)
			rearm_timer(s);
		break;
	case EV_WAL_SYNC:
		on_wal_sync(s, res);
		break;
	case EV_GATHER:
		s->gather_armed = false; /* submit_group decides */
		break;
	case EV_SIGNAL:
		if (res > 0)
			begin_stop(s);
		else
			arm_signal(s);
		break;
	}
}

static bool drained(struct server *s)
{
	if (wal_in_flight(s->wal) || wal_has_pending(s->wal))
		return false;
	for (struct conn *c = s->conns; c; c = c->next)
		if (c->writing || c->out.len || c->nparks)
			return false;
	return true;
}

int server_run(struct server *s)
{
	int64_t stop_deadline = 0;

	s->started = true;
	publish_all(s);
	arm_accept(s);
	arm_signal(s);
	rearm_timer(s);
	log_msg("ready");
	while (1) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int rc;

		rc = io_uring_submit_and_wait(&s->ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EBUSY) {
			log_msg("io_uring: %s", strerror(-rc));
			return 3;
		}
		io_uring_for_each_cqe(&s->ring, head, cqe)
		{
			dispatch(s, cqe);
			n++;
		}
		io_uring_cq_advance(&s->ring, n);
		/* Timer-driven expiry can free holds whose earliest deadline
		 * changed; new holds may need an earlier wake-up. */
		{
			int64_t h = state_hold_next_expiry(&s->st);
			if (h >= 0)
				arm_timer(s, h);
		}
		submit_group(s);
		for (struct conn *c = s->conns, *next; c; c = next) {
			next = c->next;
			if (c->cut)
				conn_close(s, c);
			else
				conn_flush(s, c);
		}
		if (s->stopping) {
			if (stop_deadline == 0)
				stop_deadline = mono_ms() + 5000;
			if (drained(s) || mono_ms() > stop_deadline)
				break;
			arm_timer(s, mono_ms() + 50);
		}
	}
	{
		char err[256];
		if (checkpoint_now(&s->ck, &s->st, s->wal, err, sizeof(err)) <
		    0)
			log_msg("checkpoint at stop: %s", err);
	}
	return 0;
}

/* ---- setup ------------------------------------------------------------ */

static int replay_rec(void *ctx, const struct wal_rec *rec)
{
	struct server *s = ctx;
	if (state_apply(&s->st, rec->type, rec->payload, rec->len, rec->lsn,
			rec->at_ms) < 0) {
		log_msg("record at LSN %" PRIu64 " does not apply", rec->lsn);
		return 1;
	}
	return 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_msg("--socket: path longer than %zu bytes",
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* We hold the data directory's lock, so a socket file left at this
	 * path is a dead engine's. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1024) < 0) {
		log_msg("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	chmod(path, 0666);
	return fd;
}

static int load_auth_key(struct server *s)
{
	int fd = openat(s->dirfd, "auth.key", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 && errno == ENOENT) {
		arc4random_buf(s->auth_key, sizeof(s->auth_key));
		fd = openat(s->dirfd, "auth.key",
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 ||
		    write(fd, s->auth_key, sizeof(s->auth_key)) !=
			(ssize_t)sizeof(s->auth_key) ||
		    fsync(fd) < 0) {
			log_msg("cannot write auth.key: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	if (fd < 0) {
		log_msg("cannot read auth.key: %s", strerror(errno));
		return -1;
	}
	n = read(fd, s->auth_key, sizeof(s->auth_key));
	close(fd);
	if (n != (ssize_t)sizeof(s->auth_key)) {
		log_msg("auth.key: expected %zu bytes", sizeof(s->auth_key));
		return -1;
	}
	return 0;
}

int server_init(struct server *s, const struct config *cfg)
{
	struct wal_opts wo = {cfg->segment_size, 0};
	struct wal_scan scan;
	char err[512];
	sigset_t mask;
	int64_t first, last;
	uint32_t window;
	int rc;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->listen_fd = s->signal_fd = s->lockfd = s->dirfd = -1;
	s->accept_ev = (struct ev){EV_ACCEPT, NULL};
	s->signal_ev = (struct ev){EV_SIGNAL, NULL};
	s->timer_ev = (struct ev){EV_TIMER, NULL};
	s->wal_sync_ev = (struct ev){EV_WAL_SYNC, NULL};
	s->gather_ev = (struct ev){EV_GATHER, NULL};
	wbuf_packer_init(&s->pk, &s->rb);
	wbuf_packer_init(&s->ppk, &s->pb);
	s->started_ms = now_ms();

	if (mkdir(cfg->data_dir, 0750) < 0 && errno != EEXIST) {
		log_msg("cannot create %s: %s", cfg->data_dir, strerror(errno));
		return 2;
	}
	s->dirfd = open(cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		log_msg("cannot open %s: %s", cfg->data_dir, strerror(errno));
		return 2;
	}
	s->lockfd =
	    openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->lockfd < 0) {
		log_msg("cannot open %s/lock: %s", cfg->data_dir,
			strerror(errno));
		return 2;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		log_msg("%s is in use by another bookd (lock held)",
			cfg->data_dir);
		return 2;
	}
	if (load_auth_key(s) < 0)
		return 2;

	s->today = q_day_of(now_ms() / 1000);
	first = s->today - cfg->past_days;
	last = s->today + cfg->horizon_days;
	window = cfg->horizon_days + cfg->past_days + 2;
	if (state_init(&s->st, cfg->max_resources, first, last, window) < 0)
		return 2;
	s->st.hooks.held_changed = on_held_changed;
	s->st.hooks.ctx = s;

	rc = snapshot_load(s->dirfd, &s->st, &wo.after_lsn, err, sizeof(err));
	if (rc < 0) {
		log_msg("%s", err);
		return 2;
	}
	rc = wal_open(&s->wal, s->dirfd, &wo, replay_rec, s, &scan, err,
		      sizeof(err));
	if (rc < 0) {
		log_msg("%s", err);
		return 2;
	}
	/* Recovery's deltas are already in the committed copies' future:
	 * everything replayed is durable. */
	{
		size_t n;
		struct delta *dl = state_take_deltas(&s->st, &n);
		state_commit_deltas(&s->st, dl, n);
		free(dl);
	}
	checkpoint_init(&s->ck, s->dirfd, cfg->checkpoint_bytes, cfg->archive,
			wo.after_lsn, scan.bytes);
	s->last_checkpoint_lsn = wo.after_lsn;
	log_msg("recovered %" PRIu64 " log records (LSN %" PRIu64
		"): %u resources, %u bookings",
		scan.records, wal_last_lsn(s->wal), s->st.nres, s->st.nbk);

	rc = pagesw_open(&s->pages, s->dirfd, cfg->max_resources, window, first,
			 last);
	if (rc < 0) {
		log_msg("cannot build %s/pages: %s", cfg->data_dir,
			strerror(-rc));
		return 2;
	}

	/* One thread submits everything: let the kernel run completion work
	 * only when we ask for events, instead of interrupting the loop.
	 * Older kernels lack these flags; fall back step by step. */
	rc = io_uring_queue_init(RING_ENTRIES, &s->ring,
				 IORING_SETUP_SINGLE_ISSUER |
				     IORING_SETUP_DEFER_TASKRUN);
	if (rc == -EINVAL)
		rc = io_uring_queue_init(RING_ENTRIES, &s->ring,
					 IORING_SETUP_COOP_TASKRUN);
	if (rc == -EINVAL)
		rc = io_uring_queue_init(RING_ENTRIES, &s->ring, 0);
	if (rc < 0) {
		log_msg("io_uring_queue_init: %s", strerror(-rc));
		return 2;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	s->sigbuf = calloc(1, sizeof(*s->sigbuf));
	if (s->signal_fd < 0 || s->sigbuf == NULL)
		return 2;
	s->listen_fd = listen_unix(cfg->socket_path);
	if (s->listen_fd < 0)
		return 2;
	if (cfg->sync == SYNC_OFF)
		log_msg("WARNING: --sync off: acknowledged bookings are NOT "
			"durable; for benchmarks only");
	return 0;
}

/*
 * Close every connection and wait (bounded) for their receives and sends
 * to complete: the kernel writes into a connection's buffers until then,
 * so freeing them earlier would let a late recv scribble on the heap.
 */
static void drain_conns(struct server *s)
{
	int64_t deadline = mono_ms() + 2000;

	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		conn_close(s, c);
	}
	while (s->conns && mono_ms() < deadline) {
		struct __kernel_timespec ts = {0, 50 * 1000000};
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
		io_uring_for_each_cqe(&s->ring, head, cqe)
		{
			dispatch(s, cqe);
			n++;
		}
		io_uring_cq_advance(&s->ring, n);
	}
}

void server_free(struct server *s)
{
	if (s->ring.ring_fd > 0) {
		drain_conns(s);
		io_uring_queue_exit(&s->ring);
		s->ring.ring_fd = -1;
	}
	/* Connections still there could not be drained in time; with the
	 * ring gone nothing writes into them any more. */
	while (s->conns) {
		struct conn *c = s->conns;
		subs_drop_conn(s, c);
		c->inflight = 0;
		conn_free(s, c);
	}
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->cfg.socket_path);
	}
	if (s->signal_fd >= 0)
		close(s->signal_fd);
	free(s->sigbuf);
	pagesw_close(s->pages);
	wal_close(s->wal);
	free(s->flight_deltas);
	state_free(&s->st);
	wbuf_free(&s->rb);
	wbuf_free(&s->pb);
	free(s->due_slots.v);
	free(s->due_holds.v);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
}

uint64_t server_log_record(struct server *s, uint16_t type,
			   const struct wbuf *payload)
{
	s->gathered++;
	return wal_append(s->wal, type, payload->data, (uint32_t)payload->len,
			  now_ms());
}
