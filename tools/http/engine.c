/*
 * engine.c - the gateway's side of the engine: one socket connection and
 * one shared-pages reader per thread, the visitor's "as" on every visitor
 * request, MessagePack <-> JSON, engine errors as problems, and instants as
 * ISO 8601 strings with their offsets.
 *
 * Owns: the thread-local connections (made on first use, dropped when the
 * library says they are broken, re-made by the next request), the per-thread
 * cache of resource zones (a few seconds old at most), and the start-up
 * probe that decides whether the engine understands "as".
 *
 * Invariants: a visitor's request never runs with the gateway's own rights.
 * With "as" it runs as public on the engine; an engine without "as" gets
 * visitor requests on a second connection dropped to public for good, and
 * the gateway's idempotency keys and hold sessions are per visitor anyway.
 *
 * How it fails: a transport error is BOOKD_E_UNAVAILABLE-like for the
 * request (503) and the connection is closed; read-only calls are retried
 * once on a fresh connection, writes never (their outcome is unknown).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "gw.h"
#include "tz.h"

bool gw_as_supported;
bool gw_engine_admin;

#define ZONE_CACHE   64
#define ZONE_TTL_NS  (3 * 1000000000LL)
#define CALL_TIMEOUT 10000

struct zone_entry {
	char id[64];
	char tz[65];
	bool active;
	int64_t at_ns;
};

struct thread_eng {
	bookd_conn *priv; /* the gateway's own rights; "as" rides on it */
	bookd_conn *pub;  /* dropped to public (only without "as") */
	bookd_reader *reader;
	bool reader_failed;
	struct zone_entry zones[ZONE_CACHE];
	unsigned zone_next;
};

static _Thread_local struct thread_eng *te;
static pthread_key_t te_key;
static pthread_once_t te_once = PTHREAD_ONCE_INIT;

static void te_free(void *p)
{
	struct thread_eng *t = p;

	if (t->priv)
		bookd_close(t->priv);
	if (t->pub)
		bookd_close(t->pub);
	if (t->reader)
		bookd_reader_close(t->reader);
	free(t);
}

static void te_key_make(void)
{
	(void)pthread_key_create(&te_key, te_free);
}

static struct thread_eng *eng(void)
{
	if (te == NULL) {
		pthread_once(&te_once, te_key_make);
		te = calloc(1, sizeof *te);
		if (te == NULL)
			return NULL;
		pthread_setspecific(te_key, te);
	}
	return te;
}

bookd_reader *gw_reader(void)
{
	struct thread_eng *t = eng();

	if (t == NULL)
		return NULL;
	if (t->reader == NULL &&
	    bookd_reader_open(gw_cfg.data, &t->reader) != 0)
		t->reader = NULL;
	return t->reader;
}

static bookd_conn *open_conn(bool public)
{
	struct bookd_hello_info info;
	bookd_conn *c;
	int err, rc;

	c = bookd_connect(gw_cfg.socket, &err);
	if (c == NULL)
		return NULL;
	bookd_set_timeout(c, CALL_TIMEOUT);
	if (gw_cfg.engine_token && !public) {
		rc = bookd_hello_token(c, "bookd-http", gw_cfg.engine_token,
				       &info);
		if (rc != 0) {
			fprintf(stderr,
				"bookd-http: engine token refused: %s\n",
				bookd_errmsg(c));
			bookd_close(c);
			return NULL;
		}
	}
	if (public && bookd_hello(c, "bookd-http", "public", &info) != 0) {
		bookd_close(c);
		return NULL;
	}
	return c;
}

/*
 * An idle request connection has nothing to read: it has no
 * subscriptions, so readable means the engine closed it (a restart) or
 * said why before closing.  Finding that out before sending makes a write
 * safe to send on a fresh connection instead of failing with an unknown
 * outcome.
 */
static bool gone(bookd_conn *c)
{
	struct pollfd pf = {.fd = bookd_fd(c), .events = POLLIN};

	return bookd_broken(c) || poll(&pf, 1, 0) != 0;
}

static bool read_only(const char *op)
{
	static const char *const ro[] = {
	    "ping",	      "stats",		 "resource.get",
	    "resource.list",  "schedule.get",	 "schedule.list",
	    "event_type.get", "event_type.list", "check",
	    "slots.day",      "slots.month",	 "slots.view",
	    "holds.day",      "booking.get",	 "booking.list",
	    "events"};
	for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++)
		if (strcmp(op, ro[i]) == 0)
			return true;
	return false;
}

/* Points *slotp at this thread's connection for visitor (the public one
 * when the engine cannot act for visitors) and makes it live: a dead one
 * closed, a missing one opened, acting for visitor unless public.  0,
 * BOOKD_E_NOMEM, BOOKD_E_UNAVAILABLE when the engine cannot be reached, or
 * the error of naming the visitor. */
static int ready(const char *visitor, bookd_conn ***slotp)
{
	struct thread_eng *t = eng();
	bool public = visitor && !gw_as_supported;
	bookd_conn **slot;

	if (t == NULL)
		return BOOKD_E_NOMEM;
	slot = *slotp = public ? &t->pub : &t->priv;
	if (*slot && gone(*slot)) {
		bookd_close(*slot);
		*slot = NULL;
	}
	if (*slot == NULL && (*slot = open_conn(public)) == NULL)
		return BOOKD_E_UNAVAILABLE;
	return public ? 0 : bookd_set_as(*slot, visitor);
}

int gw_call(const char *visitor, const char *op, const msgpack_sbuffer *args,
	    const msgpack_object **res, const msgpack_object **errobj)
{
	bookd_conn **slot;
	int rc = BOOKD_E_NOMEM, tries;

	*errobj = NULL;
	for (tries = 0; tries < 2; tries++) {
		if ((rc = ready(visitor, &slot)) != 0)
			return rc;
		rc = bookd_call(*slot, op, args ? args->data : NULL,
				args ? args->size : 0, res);
		if (rc == 0)
			return 0;
		if (!bookd_broken(*slot)) {
			*errobj = bookd_errobj(*slot);
			return rc;
		}
		bookd_close(*slot);
		*slot = NULL;
		if (!read_only(op))
			break;
	}
	return rc;
}

int gw_call_n(const char *visitor, size_t n, const char *const *ops,
	      const msgpack_sbuffer *const *args, gw_take_fn take, void *ctx)
{
	const msgpack_object *res;
	bookd_conn **slot;
	size_t sent, i;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		if ((rc = ready(visitor, &slot)) != 0)
			return rc;
		for (sent = 0; sent < n; sent++)
			if ((rc = bookd_send(
				 *slot, ops[sent],
				 args[sent] ? args[sent]->data : NULL,
				 args[sent] ? args[sent]->size : 0, NULL)) != 0)
				break;
		for (i = 0; i < sent && !bookd_broken(*slot); i++) {
			int r = bookd_recv(*slot, NULL, &res);
			if (bookd_broken(*slot))
				break;
			take(i, r, r == 0 ? res : NULL,
			     r == 0 ? NULL : bookd_errobj(*slot), ctx);
		}
		if (!bookd_broken(*slot) && sent == n)
			return 0;
		bookd_close(*slot);
		*slot = NULL;
		if (i > 0)
			/* Some replies were taken: do not repeat them. */
			return BOOKD_E_UNAVAILABLE;
		for (i = 0; i < n; i++)
			if (!read_only(ops[i]))
				return BOOKD_E_UNAVAILABLE;
	}
	return BOOKD_E_UNAVAILABLE;
}

int gw_engine_probe(void)
{
	struct bookd_hello_info info;
	bookd_conn *c;
	int err, rc;

	c = bookd_connect(gw_cfg.socket, &err);
	if (c == NULL) {
		fprintf(stderr, "bookd-http: cannot connect to %s: %s\n",
			gw_cfg.socket, bookd_strerror(err));
		return -1;
	}
	if (gw_cfg.engine_token)
		rc = bookd_hello_token(c, "bookd-http", gw_cfg.engine_token,
				       &info);
	else
		rc = bookd_hello(c, "bookd-http", NULL, &info);
	if (rc != 0) {
		fprintf(stderr, "bookd-http: hello: %s\n", bookd_errmsg(c));
		bookd_close(c);
		return -1;
	}
	gw_engine_admin = strcmp(info.role, "admin") == 0;
	bookd_set_as(c, "c-probe");
	rc = bookd_ping(c);
	gw_as_supported = rc == 0;
	if (rc != 0 && bookd_broken(c)) {
		fprintf(stderr, "bookd-http: ping: %s\n", bookd_errmsg(c));
		bookd_close(c);
		return -1;
	}
	if (!gw_as_supported)
		fprintf(stderr,
			"bookd-http: the engine does not take \"as\" (%s): "
			"visitor requests go on a public connection, and the "
			"engine's per-caller limits see the gateway as one "
			"caller\n",
			bookd_errmsg(c));
	bookd_close(c);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Errors. */

unsigned gw_status_of(int err)
{
	switch (err) {
	case BOOKD_E_BAD_REQUEST:
		return 400;
	case BOOKD_E_NOT_FOUND:
		return 404;
	case BOOKD_E_CONFLICT:
	case BOOKD_E_HELD:
	case BOOKD_E_EXISTS:
	case BOOKD_E_INVALID_STATE:
		return 409;
	case BOOKD_E_CLOSED:
	case BOOKD_E_INACTIVE:
	case BOOKD_E_OUT_OF_RANGE:
		return 422;
	case BOOKD_E_LIMIT:
		return 429;
	case BOOKD_E_UNAUTHENTICATED:
		return 401;
	case BOOKD_E_FORBIDDEN:
		return 403;
	case BOOKD_E_TOO_LARGE:
		return 413;
	case BOOKD_E_UNAVAILABLE:
	case BOOKD_E_IO:
	case BOOKD_E_CLOSED_CONN:
	case BOOKD_E_PROTO:
	case BOOKD_E_STALE:
		return 503;
	default:
		return 500;
	}
}

msgpack_object gw_nil(void)
{
	msgpack_object o;

	memset(&o, 0, sizeof o);
	o.type = MSGPACK_OBJECT_NIL;
	return o;
}

const msgpack_object *gw_get(const msgpack_object *map, const char *key)
{
	size_t n = strlen(key);

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    memcmp(k->via.str.ptr, key, n) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

static void obj_str(const msgpack_object *o, char *buf, size_t len)
{
	size_t n;

	buf[0] = 0;
	if (o == NULL || o->type != MSGPACK_OBJECT_STR || len == 0)
		return;
	n = o->via.str.size < len - 1 ? o->via.str.size : len - 1;
	memcpy(buf, o->via.str.ptr, n);
	buf[n] = 0;
}

enum MHD_Result gw_engine_problem(struct gw_req *q, int err,
				  const msgpack_object *errobj, bool public)
{
	char code[32], msg[512], field[64];
	const char *name = proto_err_name(err);
	unsigned status = gw_status_of(err);

	obj_str(gw_get(errobj, "code"), code, sizeof code);
	obj_str(gw_get(errobj, "message"), msg, sizeof msg);
	obj_str(gw_get(errobj, "field"), field, sizeof field);
	if (code[0] == 0)
		snprintf(code, sizeof code, "%s",
			 status == 503 ? "UNAVAILABLE" : name);
	if (errobj == NULL)
		snprintf(msg, sizeof msg, "%s",
			 status == 503 ? "the booking engine is not reachable; "
					 "try again in a moment"
				       : bookd_strerror(err));
	/* Public callers learn that a time is taken, never by what. */
	if (public && (err == BOOKD_E_CONFLICT || err == BOOKD_E_HELD)) {
		snprintf(msg, sizeof msg, "%s",
			 err == BOOKD_E_CONFLICT
			     ? "this time is already booked; choose another"
			     : "someone else is holding this time right now; "
			       "choose another or try again shortly");
		field[0] = 0;
	}
	if (err == BOOKD_E_LIMIT) {
		const msgpack_object *ra = gw_get(errobj, "retry_after_ms");
		uint64_t ms = 1000;
		char hdr[32];
		struct MHD_Response *r;
		json_t *p;
		char *text;

		if (ra && ra->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			ms = ra->via.u64;
		snprintf(hdr, sizeof hdr, "%" PRIu64, (ms + 999) / 1000);
		p = json_pack("{s:s,s:s,s:i,s:s,s:s}", "type", "about:blank",
			      "title", "Too Many Requests", "status", 429,
			      "code", code, "detail", msg);
		text = json_dumps(p, JSON_COMPACT);
		json_decref(p);
		if (text == NULL)
			return MHD_NO;
		r = MHD_create_response_from_buffer(strlen(text), text,
						    MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(r, "Content-Type",
					"application/problem+json");
		MHD_add_response_header(r, "Retry-After", hdr);
		return gw_queue(q, 429, r);
	}
	return gw_problem(q, status, code, msg, field[0] ? field : NULL);
}

/* ---------------------------------------------------------------------- */
/* Times. */

static void civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
	/* Howard Hinnant's days_from_civil, inverted. */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400) + (*m <= 2);
}

static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	unsigned yoe = (unsigned)(yy - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

void gw_iso(int64_t t, const char *tzname, char out[40])
{
	const struct tz *z = NULL;

	if (tzname && tz_get(tzname, &z) != 0)
		z = NULL;
	gw_iso_z(t, z, out);
}

static char *two(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* Hand-formatted: this runs twice per slot of every day view. */
void gw_iso_z(int64_t t, const struct tz *z, char out[40])
{
	gw_iso_off(t, z ? tz_offset_at(z, t) : 0, out);
}

void gw_iso_off(int64_t t, int64_t off, char out[40])
{
	int64_t local, days, sod;
	unsigned m, d;
	int y;
	char *p = out;

	local = t + off;
	days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	sod = local - days * 86400;
	civil(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		snprintf(out, 40, "%" PRId64, t);
		return;
	}
	p = two(p, (unsigned)y / 100);
	p = two(p, (unsigned)y % 100);
	*p++ = '-';
	p = two(p, m);
	*p++ = '-';
	p = two(p, d);
	*p++ = 'T';
	p = two(p, (unsigned)(sod / 3600));
	*p++ = ':';
	p = two(p, (unsigned)(sod / 60 % 60));
	*p++ = ':';
	p = two(p, (unsigned)(sod % 60));
	*p++ = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	p = two(p, (unsigned)(off / 3600));
	*p++ = ':';
	p = two(p, (unsigned)(off / 60 % 60));
	*p = 0;
}

void gw_set_time(json_t *obj, const char *key, int64_t t, const char *tz)
{
	char iso[40], k[80];

	gw_iso(t, tz, iso);
	json_object_set_new(obj, key, json_string(iso));
	snprintf(k, sizeof k, "%s_unix", key);
	json_object_set_new(obj, k, json_integer(t));
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int gw_parse_instant(const json_t *v, int64_t *out)
{
	const char *s;
	int y, mo, d, h, mi, sec = 0, oh = 0, om = 0;
	size_t n, i;
	int64_t off = 0;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = strlen(s);
	/* YYYY-MM-DDTHH:MM[:SS](Z|+HH:MM|-HH:MM) */
	if (n < 17 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi))
		return -1;
	i = 16;
	if (s[i] == ':') {
		if (n < 19 || digits(s + 17, 2, &sec))
			return -1;
		i = 19;
	}
	if (s[i] == 'Z' && i + 1 == n) {
		off = 0;
	} else if ((s[i] == '+' || s[i] == '-') && i + 6 == n &&
		   !digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
		   !digits(s + i + 4, 2, &om)) {
		off = (int64_t)oh * 3600 + om * 60;
		if (s[i] == '-')
			off = -off;
	} else {
		return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 59 || oh > 25 || om > 59)
		return -1;
	*out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	       h * 3600 + mi * 60 + sec - off;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* MessagePack to JSON. */

static bool is_instant_key(const char *k, size_t n)
{
	return (n == 5 && memcmp(k, "start", 5) == 0) ||
	       (n == 3 && memcmp(k, "end", 3) == 0);
}

static bool is_ms_key(const char *k, size_t n)
{
	return n > 3 && memcmp(k + n - 3, "_ms", 3) == 0 &&
	       !(n == 11 && memcmp(k, "hold_ttl_ms", 11) == 0) &&
	       !(n == 14 && memcmp(k, "retry_after_ms", 14) == 0);
}

static json_t *conv(const msgpack_object *o, const char *tz, int depth);

static json_t *conv_map(const msgpack_object *o, const char *tz, int depth)
{
	json_t *obj = json_object();
	char own_tz[65] = "";

	if (obj == NULL)
		return NULL;
	/* A booking's own zone shows its times. */
	obj_str(gw_get(o, "timezone"), own_tz, sizeof own_tz);
	if (own_tz[0] && gw_get(o, "booker") != NULL)
		tz = own_tz;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		char key[80];
		size_t n;

		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= 64)
			continue;
		n = k->via.str.size;
		memcpy(key, k->via.str.ptr, n);
		key[n] = 0;
		bool intv = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
		int64_t iv = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER
				 ? (int64_t)v->via.u64
				 : v->via.i64;
		if (intv && is_instant_key(key, n)) {
			gw_set_time(obj, key, iv, tz);
			continue;
		}
		json_object_set_new(obj, key, conv(v, tz, depth + 1));
		if (intv && is_ms_key(key, n)) {
			key[n - 3] = 0;
			gw_set_time(obj, key, iv / 1000, tz);
		}
	}
	return obj;
}

static json_t *conv(const msgpack_object *o, const char *tz, int depth)
{
	json_t *a;

	if (depth > 32)
		return json_null();
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return json_integer(
		    o->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer(o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR: {
		json_t *s = json_stringn(o->via.str.ptr, o->via.str.size);
		return s ? s : json_string("\xef\xbf\xbd");
	}
	case MSGPACK_OBJECT_ARRAY:
		a = json_array();
		for (uint32_t i = 0; a && i < o->via.array.size; i++)
			json_array_append_new(
			    a, conv(&o->via.array.ptr[i], tz, depth + 1));
		return a;
	case MSGPACK_OBJECT_MAP:
		return conv_map(o, tz, depth);
	default:
		return json_null();
	}
}

json_t *gw_to_json(const msgpack_object *o, const char *tz)
{
	return conv(o, tz, 0);
}

static void rezone(json_t *v, const char *tz, int depth)
{
	const char *k;
	json_t *x;
	size_t i;

	if (depth > 32)
		return;
	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++)
			rezone(json_array_get(v, i), tz, depth + 1);
		return;
	}
	if (!json_is_object(v))
		return;
	x = json_object_get(v, "timezone");
	if (json_is_string(x) && json_object_get(v, "booker"))
		tz = json_string_value(x);
	for (void *it = json_object_iter(v); it;
	     it = json_object_iter_next(v, it)) {
		k = json_object_iter_key(it);
		x = json_object_iter_value(it);
		size_t n = strlen(k);
		char base[64];
		json_t *u;

		if (json_is_object(x) || json_is_array(x)) {
			rezone(x, tz, depth + 1);
			continue;
		}
		if (n <= 5 || n >= sizeof base || strcmp(k + n - 5, "_unix"))
			continue;
		memcpy(base, k, n - 5);
		base[n - 5] = 0;
		u = json_object_get(v, base);
		if (json_is_string(u) && json_is_integer(x)) {
			char iso[40];
			gw_iso(json_integer_value(x), tz, iso);
			json_string_set(u, iso);
		}
	}
}

void gw_rezone(json_t *v, const char *tz)
{
	rezone(v, tz, 0);
}

int gw_pack_json(msgpack_packer *pk, const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	int rc = 0;

	switch (json_typeof(v)) {
	case JSON_NULL:
		return msgpack_pack_nil(pk);
	case JSON_TRUE:
		return msgpack_pack_true(pk);
	case JSON_FALSE:
		return msgpack_pack_false(pk);
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(v));
	case JSON_REAL:
		return msgpack_pack_double(pk, json_real_value(v));
	case JSON_STRING:
		return msgpack_pack_str_with_body(pk, json_string_value(v),
						  json_string_length(v));
	case JSON_ARRAY:
		rc = msgpack_pack_array(pk, json_array_size(v));
		for (i = 0; i < json_array_size(v); i++)
			rc |= gw_pack_json(pk, json_array_get(v, i));
		return rc;
	case JSON_OBJECT:
		rc = msgpack_pack_map(pk, json_object_size(v));
		for (void *it = json_object_iter((json_t *)v); it;
		     it = json_object_iter_next((json_t *)v, it)) {
			k = json_object_iter_key(it);
			x = json_object_iter_value(it);
			rc |= msgpack_pack_str_with_body(pk, k, strlen(k));
			rc |= gw_pack_json(pk, x);
		}
		return rc;
	}
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Resource zones. */

int gw_resource_zone(const char *id, char tz[65])
{
	struct thread_eng *t = eng();
	const msgpack_object *res, *eo;
	struct zone_entry *e = NULL;
	int64_t now = gw_now_ns();
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	if (t == NULL)
		return BOOKD_E_NOMEM;
	for (unsigned i = 0; i < ZONE_CACHE; i++)
		if (strcmp(t->zones[i].id, id) == 0) {
			e = &t->zones[i];
			break;
		}
	if (e && now - e->at_ns < ZONE_TTL_NS) {
		if (!e->active)
			return BOOKD_E_NOT_FOUND;
		memcpy(tz, e->tz, 65);
		return 0;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_str_with_body(&pk, id, strlen(id));
	rc = gw_call("c-zone", "resource.get", &sb, &res, &eo);
	msgpack_sbuffer_destroy(&sb);
	if (rc == BOOKD_E_NOT_FOUND) {
		if (e == NULL)
			return rc;
		e->active = false;
		e->at_ns = now;
		return rc;
	}
	if (rc != 0)
		return rc;
	if (e == NULL) {
		e = &t->zones[t->zone_next++ % ZONE_CACHE];
		snprintf(e->id, sizeof e->id, "%s", id);
	}
	obj_str(gw_get(res, "timezone"), e->tz, sizeof e->tz);
	if (e->tz[0] == 0)
		strcpy(e->tz, "UTC");
	e->active = true;
	e->at_ns = now;
	memcpy(tz, e->tz, 65);
	return 0;
}
