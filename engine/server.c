/*
 * server.c - the glue between the loop and the domain; see server.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "pages.h"
#include "quanta.h"
#include "reply.h"
#include "server.h"

/* The first chunk of the request zone: the objects of a usual request. */
#define ZONE_CHUNK 8192

_Static_assert(CONN_PRINCIPAL_MAX == PRINCIPAL_MAX,
	       "struct conn's principal holds caller.h's principal");

_Static_assert(CONN_ADMIN == ROLE_ADMIN && CONN_PUBLIC == ROLE_PUBLIC,
	       "the loop's roles are the protocol's");

void server_deliver(struct server *s, struct conn *c, uint64_t need_lsn)
{
	loop_reply(&s->loop, c, s->rb.data, s->rb.len, need_lsn);
}

/* ---- publishing committed state --------------------------------------- */

/* The held bits readers see on (res, day): the live holds plus those
 * released by changes not yet durable. */
static void held_shown(const struct server *s, uint32_t res, int64_t day,
		       const uint64_t held[2], uint64_t out[2])
{
	out[0] = held[0];
	out[1] = held[1];
	for (size_t i = 0; i < s->ndefers; i++)
		if (s->defers[i].res == res && s->defers[i].day == day) {
			out[0] |= s->defers[i].bits[0];
			out[1] |= s->defers[i].bits[1];
		}
}

static void publish_day(struct server *s, const struct resource *r,
			const struct rday *d, bool slots, bool holds)
{
	uint64_t held[2];

	held_shown(s, r->idx, d->day, d->held, held);
	pub_page(&s->pub, r->idx, d->day, d->copen, d->cbooked, held, d->cunits,
		 slots, holds);
}

static void publish_resource(struct server *s, const struct resource *r)
{
	uint32_t flags = (r->active ? PAGES_DIR_ACTIVE : 0) |
			 (r->standalone ? PAGES_DIR_STANDALONE : 0);
	pub_resource(&s->pub, r->idx, r->id, flags, r->cquantity, r->tz);
}

static void on_held_changed(void *ctx, struct resource *r, struct rday *d,
			    const uint64_t old[2])
{
	struct server *s = ctx;
	uint64_t before[2], after[2];
	uint64_t gone[2] = {old[0] & ~d->held[0], old[1] & ~d->held[1]};

	if (!s->started)
		return;
	held_shown(s, r->idx, d->day, old, before);
	if (s->in_handler && (gone[0] | gone[1])) {
		/* Released by a request that may also log a change (a
		 * booking consuming its own hold): keep showing them until
		 * the request ends, and until its change is durable. */
		if (s->ndefers == s->capdefers) {
			size_t cap = s->capdefers ? s->capdefers * 2 : 16;
			struct held_defer *v =
			    reallocarray(s->defers, cap, sizeof(*v));
			if (v == NULL)
				abort();
			s->defers = v;
			s->capdefers = cap;
		}
		s->defers[s->ndefers++] =
		    (struct held_defer){r->idx, d->day, {gone[0], gone[1]}, 0};
	}
	held_shown(s, r->idx, d->day, d->held, after);
	if (before[0] == after[0] && before[1] == after[1])
		return;
	pub_begin(&s->pub);
	publish_day(s, r, d, false, true);
	pub_end(&s->pub, wal_durable_lsn(s->wal));
	pub_holds_changed(&s->pub, r->idx, d->day, before, after);
}

/*
 * Let go of deferred releases, republishing their days inside the caller's
 * publication bracket: those whose change is durable (lsn <= upto), or with
 * open_only those of the request that just ended without logging anything.
 */
static void release_defers(struct server *s, uint64_t upto, bool open_only)
{
	size_t n = s->ndefers, k = 0;

	/* Keep the rest at the front; the released move behind them. */
	for (size_t i = 0; i < n; i++) {
		struct held_defer x = s->defers[i];
		bool go = open_only ? x.lsn == 0 : x.lsn != 0 && x.lsn <= upto;
		if (!go) {
			s->defers[i] = s->defers[k];
			s->defers[k++] = x;
		}
	}
	s->ndefers = k;
	for (size_t i = k; i < n; i++) {
		const struct held_defer *x = &s->defers[i];
		struct resource *r = s->st.res[x->res];
		struct rday *d = state_day(&s->st, r, x->day);
		uint64_t before[2], after[2];

		if (d == NULL)
			continue;
		held_shown(s, x->res, x->day, d->held, after);
		before[0] = after[0] | x->bits[0];
		before[1] = after[1] | x->bits[1];
		publish_day(s, r, d, false, true);
		pub_holds_changed(&s->pub, x->res, x->day, before, after);
	}
}

static void publish_all(struct server *s)
{
	pub_begin(&s->pub);
	for (uint32_t i = 0; i < s->st.nres; i++) {
		struct resource *r = s->st.res[i];
		publish_resource(s, r);
		for (int64_t day = s->st.first_day; day <= s->st.last_day;
		     day++) {
			struct rday *d = state_day(&s->st, r, day);
			d->open_changed = false;
			publish_day(s, r, d, false, false);
		}
	}
	pub_window(&s->pub, s->st.first_day, s->st.last_day);
	pub_end(&s->pub, wal_durable_lsn(s->wal));
}

/* The LSN of the last event that is durable (0: none). */
static uint64_t last_durable_event(const struct server *s, uint64_t durable)
{
	size_t i = s->st.nev;

	while (i > 0 && s->st.ev[i - 1].lsn > durable)
		i--;
	return i ? s->st.ev[i - 1].lsn : 0;
}

/* ---- the commit's hooks ----------------------------------------------- */

static void on_sealed(void *ctx)
{
	struct server *s = ctx;

	struct flight_deltas *f =
	    &s->flight[(s->flight_head + s->nflight) % COMMIT_MAX_FLIGHT];

	f->v = state_take_deltas(&s->st, &f->n);
	s->nflight++;
}

/* The oldest group in flight is durable: publish, answer, push. */
static void on_durable(void *ctx, uint64_t lsn)
{
	struct server *s = ctx;
	struct flight_deltas *f = &s->flight[s->flight_head];
	struct delta *dl = f->v;
	size_t n = f->n;

	s->group_mark++;
	state_commit_deltas(&s->st, dl, n);
	pub_begin(&s->pub);
	/* Held bits this group's changes released leave together with the
	 * booked bits that replace them. */
	release_defers(s, lsn, false);
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
				publish_day(s, r, state_day(&s->st, r, day),
					    all, false);
			if (all)
				pub_window_changed(&s->pub, r->idx);
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
				publish_day(s, r, d, true, false);
				pub_slots_changed(&s->pub, r->idx, day, 0,
						  Q_PER_DAY);
			}
			continue;
		}
		d = state_day(&s->st, r, dl[i].day);
		if (d == NULL)
			continue;
		pub_slots_changed(&s->pub, r->idx, d->day, dl[i].from,
				  dl[i].to);
		if (d->mark == s->group_mark)
			continue;
		d->mark = s->group_mark;
		publish_day(s, r, d, true, false);
	}
	pub_end(&s->pub, lsn);
	loop_durable(&s->loop, lsn);
	/* One "slots" push per subscriber per local date touched; the
	 * version is the LSN that made the change durable. */
	pub_push_slots(&s->pub, lsn);
	pub_push_holds(&s->pub);
	pub_events(&s->pub, last_durable_event(s, lsn));
	free(dl);
	f->v = NULL;
	f->n = 0;
	s->flight_head = (s->flight_head + 1) % COMMIT_MAX_FLIGHT;
	s->nflight--;
	/* A checkpoint, when due, is written after this turn's replies are
	 * on their way (the loop's background hook). */
	loop_want_background(&s->loop);
}

/* ---- the loop's hooks ------------------------------------------------- */

/* Run a handler; held bits it releases while logging a change wait for
 * that change (see on_held_changed). */
static int run_handler(struct server *s, struct req *r)
{
	uint64_t before = wal_last_lsn(s->wal), after;
	int rc;

	s->nconns = s->loop.nconns;
	s->nsubs = s->pub.nsubs;
	s->in_handler = true;
	rc = op_handlers[r->op](r);
	s->in_handler = false;
	after = wal_last_lsn(s->wal);
	if (after == before) {
		/* Nothing was logged: the releases stand on their own. */
		bool open = false;
		for (size_t i = 0; i < s->ndefers; i++)
			open = open || s->defers[i].lsn == 0;
		if (open) {
			pub_begin(&s->pub);
			release_defers(s, 0, true);
			pub_end(&s->pub, wal_durable_lsn(s->wal));
		}
		return rc;
	}
	for (size_t i = 0; i < s->ndefers; i++)
		if (s->defers[i].lsn == 0)
			s->defers[i].lsn = after;
	return rc;
}

/* ---- requests --------------------------------------------------------- */

/* The keys of a request map. */
enum { ENV_ID, ENV_OP, ENV_ARGS, ENV_AS, ENV__COUNT };

/*
 * Sort the request map's values by key in one walk: out[] gets the first
 * value of each known key (NULL when absent); true when some key is none
 * of them.
 */
static bool envelope(const msgpack_object *map,
		     const msgpack_object *out[ENV__COUNT])
{
	bool unknown = false;

	memset(out, 0, sizeof(out[0]) * ENV__COUNT);
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		const char *p = k->via.str.ptr;
		int which = -1;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 2) {
			if (p[0] == 'i' && p[1] == 'd')
				which = ENV_ID;
			else if (p[0] == 'o' && p[1] == 'p')
				which = ENV_OP;
			else if (p[0] == 'a' && p[1] == 's')
				which = ENV_AS;
		} else if (k->type == MSGPACK_OBJECT_STR &&
			   k->via.str.size == 4 && memcmp(p, "args", 4) == 0) {
			which = ENV_ARGS;
		}
		if (which < 0)
			unknown = true;
		else if (out[which] == NULL)
			out[which] = &map->via.map.ptr[i].val;
	}
	return unknown;
}

static void handle_frame(struct server *s, struct conn *c, const char *body,
			 size_t len)
{
	msgpack_object msg;
	size_t used = 0;
	const msgpack_object *id, *op, *args, *as;
	struct req r;
	const msgpack_object *env[ENV__COUNT];
	int opi, rc, vrc;
	bool unknown;
	size_t off;

	/* Check the structure before msgpack-c allocates for the counts it
	 * announces: a 10-byte frame could otherwise ask for gigabytes.  One
	 * walk settles both the item limit and the shape. */
	vrc = wire_msgpack_check_max(body, len, s->cfg.max_frame_items, &used);
	if (vrc == -2) {
		char m[128];
		snprintf(m, sizeof(m),
			 "more than %u MessagePack objects (limit)",
			 s->cfg.max_frame_items);
		reply_simple_error(s, c, NULL, BOOKD_E_TOO_LARGE, "request", m);
		goto out;
	}
	if (vrc < 0 || used != len ||
	    (used = 0, msgpack_unpack(body, len, &used, &s->zone, &msg) !=
			   MSGPACK_UNPACK_SUCCESS) ||
	    used != len) {
		reply_simple_error(s, c, NULL, BOOKD_E_BAD_REQUEST, "request",
				   "not one MessagePack value");
		goto out;
	}
	if (msg.type != MSGPACK_OBJECT_MAP) {
		reply_simple_error(s, c, NULL, BOOKD_E_BAD_REQUEST, "request",
				   "must be a map");
		goto out;
	}
	unknown = envelope(&msg, env);
	id = env[ENV_ID];
	op = env[ENV_OP];
	args = env[ENV_ARGS];
	as = env[ENV_AS];
	if (id && id->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		reply_simple_error(s, c, NULL, BOOKD_E_BAD_REQUEST, "id",
				   "must be a non-negative integer");
		goto out;
	}
	if (unknown) {
		reply_simple_error(s, c, id, BOOKD_E_BAD_REQUEST, "request",
				   "unknown key (expected id, op, args, as)");
		goto out;
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
	if (as) {
		caller_principal(r.principal, c->subject, c->uid,
				 as->via.str.ptr, as->via.str.size);
	} else {
		if (c->principal[0] == 0)
			caller_principal(c->principal, c->subject, c->uid, NULL,
					 0);
		memcpy(r.principal, c->principal, sizeof(r.principal));
	}
	r.admin_details = r.role == ROLE_ADMIN;
	if (proto_ops[opi].role > r.role) {
		char m[128];
		snprintf(m, sizeof(m), "%s: admin only", proto_ops[opi].name);
		reply_simple_error(s, c, id, BOOKD_E_FORBIDDEN, NULL, m);
		goto out;
	}
	if (s->loop.stopping && (proto_ops[opi].flags & OPF_WRITE)) {
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
	rc = run_handler(s, &r);
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
	server_deliver(s, c, wal_last_lsn(s->wal));
out:
	msgpack_zone_clear(&s->zone);
	pub_push_holds(&s->pub);
}

static void on_frame(void *ctx, struct conn *c, const char *body, size_t len)
{
	handle_frame(ctx, c, body, len);
}

static void on_closing(void *ctx, struct conn *c)
{
	struct server *s = ctx;

	pub_drop_conn(&s->pub, c);
}

static void on_tick(void *ctx)
{
	struct server *s = ctx;
	int64_t today = q_day_of(now_ms() / 1000);

	state_hold_expire(&s->st, mono_ms());
	pub_push_holds(&s->pub);
	if (today != s->today) {
		int64_t first = today - s->cfg.past_days;
		int64_t last = today + s->cfg.horizon_days;
		s->today = today;
		state_slide(&s->st, first, last);
		publish_all(s);
	}
}

static void on_turn_end(void *ctx)
{
	struct server *s = ctx;
	int64_t h;

	/* Timer-driven expiry can free holds whose earliest deadline
	 * changed; new holds may need an earlier wake-up. */
	h = state_hold_next_expiry(&s->st);
	if (h >= 0)
		loop_arm_timer(&s->loop, h);
	commit_turn_end(&s->commit, s->loop.stopping);
}

/* Watch the checkpoint child's pidfd: readable once the child ended. */
static void watch_ckpt_child(struct server *s)
{
	struct io_uring_sqe *sqe;

	if (s->ck.child_fd < 0 || s->ckpt_polling)
		return;
	sqe = loop_sqe(&s->loop);
	io_uring_prep_poll_add(sqe, s->ck.child_fd, POLLIN);
	io_uring_sqe_set_data(sqe, &s->ckpt_ev);
	s->ckpt_polling = true;
}

static void on_ckpt_child(void *owner, int res, unsigned flags)
{
	struct server *s = owner;
	char err[256];

	(void)res;
	(void)flags;
	s->ckpt_polling = false;
	if (checkpoint_child_done(&s->ck, s->wal, err, sizeof(err)) < 0)
		log_msg("checkpoint: %s", err);
	s->last_checkpoint_lsn = s->ck.lsn;
	watch_ckpt_child(s);
}

static void on_background(void *ctx)
{
	struct server *s = ctx;
	char err[256];

	/* Starts the child that writes the snapshot when one is due; its
	 * rename waits until the LSN it covers is durable, and then the log
	 * is trimmed. */
	if (checkpoint_tick(&s->ck, &s->st, s->wal, err, sizeof(err)) < 0)
		log_msg("checkpoint: %s", err);
	s->last_checkpoint_lsn = s->ck.lsn;
	watch_ckpt_child(s);
}

static bool on_settled(void *ctx)
{
	struct server *s = ctx;

	return commit_settled(&s->commit);
}

int server_run(struct server *s)
{
	int rc;

	int64_t t0 = mono_ms(), t1;

	s->started = true;
	publish_all(s);
	t1 = mono_ms();
	rc = pub_install(&s->pub);
	if (rc < 0) {
		log_msg("cannot install %s/pages: %s", s->cfg.data_dir,
			strerror(-rc));
		return BOOKD_EXIT_START;
	}
	log_msg("pages: published in %lld ms, installed in %lld ms (%s)",
		(long long)(t1 - t0), (long long)(mono_ms() - t1),
		pagesw_place(s->pub.pages) ? pagesw_place(s->pub.pages)
					   : "in the data directory");
	rc = loop_run(&s->loop);
	if (rc == BOOKD_EXIT_OK) {
		char err[256];
		if (checkpoint_now(&s->ck, &s->st, s->wal, err, sizeof(err)) <
		    0)
			log_msg("checkpoint at stop: %s", err);
	}
	return rc;
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
	struct loop_config lc = {
	    .socket_path = cfg->socket_path,
	    .max_conns = cfg->max_conns,
	    .admin_reserve = cfg->admin_reserve < cfg->max_conns
				 ? cfg->admin_reserve
				 : cfg->max_conns - 1,
	    .max_conns_per_uid = cfg->max_conns_per_uid
				     ? cfg->max_conns_per_uid
				     : (cfg->max_conns + 3) / 4,
	    .conn_out_max = cfg->conn_out_max,
	    .out_budget = cfg->out_budget,
	    .in_budget = cfg->in_budget,
	    .frame_timeout_ms = cfg->frame_timeout_ms,
	    .idle_timeout_ms = cfg->idle_timeout_ms,
	    .frames_per_turn = cfg->frames_per_turn,
	    .bytes_per_turn = cfg->bytes_per_turn,
	    .admin_gid = cfg->admin_gid,
	    .have_admin_gid = cfg->have_admin_gid,
	};
	struct loop_hooks lh = {s,	     on_frame,	    on_closing, on_tick,
				on_turn_end, on_background, on_settled};
	struct commit_hooks ch = {s, on_sealed, on_durable};
	char err[512];
	int64_t first, last;
	uint32_t window;
	int64_t t_start, t_snap, t_log;
	int rc;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->lockfd = s->dirfd = -1;
	s->loop.listen_fd = s->loop.signal_fd = -1;
	wbuf_packer_init(&s->pk, &s->rb);
	s->started_ms = now_ms();
	if (!msgpack_zone_init(&s->zone, ZONE_CHUNK)) {
		log_msg("out of memory");
		return BOOKD_EXIT_START;
	}
	s->zone_up = true;

	if (loop_raise_nofile(cfg->max_conns) < 0)
		return BOOKD_EXIT_START;
	if (mkdir(cfg->data_dir, 0750) < 0 && errno != EEXIST) {
		log_msg("cannot create %s: %s", cfg->data_dir, strerror(errno));
		return BOOKD_EXIT_START;
	}
	s->dirfd = open(cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		log_msg("cannot open %s: %s", cfg->data_dir, strerror(errno));
		return BOOKD_EXIT_START;
	}
	s->lockfd =
	    openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->lockfd < 0) {
		log_msg("cannot open %s/lock: %s", cfg->data_dir,
			strerror(errno));
		return BOOKD_EXIT_START;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		log_msg("%s is in use by another bookd (lock held)",
			cfg->data_dir);
		return BOOKD_EXIT_START;
	}
	if (load_auth_key(s) < 0)
		return BOOKD_EXIT_START;

	s->today = q_day_of(now_ms() / 1000);
	first = s->today - cfg->past_days;
	last = s->today + cfg->horizon_days;
	window = cfg->horizon_days + cfg->past_days + 2;
	if (state_init(&s->st, cfg->max_resources, first, last, window) < 0)
		return BOOKD_EXIT_START;
	s->st.hooks.held_changed = on_held_changed;
	s->st.hooks.ctx = s;

	/* The new pages file is prepared first: its memory is faulted in on
	 * another core during recovery, and readers keep the old file until
	 * the first publication is complete (server_run). */
	rc = pub_init(&s->pub, s->dirfd, cfg->pages_dir, cfg->max_resources,
		      window, first, last, &s->stats);
	if (rc < 0) {
		log_msg("cannot build %s/pages: %s", cfg->data_dir,
			strerror(-rc));
		return BOOKD_EXIT_START;
	}
	if (cfg->pages_dir && pagesw_place(s->pub.pages) == NULL)
		log_msg("cannot use --pages-dir %s: the pages are in %s, "
			"written back to its disk",
			cfg->pages_dir, cfg->data_dir);
	t_start = mono_ms();
	/* Everything recovered is durable: no deltas, committed at the end. */
	state_replay_begin(&s->st);
	rc = snapshot_load(s->dirfd, &s->st, &wo.after_lsn, err, sizeof(err));
	if (rc < 0) {
		log_msg("%s", err);
		return BOOKD_EXIT_START;
	}
	t_snap = mono_ms();
	rc = wal_open(&s->wal, s->dirfd, &wo, replay_rec, s, &scan, err,
		      sizeof(err));
	if (rc < 0) {
		log_msg("%s", err);
		return BOOKD_EXIT_START;
	}
	t_log = mono_ms();
	state_replay_end(&s->st);
	checkpoint_init(&s->ck, s->dirfd, cfg->checkpoint_bytes, cfg->archive,
			wo.after_lsn, scan.bytes);
	s->ck.foreground = cfg->checkpoint_foreground;
	s->ckpt_ev = (struct loop_ev){on_ckpt_child, s};
	s->last_checkpoint_lsn = wo.after_lsn;
	log_msg("recovered %" PRIu64 " log records (LSN %" PRIu64
		"): %u resources, %u bookings",
		scan.records, wal_last_lsn(s->wal), s->st.nres, s->st.nbk);
	log_msg("recovery took %lld ms: snapshot load %lld ms, log scan and "
		"replay %lld ms",
		(long long)(mono_ms() - t_start), (long long)(t_snap - t_start),
		(long long)(t_log - t_snap));

	pub_set_limits(&s->pub, cfg->max_subs_per_caller, cfg->max_subs);
	pub_events(&s->pub, last_durable_event(s, wal_durable_lsn(s->wal)));
	commit_init(&s->commit, &s->loop, s->wal, cfg->sync, &ch, &s->stats);
#ifdef BOOKD_TEST_HOOKS
	s->commit.fail_sync_at = cfg->fail_sync_at;
	s->commit.sync_delay_ms = cfg->sync_delay_ms;
	if (cfg->wal_max_payload)
		wal_set_max_payload(s->wal, cfg->wal_max_payload);
	s->ck.test_fail = cfg->ckpt_fail;
	s->ck.test_delay_ms = cfg->ckpt_delay_ms;
#endif
	rc = loop_init(&s->loop, &lc, &lh, &s->stats);
	if (rc != 0)
		return rc;
#ifdef BOOKD_TEST_HOOKS
	if (cfg->nofile) {
		/* Fewer descriptors than the connections need, so accept
		 * fails with EMFILE. */
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = cfg->nofile;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
#endif
	s->loop.durable_lsn = wal_durable_lsn(s->wal);
	pub_set_loop(&s->pub, &s->loop);
	if (cfg->sync == SYNC_OFF)
		log_msg("WARNING: --sync off: acknowledged bookings are NOT "
			"durable; for benchmarks only");
	return 0;
}

void server_free(struct server *s)
{
	checkpoint_free(&s->ck);
	loop_free(&s->loop);
	pub_free(&s->pub);
	wal_close(s->wal);
	for (unsigned i = 0; i < COMMIT_MAX_FLIGHT; i++)
		free(s->flight[i].v);
	free(s->defers);
	state_free(&s->st);
	wbuf_free(&s->rb);
	if (s->zone_up)
		msgpack_zone_destroy(&s->zone);
	s->zone_up = false;
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
}

uint64_t server_log_record(struct server *s, uint16_t type,
			   const struct wbuf *payload)
{
	return commit_append(&s->commit, type, payload->data,
			     (uint32_t)payload->len, now_ms());
}

int server_subscribe(struct server *s, struct conn *c, uint8_t topic,
		     uint32_t res, int64_t from_day, int64_t to_day,
		     uint64_t *id)
{
	return pub_subscribe(&s->pub, c, topic, res, from_day, to_day, id);
}

int server_unsubscribe(struct server *s, struct conn *c, uint64_t id)
{
	return pub_unsubscribe(&s->pub, c, id);
}
