/*
 * main.c - bookd-notify: options, subcommands and the loop (see notify.h
 * for the parts and the delivery rule).
 *
 * The loop, once per turn:
 *   1. when the engine pushes on the `events` topic (subscribed at each
 *      connect), after a full page, or every poll interval (--poll-ms
 *      without pushes, at least FALLBACK_POLL_MS with them), ask for
 *      `stats` and `events {after: fetched}` in one pipelined round trip
 *      and take only events at or below stats.durable_lsn: an event the
 *      engine has not made durable could vanish in a crash, and its LSN be
 *      reused by another event;
 *   2. turn each event into jobs: one per active hook that wants its type,
 *      one email when it is one of the six kinds, a reminder when due later;
 *   3. start due jobs, at most PER_TARGET at once per endpoint, so a dead
 *      endpoint holds only its own; a fresh job that waits longer than
 *      SPILL_MS is written to the journal instead of holding the cursor;
 *   4. settle finished transfers: success, or the journal with the next
 *      attempt's time, or the dead letters when the retries are spent;
 *   5. fsync the journal, then move the cursor over every event whose jobs
 *      are all settled.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bookd.h"
#include "json.h"
#include "notify.h"
#include "wire.h"

#define PER_TARGET	 8
#define SPILL_MS	 2000
#define MAX_WINDOW	 20000 /* events fetched and not yet settled */
#define PAGE		 500
#define HOOKS_EVERY	 1000
#define STATUS_EVERY	 1000
#define MAX_HOOKS	 64
#define CACHE_ENTRIES	 256
#define FALLBACK_POLL_MS 500
#define TICK_MS		 200
#define CURSOR_EVERY_MS	 50

static const char *const ev_names[] = {
    "booking.created",	   "booking.confirmed", "booking.declined",
    "booking.cancelled",   "booking.completed", "booking.no_show",
    "booking.rescheduled",
};
#define NEV (sizeof(ev_names) / sizeof(ev_names[0]))

/* Deliveries to one destination: a hook, or the mail transport. */
struct tally {
	uint64_t attempts, failures, delivered;
	char last_error[128];
};

static void tally_add(struct tally *t, bool ok, const char *what)
{
	t->attempts++;
	if (ok) {
		t->delivered++;
	} else {
		t->failures++;
		snprintf(t->last_error, sizeof(t->last_error), "%s", what);
	}
}

struct hook_state {
	struct hook_cfg c;
	uint32_t mask; /* bit per ev_names index */
	struct tally t;
};

struct slot {
	uint64_t lsn;
	int64_t at_ms;
	int outstanding;
};

struct cache_ent {
	char key[80];
	char val[300];
	char tz[64];
	bool used;
};

struct app {
	struct cfg cfg;
	struct store *st;
	struct deliver *dv;
	bookd_conn *c;
	int64_t next_connect;
	struct hook_state hooks[MAX_HOOKS];
	int nhooks;
	bool hooks_known;
	int64_t hooks_at, status_at, poll_at, requeue_at;
	struct job **jobs;
	size_t njobs, capjobs;
	struct slot *slots;
	size_t shead, sn, scap; /* slots[shead .. sn) are unsettled */
	uint64_t fetched, durable, engine_lsn;
	bool more;	   /* the last page was full */
	bool subscribed;   /* to the engine's events pushes */
	uint64_t settled;  /* every event up to here is settled */
	int64_t cursor_at; /* when the cursor was last written */
	bool pushed;	   /* a push said there are new events */
	struct tally mail; /* delivered: sent */
	uint64_t mail_skipped, dead_total;
	struct cache_ent titles[CACHE_ENTRIES], res[CACHE_ENTRIES];
	int64_t scan_at;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void die(const char *what, int rc)
{
	notify_log("FATAL: %s: %s", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

/* ---- jobs ------------------------------------------------------------- */

static void add_job(struct app *a, struct job *j)
{
	if (a->njobs == a->capjobs) {
		size_t cap = a->capjobs ? a->capjobs * 2 : 256;
		struct job **v = reallocarray(a->jobs, cap, sizeof(*v));
		if (v == NULL)
			die("jobs", ENOMEM);
		a->jobs = v;
		a->capjobs = cap;
	}
	a->jobs[a->njobs++] = j;
	a->scan_at = 0;
}

static struct job *find_job(struct app *a, const char *key)
{
	for (size_t i = 0; i < a->njobs; i++)
		if (strcmp(a->jobs[i]->key, key) == 0)
			return a->jobs[i];
	return NULL;
}

static void remove_job(struct app *a, struct job *j)
{
	for (size_t i = 0; i < a->njobs; i++)
		if (a->jobs[i] == j) {
			a->jobs[i] = a->jobs[--a->njobs];
			break;
		}
	job_free(j);
}

static struct slot *slot_of(struct app *a, uint64_t lsn)
{
	size_t lo = a->shead, hi = a->sn;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->slots[mid].lsn < lsn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < a->sn && a->slots[lo].lsn == lsn ? &a->slots[lo] : NULL;
}

/* A fresh job stops holding its event back. */
static void release_slot(struct app *a, struct job *j)
{
	if (j->slot) {
		struct slot *s = slot_of(a, j->slot);
		if (s)
			s->outstanding--;
		j->slot = 0;
	}
}

static struct hook_state *hook_by_id(struct app *a, const char *id)
{
	for (int i = 0; i < a->nhooks; i++)
		if (strcmp(a->hooks[i].c.id, id) == 0)
			return &a->hooks[i];
	return NULL;
}

/* Exponential backoff with jitter: base * 2^(attempt-1), at most 6 h,
 * times a random factor in [0.75, 1.25]. */
static int64_t backoff_ms(const struct cfg *c, uint32_t attempt)
{
	int64_t d = c->retry_base_ms;
	for (uint32_t i = 1; i < attempt && d < 6 * 3600 * 1000LL; i++)
		d *= 2;
	if (d > 6 * 3600 * 1000LL)
		d = 6 * 3600 * 1000LL;
	return d * (750 + (int64_t)arc4random_uniform(501)) / 1000;
}

/* Give up on j: keep it in the dead letters for an admin. */
static void dead_letter(struct app *a, struct job *j, const char *why)
{
	notify_log("dead letter %s after %" PRIu32 " attempts: %s", j->key,
		   j->attempts, why);
	if (j->err == NULL || strcmp(j->err, why) != 0) {
		free(j->err);
		j->err = strdup(why);
	}
	store_dead(a->st, j);
	if (j->journaled)
		store_done(a->st, j->key);
	a->dead_total++;
	release_slot(a, j);
	remove_job(a, j);
}

static void on_done(void *ctx, struct job *j, bool ok, const char *what,
		    long ms)
{
	struct app *a = ctx;
	struct hook_state *h =
	    j->kind == JOB_HOOK ? hook_by_id(a, j->target) : NULL;
	int64_t now = wall_ms();

	notify_log("%s %s %s %s attempt %" PRIu32 ": %s %s (%ld ms)",
		   j->kind == JOB_HOOK ? "webhook" : "email", j->target,
		   j->msgid, j->label, j->attempts, ok ? "ok" : "failed", what,
		   ms);
	if (h)
		tally_add(&h->t, ok, what);
	else if (j->kind != JOB_HOOK)
		tally_add(&a->mail, ok, what);
	if (ok) {
		if (j->kind == JOB_REMIND) {
			/* Remembered until a day past the booking's start. */
			int64_t start = 0;
			const char *c = strrchr(j->key, ':');
			if (c)
				start = strtoll(c + 1, NULL, 10);
			store_sent(a->st, j->key,
				   (start > 0 ? start * 1000 : now) +
				       86400 * 1000LL);
		}
		if (j->journaled)
			store_done(a->st, j->key);
		release_slot(a, j);
		remove_job(a, j);
		return;
	}
	free(j->err);
	j->err = strdup(what);
	int64_t wait = backoff_ms(&a->cfg, j->attempts);
	if (now + wait - j->first_ms > a->cfg.retry_total_s * 1000) {
		dead_letter(a, j, what);
		return;
	}
	if (!j->journaled && a->njobs > NOTIFY_MAX_JOBS) {
		dead_letter(a, j, "the retry queue is full");
		return;
	}
	j->next_ms = now + wait;
	store_put(a->st, j);
	j->journaled = true;
	release_slot(a, j);
	a->scan_at = 0;
}

/* ---- engine calls ----------------------------------------------------- */

static void disconnect(struct app *a, const char *why)
{
	if (a->c) {
		notify_log("engine connection lost (%s); reconnecting", why);
		bookd_close(a->c);
		a->c = NULL;
	}
	a->next_connect = wall_ms() + 500;
}

/* Ask for the engine's events pushes; an engine without the topic
 * refuses, and the feed is then polled every --poll-ms. */
static bool subscribe_events(struct app *a)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	wire_pk_kstr(&pk, "topic", "events");
	rc = bookd_call(a->c, "subscribe", sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
	return rc == 0;
}

/* Take every push that has arrived; note whether any says "events". */
static void drain_pushes(struct app *a)
{
	struct bookd_push p;
	int rc;

	while (a->c && (rc = bookd_next_push(a->c, &p, 0)) != 0) {
		if (rc < 0) {
			disconnect(a, bookd_strerror(rc));
			return;
		}
		if (strcmp(p.kind, "events") == 0 ||
		    strcmp(p.kind, "overflow") == 0)
			a->pushed = true;
	}
}

static bool connect_engine(struct app *a)
{
	struct bookd_hello_info info;
	int err = 0, rc;

	if (a->c)
		return true;
	if (wall_ms() < a->next_connect)
		return false;
	a->c = bookd_connect(a->cfg.socket, &err);
	if (a->c == NULL) {
		a->next_connect = wall_ms() + 500;
		return false;
	}
	bookd_set_timeout(a->c, 10000);
	rc = a->cfg.token
		 ? bookd_hello_token(a->c, "bookd-notify", a->cfg.token, &info)
		 : bookd_hello(a->c, "bookd-notify", NULL, &info);
	if (rc < 0) {
		notify_log("hello: %s", bookd_errmsg(a->c));
		disconnect(a, "hello failed");
		return false;
	}
	if (strcmp(info.role, "admin") != 0) {
		notify_log("FATAL: the engine gives this process the %s role; "
			   "run it as the engine's user or pass --token-file "
			   "with an admin token",
			   info.role);
		exit(1);
	}
	a->subscribed = subscribe_events(a);
	notify_log("connected to %s (%s)",
		   a->cfg.socket ? a->cfg.socket : "the engine",
		   a->subscribed ? "events pushes, polling as a fallback"
				 : "no events pushes: polling");
	a->hooks_at = 0;
	a->pushed = true;
	return true;
}

static int call(struct app *a, const char *op, msgpack_sbuffer *sb,
		const msgpack_object **res)
{
	int rc;

	if (!connect_engine(a))
		return BOOKD_E_IO;
	rc = bookd_call(a->c, op, sb ? sb->data : NULL, sb ? sb->size : 0, res);
	if (rc < 0 && bookd_broken(a->c))
		disconnect(a, bookd_strerror(rc));
	return rc;
}

static const char *ostr(const msgpack_object *m, const char *k, char *buf,
			size_t n)
{
	const msgpack_object *v = wire_get(m, k);
	buf[0] = 0;
	if (v && v->type == MSGPACK_OBJECT_STR)
		snprintf(buf, n, "%.*s", (int)v->via.str.size, v->via.str.ptr);
	return buf;
}

static void refresh_hooks(struct app *a)
{
	const msgpack_object *r, *list;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	wire_pk_str(&pk, "secrets");
	msgpack_pack_true(&pk);
	rc = call(a, "hook.list", &sb, &r);
	msgpack_sbuffer_destroy(&sb);
	if (rc < 0)
		return;
	list = wire_get(r, "hooks");
	if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY)
		return;
	struct hook_state old[MAX_HOOKS];
	int nold = a->nhooks;
	memcpy(old, a->hooks, sizeof(old));
	a->nhooks = 0;
	for (uint32_t i = 0; i < list->via.array.size && i < MAX_HOOKS; i++) {
		const msgpack_object *h = &list->via.array.ptr[i];
		const msgpack_object *ev = wire_get(h, "events");
		const msgpack_object *act = wire_get(h, "active");
		struct hook_state *s = &a->hooks[a->nhooks];

		memset(s, 0, sizeof(*s));
		ostr(h, "id", s->c.id, sizeof(s->c.id));
		ostr(h, "url", s->c.url, sizeof(s->c.url));
		ostr(h, "secret", s->c.secret, sizeof(s->c.secret));
		s->c.active = act && act->type == MSGPACK_OBJECT_BOOLEAN &&
			      act->via.boolean;
		for (uint32_t k = 0; ev && ev->type == MSGPACK_OBJECT_ARRAY &&
				     k < ev->via.array.size;
		     k++) {
			if (wire_str_eq(&ev->via.array.ptr[k], "*"))
				s->mask = ~0u;
			for (size_t e = 0; e < NEV; e++)
				if (wire_str_eq(&ev->via.array.ptr[k],
						ev_names[e]))
					s->mask |= 1u << e;
		}
		for (int k = 0; k < nold; k++)
			if (strcmp(old[k].c.id, s->c.id) == 0) {
				s->t = old[k].t;
			}
		a->nhooks++;
	}
	a->hooks_known = true;
}

/* A cached lookup: an event type's title, or a resource's name and zone. */
static const struct cache_ent *lookup(struct app *a, bool title, const char *id)
{
	struct cache_ent *tab = title ? a->titles : a->res;
	uint32_t h = 5381;
	const msgpack_object *r;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct cache_ent *e;

	for (const char *p = id; *p; p++)
		h = h * 33 + (unsigned char)*p;
	e = &tab[h % CACHE_ENTRIES];
	if (e->used && strcmp(e->key, id) == 0)
		return e;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	wire_pk_kstr(&pk, "id", id);
	if (call(a, title ? "event_type.get" : "resource.get", &sb, &r) < 0) {
		msgpack_sbuffer_destroy(&sb);
		return NULL;
	}
	msgpack_sbuffer_destroy(&sb);
	memset(e, 0, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", id);
	ostr(r, title ? "title" : "name", e->val, sizeof(e->val));
	if (!title)
		ostr(r, "timezone", e->tz, sizeof(e->tz));
	if (e->val[0] == 0)
		snprintf(e->val, sizeof(e->val), "%s", id);
	e->used = true;
	return e;
}

/* ---- events to jobs --------------------------------------------------- */

/* "a, b, c", cut at the buffer's end. */
static void append_name(char *buf, size_t cap, size_t i, const char *name)
{
	size_t n = strlen(buf);

	if (i && n + 2 < cap) {
		memcpy(buf + n, ", ", 3);
		n += 2;
	}
	while (*name && n + 1 < cap)
		buf[n++] = *name++;
	buf[n] = 0;
}

static int ev_index(const char *type)
{
	for (size_t e = 0; e < NEV; e++)
		if (strcmp(type, ev_names[e]) == 0)
			return (int)e;
	return -1;
}

struct event {
	uint64_t lsn;
	int64_t at_ms;
	int type;   /* ev_names index */
	char *body; /* the webhook body */
	size_t blen;
	struct bookd_booking b;
	bool have_booking;
};

static void iso_ms(int64_t ms, char out[48])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* {type, timestamp, data: the booking without its ref}. */
static char *webhook_body(const char *type, int64_t at_ms,
			  const msgpack_object *b, size_t *len)
{
	char *buf = NULL, ts[48];
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	msgpack_object copy = *b;
	msgpack_object_kv kv[64];
	uint32_t k = 0;

	if (f == NULL)
		die("memory", ENOMEM);
	if (b->type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < b->via.map.size && k < 64; i++)
			if (!wire_str_eq(&b->via.map.ptr[i].key, "ref"))
				kv[k++] = b->via.map.ptr[i];
		copy.via.map.ptr = kv;
		copy.via.map.size = k;
	}
	iso_ms(at_ms, ts);
	fputs("{\"type\":", f);
	json_print_str(f, type, strlen(type));
	fprintf(f, ",\"timestamp\":\"%s\",\"data\":", ts);
	json_print(f, &copy);
	fputs("}", f);
	fclose(f);
	*len = n;
	return buf;
}

/* The history entry an event recorded: the one of its kind nearest in
 * time (the feed carries the booking as it is now). */
static const struct bookd_history *entry_of(const struct event *e)
{
	const struct bookd_history *best = NULL;
	int64_t bestd = INT64_MAX;
	static const char *const to[] = {NULL,	      "confirmed", "declined",
					 "cancelled", "completed", "no_show",
					 NULL};

	for (size_t i = 0; i < e->b.nhistory; i++) {
		const struct bookd_history *h = &e->b.history[i];
		bool match;
		if (e->type == 0)
			match = h->from[0] == 0;
		else if (e->type == 6)
			match =
			    strncmp(h->reason, "rescheduled from ", 17) == 0;
		else
			match = strcmp(h->to, to[e->type]) == 0 &&
				strncmp(h->reason, "rescheduled from ", 17);
		if (!match)
			continue;
		int64_t d = h->at_ms - e->at_ms;
		if (d < 0)
			d = -d;
		if (d < bestd) {
			bestd = d;
			best = h;
		}
	}
	return best;
}

/* "2026-12-01T10:00Z" */
static bool parse_instant(const char *s, int64_t *t)
{
	int y, mo, d, h, mi;
	char z;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d%c", &y, &mo, &d, &h, &mi, &z) != 6 ||
	    z != 'Z')
		return false;
	/* days from civil (Howard Hinnant) */
	y -= mo <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*t = (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60;
	return true;
}

static void mail_for(struct app *a, const struct event *e)
{
	const struct bookd_booking *b = &e->b;
	const struct bookd_history *h = entry_of(e);
	struct mail_in in;
	struct mail_out m;
	char resources[300] = "", key[NOTIFY_KEY_MAX];
	const char *tz = b->timezone;
	struct job *j;
	int kind;

	switch (e->type) {
	case 0:
		kind = h && strcmp(h->to, "pending") == 0 ? MAIL_RECEIVED
							  : MAIL_CONFIRMED;
		break;
	case 1:
		kind = MAIL_APPROVED;
		break;
	case 2:
		kind = MAIL_DECLINED;
		break;
	case 3:
		kind = MAIL_CANCELLED;
		break;
	case 6:
		kind = MAIL_RESCHEDULED;
		break;
	default:
		return;
	}
	if (b->email[0] == 0)
		return;
	if (!mail_addr_ok(b->email)) {
		notify_log("email for booking %" PRIu64 " not sent: the "
			   "booker's address is not usable",
			   b->id);
		return;
	}
	if (a->cfg.smtp == NULL && a->cfg.email_api == NULL) {
		a->mail_skipped++;
		notify_log("email %s for booking %" PRIu64 " (lsn %" PRIu64
			   ") skipped: no --smtp or --email-api",
			   mail_kind_names[kind], b->id, e->lsn);
		return;
	}
	memset(&in, 0, sizeof(in));
	in.kind = (enum mail_kind)kind;
	in.lsn = e->lsn;
	in.id = b->id;
	in.ref = b->ref;
	in.name = b->name;
	in.email = b->email;
	in.start = b->start;
	in.end = b->end;
	in.reason = h ? h->reason : "";
	in.sequence = (uint32_t)b->nhistory;
	in.stamp_ms = e->at_ms;
	for (size_t i = 0; i < b->nitems; i++) {
		const struct cache_ent *r =
		    lookup(a, false, b->items[i].resource);
		append_name(resources, sizeof(resources), i,
			    r ? r->val : b->items[i].resource);
		if ((tz == NULL || tz[0] == 0) && r && r->tz[0])
			tz = r->tz;
	}
	in.resources = resources;
	in.tz = tz;
	if (b->event_type[0]) {
		const struct cache_ent *t = lookup(a, true, b->event_type);
		in.title = t ? t->val : b->event_type;
	} else {
		in.title = resources;
	}
	if (kind == MAIL_RESCHEDULED && h) {
		/* "rescheduled from <old start>Z to <new start>Z": the new
		 * span's length is the booking's when this is its latest
		 * move; the old span's length is not recorded, so it is taken
		 * to be the same (a reschedule keeps the length unless it is
		 * the latest one). */
		const char *to = strstr(h->reason, " to ");
		int64_t os = 0, ns = 0, len = b->end - b->start;
		if (parse_instant(h->reason + 17, &os) && to &&
		    parse_instant(to + 4, &ns)) {
			in.old_start = os;
			in.old_end = os + len;
			in.start = ns;
			in.end = ns + len;
		}
	}
	if (mail_compose(&a->cfg, &in, &m) < 0)
		return;
	snprintf(key, sizeof(key), "M:%" PRIu64, e->lsn);
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		die("memory", ENOMEM);
	snprintf(j->key, sizeof(j->key), "%s", key);
	j->kind = JOB_MAIL;
	snprintf(j->target, sizeof(j->target), "%s", b->email);
	snprintf(j->msgid, sizeof(j->msgid), "%s", m.msgid);
	snprintf(j->label, sizeof(j->label), "%s", mail_kind_names[kind]);
	j->lsn = e->lsn;
	j->api = a->cfg.email_api != NULL;
	j->payload = j->api ? mail_api_json(&a->cfg, &in, &m, &j->plen)
			    : mail_mime(&a->cfg, &in, &m, &j->plen);
	mail_out_free(&m);
	j->slot = e->lsn;
	add_job(a, j);
	slot_of(a, e->lsn)->outstanding++;
}

static void reminder_for(struct app *a, const struct event *e)
{
	const struct bookd_booking *b = &e->b;
	char key[NOTIFY_KEY_MAX];
	int64_t due = (b->start - a->cfg.reminder_lead_s) * 1000;
	struct job *j;

	if (a->cfg.reminder_lead_s <= 0 ||
	    (e->type != 0 && e->type != 1 && e->type != 6))
		return;
	/* Not for a booking already started (a replayed old event). */
	if (strcmp(b->status, "confirmed") != 0 || due <= e->at_ms ||
	    b->start * 1000 <= wall_ms() || b->email[0] == 0 ||
	    (a->cfg.smtp == NULL && !a->cfg.email_api))
		return;
	snprintf(key, sizeof(key), "R:%" PRIu64 ":%" PRId64, b->id, b->start);
	if (store_was_sent(a->st, key) || find_job(a, key))
		return;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		die("memory", ENOMEM);
	snprintf(j->key, sizeof(j->key), "%s", key);
	j->kind = JOB_REMIND;
	snprintf(j->target, sizeof(j->target), "%s", b->email);
	snprintf(j->label, sizeof(j->label), "reminder");
	j->next_ms = due;
	j->first_ms = due;
	j->payload = strdup(key);
	j->plen = strlen(key);
	store_put(a->st, j);
	j->journaled = true;
	add_job(a, j);
}

static void jobs_for(struct app *a, struct event *e)
{
	char msgid[64];

	snprintf(msgid, sizeof(msgid), "evt_%" PRIu64, e->lsn);
	for (int i = 0; i < a->nhooks; i++) {
		struct hook_state *h = &a->hooks[i];
		struct job *j;
		if (!h->c.active || !(h->mask & (1u << e->type)))
			continue;
		j = calloc(1, sizeof(*j));
		if (j == NULL)
			die("memory", ENOMEM);
		snprintf(j->key, sizeof(j->key), "H:%s:%" PRIu64, h->c.id,
			 e->lsn);
		j->kind = JOB_HOOK;
		snprintf(j->target, sizeof(j->target), "%s", h->c.id);
		snprintf(j->msgid, sizeof(j->msgid), "%s", msgid);
		snprintf(j->label, sizeof(j->label), "%s", ev_names[e->type]);
		j->lsn = e->lsn;
		j->payload = malloc(e->blen + 1);
		if (j->payload == NULL)
			die("memory", ENOMEM);
		memcpy(j->payload, e->body, e->blen);
		j->payload[e->blen] = 0;
		j->plen = e->blen;
		j->slot = e->lsn;
		add_job(a, j);
		slot_of(a, e->lsn)->outstanding++;
	}
	if (e->have_booking) {
		mail_for(a, e);
		reminder_for(a, e);
	}
}

static void push_slot(struct app *a, uint64_t lsn, int64_t at_ms)
{
	if (a->shead > 0 && a->shead == a->sn) {
		a->shead = a->sn = 0;
	} else if (a->sn == a->scap && a->shead > a->scap / 2) {
		memmove(a->slots, a->slots + a->shead,
			(a->sn - a->shead) * sizeof(*a->slots));
		a->sn -= a->shead;
		a->shead = 0;
	}
	if (a->sn == a->scap) {
		size_t cap = a->scap ? a->scap * 2 : 1024;
		struct slot *v = reallocarray(a->slots, cap, sizeof(*v));
		if (v == NULL)
			die("slots", ENOMEM);
		a->slots = v;
		a->scap = cap;
	}
	a->slots[a->sn++] = (struct slot){lsn, at_ms, 0};
}

/* One pipelined round trip: stats (durable LSN), then a page of events. */
static void poll_feed(struct app *a)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const msgpack_object *r, *list;
	struct event ev[PAGE];
	size_t nev = 0;
	int rc;

	if (!connect_engine(a) || a->sn - a->shead >= MAX_WINDOW)
		return;
	if (!a->hooks_known)
		return;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pk_kint(&pk, "after", (int64_t)a->fetched);
	wire_pk_kint(&pk, "limit", PAGE);
	rc = bookd_send(a->c, "stats", NULL, 0, NULL);
	if (rc == 0)
		rc = bookd_send(a->c, "events", sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
	if (rc == 0)
		rc = bookd_recv(a->c, NULL, &r);
	if (rc == 0) {
		int64_t d = 0, l = 0;
		wire_int(wire_get(r, "durable_lsn"), &d);
		wire_int(wire_get(r, "lsn"), &l);
		a->durable = (uint64_t)d;
		a->engine_lsn = (uint64_t)l;
		rc = bookd_recv(a->c, NULL, &r);
	} else if (bookd_pending(a->c)) {
		bookd_recv(a->c, NULL, NULL);
	}
	if (rc < 0) {
		if (bookd_broken(a->c))
			disconnect(a, bookd_strerror(rc));
		else
			notify_log("events: %s", bookd_errmsg(a->c));
		return;
	}
	list = wire_get(r, "events");
	a->more = false;
	for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY &&
			     i < list->via.array.size && nev < PAGE;
	     i++) {
		const msgpack_object *o = &list->via.array.ptr[i];
		int64_t lsn = 0, at = 0;
		char type[32];
		struct event *e = &ev[nev];

		if (!wire_int(wire_get(o, "lsn"), &lsn) || lsn <= 0 ||
		    (uint64_t)lsn <= a->fetched)
			continue;
		if ((uint64_t)lsn > a->durable)
			break; /* not durable yet: next time */
		wire_int(wire_get(o, "at_ms"), &at);
		memset(e, 0, sizeof(*e));
		e->lsn = (uint64_t)lsn;
		e->at_ms = at;
		e->type = ev_index(ostr(o, "type", type, sizeof(type)));
		if (e->type >= 0) {
			const msgpack_object *b = wire_get(o, "booking");
			e->body = webhook_body(type, at, b, &e->blen);
			e->have_booking =
			    bookd_booking_from_object(b, &e->b) == 0;
		}
		nev++;
		if (i + 1 == list->via.array.size && nev == PAGE)
			a->more = true;
	}
	for (size_t i = 0; i < nev; i++) {
		struct event *e = &ev[i];
		push_slot(a, e->lsn, e->at_ms);
		if (e->type >= 0)
			jobs_for(a, e);
		a->fetched = e->lsn;
		free(e->body);
		if (e->have_booking)
			bookd_booking_free(&e->b);
	}
}

/* ---- starting jobs ---------------------------------------------------- */

static void compose_reminder(struct app *a, struct job *j)
{
	uint64_t id = 0;
	int64_t start = 0;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const msgpack_object *r;
	struct bookd_booking b;
	struct event e;
	struct mail_in in;
	struct mail_out m;
	char resources[300] = "";
	const char *tz;
	int rc;

	if (sscanf(j->key, "R:%" SCNu64 ":%" SCNd64, &id, &start) != 2) {
		store_done(a->st, j->key);
		remove_job(a, j);
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	wire_pk_kint(&pk, "id", (int64_t)id);
	rc = call(a, "booking.get", &sb, &r);
	msgpack_sbuffer_destroy(&sb);
	if (rc < 0 && rc != BOOKD_E_NOT_FOUND) {
		j->next_ms = wall_ms() + 5000; /* the engine is away */
		return;
	}
	if (rc < 0 || bookd_booking_from_object(r, &b) < 0) {
		store_done(a->st, j->key);
		remove_job(a, j);
		return;
	}
	if (strcmp(b.status, "confirmed") != 0 || b.start != start ||
	    start * 1000 <= wall_ms()) {
		notify_log("reminder %s dropped: the booking is %s%s", j->key,
			   b.status, b.start != start ? " and moved" : "");
		bookd_booking_free(&b);
		store_done(a->st, j->key);
		remove_job(a, j);
		return;
	}
	memset(&e, 0, sizeof(e));
	memset(&in, 0, sizeof(in));
	in.kind = MAIL_REMINDER;
	in.id = b.id;
	in.ref = b.ref;
	in.name = b.name;
	in.email = b.email;
	in.start = b.start;
	in.end = b.end;
	in.stamp_ms = wall_ms();
	in.sequence = (uint32_t)b.nhistory;
	tz = b.timezone;
	for (size_t i = 0; i < b.nitems; i++) {
		const struct cache_ent *c =
		    lookup(a, false, b.items[i].resource);
		append_name(resources, sizeof(resources), i,
			    c ? c->val : b.items[i].resource);
		if ((tz == NULL || tz[0] == 0) && c && c->tz[0])
			tz = c->tz;
	}
	in.resources = resources;
	in.tz = tz;
	in.title = resources;
	if (b.event_type[0]) {
		const struct cache_ent *t = lookup(a, true, b.event_type);
		if (t)
			in.title = t->val;
	}
	if (mail_compose(&a->cfg, &in, &m) < 0) {
		bookd_booking_free(&b);
		store_done(a->st, j->key);
		remove_job(a, j);
		return;
	}
	free(j->payload);
	j->api = a->cfg.email_api != NULL;
	j->payload = j->api ? mail_api_json(&a->cfg, &in, &m, &j->plen)
			    : mail_mime(&a->cfg, &in, &m, &j->plen);
	snprintf(j->msgid, sizeof(j->msgid), "%s", m.msgid);
	snprintf(j->label, sizeof(j->label), "reminder+");
	mail_out_free(&m);
	bookd_booking_free(&b);
}

static void start_jobs(struct app *a)
{
	int64_t now = wall_ms(), next = INT64_MAX;

	if (now < a->scan_at)
		return;
	for (size_t i = 0; i < a->njobs; i++) {
		struct job *j = a->jobs[i];
		char target[NOTIFY_TARGET_MAX];
		struct hook_state *h = NULL;
		int rc;

		if (j->running)
			continue;
		if (j->next_ms > now) {
			if (j->next_ms < next)
				next = j->next_ms;
			continue;
		}
		if (j->kind == JOB_HOOK) {
			h = hook_by_id(a, j->target);
			if (h == NULL || !h->c.active) {
				/* The hook went away: nothing to deliver. */
				if (j->journaled)
					store_done(a->st, j->key);
				release_slot(a, j);
				remove_job(a, j);
				i--;
				continue;
			}
		}
		snprintf(target, sizeof(target), "%s",
			 j->kind == JOB_HOOK ? j->target : "mail");
		if (deliver_running(a->dv, target) >=
		    (j->kind == JOB_HOOK ? PER_TARGET : 2 * PER_TARGET)) {
			/* Saturated endpoint: a fresh job waiting too long
			 * goes to the journal so the cursor can move. */
			if (!j->journaled && j->first_ms == 0)
				j->first_ms = now;
			if (!j->journaled && now - j->first_ms > SPILL_MS &&
			    a->njobs > NOTIFY_MAX_JOBS) {
				dead_letter(a, j, "the retry queue is full");
				i--;
				continue;
			}
			if (!j->journaled && now - j->first_ms > SPILL_MS) {
				store_put(a->st, j);
				j->journaled = true;
				release_slot(a, j);
			}
			if (now + 50 < next)
				next = now + 50;
			continue;
		}
		if (j->kind == JOB_REMIND &&
		    strcmp(j->label, "reminder") == 0) {
			size_t before = a->njobs;
			compose_reminder(a, j);
			if (a->njobs < before) {
				i--;
				continue;
			}
			if (j->next_ms > now)
				continue;
		}
		if (j->first_ms == 0)
			j->first_ms = now;
		j->attempts++;
		rc = j->kind == JOB_HOOK ? deliver_hook(a->dv, j, &h->c, now)
					 : deliver_mail(a->dv, j);
		if (rc < 0) {
			j->running = false;
			on_done(a, j, false, "could not start the transfer", 0);
			i = (size_t)-1; /* the array changed: rescan */
			continue;
		}
	}
	a->scan_at = next == INT64_MAX ? now + 1000 : next;
}

/* ---- cursor and status ------------------------------------------------ */

/* Move the cursor over settled events.  It is written at most every
 * CURSOR_EVERY_MS (two fsyncs each time), or at once when forced: a
 * cursor that lags only repeats deliveries after a crash. */
static void advance(struct app *a, bool force)
{
	uint64_t to = a->settled;
	int64_t now = wall_ms();
	int rc;

	while (a->shead < a->sn && a->slots[a->shead].outstanding <= 0)
		to = a->slots[a->shead++].lsn;
	a->settled = to;
	if (to == store_cursor(a->st) ||
	    (!force && now - a->cursor_at < CURSOR_EVERY_MS))
		return;
	a->cursor_at = now;
	rc = store_set_cursor(a->st, to);
	if (rc < 0)
		die("writing the cursor", rc);
}

static void write_status(struct app *a)
{
	char *buf = NULL;
	size_t n = 0, queued = 0;
	FILE *f = open_memstream(&buf, &n);
	int64_t now = wall_ms();

	if (f == NULL)
		return;
	for (size_t i = 0; i < a->njobs; i++)
		queued += a->jobs[i]->journaled;
	fprintf(f,
		"{\"pid\":%d,\"updated_ms\":%" PRId64 ",\"cursor\":%" PRIu64
		",\"fetched\":%" PRIu64 ",\"engine_durable_lsn\":%" PRIu64
		",\"connected\":%s,\"unsettled_events\":%zu,"
		"\"oldest_unsettled_ms\":%" PRId64 ",\"jobs\":%zu,"
		"\"retry_queue\":%zu,\"dead_letters\":%zu,",
		(int)getpid(), now, store_cursor(a->st), a->fetched, a->durable,
		a->c ? "true" : "false", a->sn - a->shead,
		a->shead < a->sn ? a->slots[a->shead].at_ms : 0, a->njobs,
		queued, store_dead_count(a->st));
	fprintf(f,
		"\"email\":{\"attempts\":%" PRIu64 ",\"failures\":%" PRIu64
		",\"sent\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"last_error\":",
		a->mail.attempts, a->mail.failures, a->mail.delivered,
		a->mail_skipped);
	json_print_str(f, a->mail.last_error, strlen(a->mail.last_error));
	fputs("},\"hooks\":[", f);
	for (int i = 0; i < a->nhooks; i++) {
		struct hook_state *h = &a->hooks[i];
		size_t pend = 0;
		for (size_t k = 0; k < a->njobs; k++)
			pend += a->jobs[k]->kind == JOB_HOOK &&
				strcmp(a->jobs[k]->target, h->c.id) == 0;
		fprintf(f, "%s{\"id\":", i ? "," : "");
		json_print_str(f, h->c.id, strlen(h->c.id));
		fprintf(f,
			",\"active\":%s,\"attempts\":%" PRIu64
			",\"failures\":%" PRIu64 ",\"delivered\":%" PRIu64
			",\"pending\":%zu,\"last_error\":",
			h->c.active ? "true" : "false", h->t.attempts,
			h->t.failures, h->t.delivered, pend);
		json_print_str(f, h->t.last_error, strlen(h->t.last_error));
		fputs("}", f);
	}
	fputs("]}\n", f);
	fclose(f);
	store_write_status(a->st, buf);
	free(buf);
}

/* ---- options ---------------------------------------------------------- */

static char *read_secret(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "bookd-notify: %s %s: %s\n", what, path,
			strerror(errno));
		exit(2);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	while (n &&
	       (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = 0;
	if (n == 0 || strchr(buf, '\n') || strchr(buf, '\r')) {
		fprintf(stderr, "bookd-notify: %s %s: must hold one line\n",
			what, path);
		exit(2);
	}
	return strdup(buf);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: bookd-notify --socket PATH --state DIR [--token-file F]\n"
	    "         [--smtp URL [--smtp-user U --smtp-password-file F]\n"
	    "                     [--smtp-ca-file PEM]]\n"
	    "         [--email-api URL --email-api-key-file F]\n"
	    "         [--from ADDR] [--base-url URL] [--reminder-hours N]\n"
	    "         [--reminder-lead-s N]\n"
	    "         [--poll-ms N] [--timeout S] [--retry-base-ms N]\n"
	    "         [--retry-total-s N]\n"
	    "       bookd-notify dead --state DIR [--json]\n"
	    "       bookd-notify replay --state DIR KEY|all\n"
	    "       bookd-notify status --state DIR\n");
}

static bool num(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end || end == s || x < lo || x > hi)
		return false;
	*v = x;
	return true;
}

static bool http_url_ok(const char *u)
{
	if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
		return false;
	for (; *u; u++)
		if ((unsigned char)*u <= 0x20 || (unsigned char)*u >= 0x7f ||
		    *u == '"' || *u == '<' || *u == '>')
			return false;
	return true;
}

static int parse(int argc, char **argv, struct cfg *c)
{
	static const struct option lo[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"state", required_argument, NULL, 'S'},
	    {"token-file", required_argument, NULL, 'T'},
	    {"smtp", required_argument, NULL, 'm'},
	    {"smtp-user", required_argument, NULL, 'u'},
	    {"smtp-password-file", required_argument, NULL, 'p'},
	    {"smtp-ca-file", required_argument, NULL, 'C'},
	    {"email-api", required_argument, NULL, 'a'},
	    {"email-api-key-file", required_argument, NULL, 'k'},
	    {"from", required_argument, NULL, 'f'},
	    {"base-url", required_argument, NULL, 'b'},
	    {"reminder-hours", required_argument, NULL, 'r'},
	    {"reminder-lead-s", required_argument, NULL, 'L'},
	    {"poll-ms", required_argument, NULL, 'P'},
	    {"timeout", required_argument, NULL, 't'},
	    {"retry-base-ms", required_argument, NULL, 'B'},
	    {"retry-total-s", required_argument, NULL, 'R'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;
	int64_t v;

	c->from = "bookings@localhost";
	c->reminder_lead_s = 24 * 3600;
	c->retry_base_ms = 5000;
	c->retry_total_s = 86400;
	c->poll_ms = 20;
	c->timeout_s = 10;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->socket = optarg;
			break;
		case 'S':
			c->state = optarg;
			break;
		case 'T':
			c->token_file = optarg;
			break;
		case 'm':
			c->smtp = optarg;
			break;
		case 'u':
			c->smtp_user = optarg;
			break;
		case 'p':
			c->smtp_password_file = optarg;
			break;
		case 'C':
			c->smtp_ca_file = optarg;
			break;
		case 'a':
			c->email_api = optarg;
			break;
		case 'k':
			c->email_api_key_file = optarg;
			break;
		case 'f':
			c->from = optarg;
			break;
		case 'b':
			c->base_url = optarg;
			break;
		case 'r':
			if (!num(optarg, 0, 24 * 365, &v))
				goto bad;
			c->reminder_lead_s = v * 3600;
			break;
		case 'L':
			if (!num(optarg, 0, 365 * 86400, &v))
				goto bad;
			c->reminder_lead_s = v;
			break;
		case 'P':
			if (!num(optarg, 1, 60000, &v))
				goto bad;
			c->poll_ms = v;
			break;
		case 't':
			if (!num(optarg, 1, 600, &v))
				goto bad;
			c->timeout_s = (int)v;
			break;
		case 'B':
			if (!num(optarg, 10, 3600000, &v))
				goto bad;
			c->retry_base_ms = v;
			break;
		case 'R':
			if (!num(optarg, 1, 30 * 86400, &v))
				goto bad;
			c->retry_total_s = v;
			break;
		case 'j':
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	return 0;
bad:
	fprintf(stderr, "bookd-notify: not a number in range: %s\n", optarg);
	return 2;
}

static int check_cfg(struct cfg *c)
{
	char bare[NOTIFY_TARGET_MAX];

	if (c->state == NULL) {
		fprintf(stderr, "bookd-notify: --state DIR is required\n");
		return 2;
	}
	if (c->smtp && strncmp(c->smtp, "smtp://", 7) &&
	    strncmp(c->smtp, "smtps://", 8)) {
		fprintf(stderr, "bookd-notify: --smtp: smtp:// or smtps:// "
				"URL\n");
		return 2;
	}
	if (c->smtp && c->email_api) {
		fprintf(stderr, "bookd-notify: --smtp and --email-api: choose "
				"one\n");
		return 2;
	}
	if (c->email_api && !http_url_ok(c->email_api)) {
		fprintf(stderr, "bookd-notify: --email-api: http:// or "
				"https:// URL\n");
		return 2;
	}
	if (c->base_url && !http_url_ok(c->base_url)) {
		fprintf(stderr, "bookd-notify: --base-url: http:// or "
				"https:// URL without spaces or quotes\n");
		return 2;
	}
	mail_bare_addr(c->from, bare);
	if (!mail_addr_ok(bare) || strchr(c->from, '\n') ||
	    strchr(c->from, '\r')) {
		fprintf(stderr, "bookd-notify: --from: not an address: %s\n",
			c->from);
		return 2;
	}
	if (c->smtp_user && c->smtp_password_file == NULL) {
		fprintf(stderr, "bookd-notify: --smtp-user needs "
				"--smtp-password-file\n");
		return 2;
	}
	if (c->email_api && c->email_api_key_file == NULL) {
		fprintf(stderr, "bookd-notify: --email-api needs "
				"--email-api-key-file\n");
		return 2;
	}
	if (c->smtp_password_file)
		c->smtp_password =
		    read_secret(c->smtp_password_file, "--smtp-password-file");
	if (c->email_api_key_file)
		c->email_api_key =
		    read_secret(c->email_api_key_file, "--email-api-key-file");
	if (c->token_file)
		c->token = read_secret(c->token_file, "--token-file");
	return 0;
}

static int cmd_status(const char *dir)
{
	char path[600], buf[65536];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/status.json", dir);
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "bookd-notify: %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	fwrite(buf, 1, n, stdout);
	return 0;
}

/* ---- main ------------------------------------------------------------- */

static void run(struct app *a)
{
	struct job **v;
	size_t n;
	int rc;

	v = store_take_jobs(a->st, &n);
	for (size_t i = 0; i < n; i++)
		add_job(a, v[i]);
	free(v);
	a->fetched = a->settled = store_cursor(a->st);
	notify_log("state %s: cursor %" PRIu64 ", %zu queued, %zu dead",
		   a->cfg.state, a->fetched, n, store_dead_count(a->st));
	while (!stopping) {
		int64_t now = wall_ms();
		int64_t wait;

		if (now >= a->hooks_at) {
			refresh_hooks(a);
			a->hooks_at = now + HOOKS_EVERY;
		}
		if (now >= a->requeue_at) {
			v = store_take_requeued(a->st, &n);
			for (size_t i = 0; i < n; i++) {
				notify_log("replaying dead letter %s",
					   v[i]->key);
				v[i]->next_ms = now;
				store_put(a->st, v[i]);
				v[i]->journaled = true;
				add_job(a, v[i]);
			}
			free(v);
			a->requeue_at = now + 500;
		}
		drain_pushes(a);
		if (now >= a->poll_at || a->more || a->pushed) {
			a->pushed = false;
			poll_feed(a);
			/* With pushes, polling is only the fallback. */
			a->poll_at =
			    now +
			    (a->subscribed && a->cfg.poll_ms < FALLBACK_POLL_MS
				 ? FALLBACK_POLL_MS
				 : a->cfg.poll_ms);
		}
		start_jobs(a);
		drain_pushes(a);
		wait = a->more || a->pushed ? 0 : a->poll_at - wall_ms();
		if (a->scan_at - wall_ms() < wait)
			wait = a->scan_at - wall_ms();
		if (wait < 0)
			wait = 0;
		if (wait > TICK_MS) /* a signal does not end curl's wait */
			wait = TICK_MS;
		deliver_poll(a->dv, (int)wait, a->c ? bookd_fd(a->c) : -1);
		rc = store_sync(a->st);
		if (rc < 0)
			die("syncing the journal", rc);
		advance(a, false);
		if (wall_ms() >= a->status_at) {
			rc = store_compact(a->st, a->jobs, a->njobs);
			if (rc < 0)
				die("compacting the journal", rc);
			write_status(a);
			a->status_at = wall_ms() + STATUS_EVERY;
		}
	}
	rc = store_sync(a->st);
	if (rc < 0)
		die("syncing the journal", rc);
	advance(a, true);
	write_status(a);
	notify_log("stopped at cursor %" PRIu64, store_cursor(a->st));
}

int main(int argc, char **argv)
{
	static struct app a;
	const char *sub = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (argc > 1 && argv[1][0] != '-') {
		sub = argv[1];
		argv++;
		argc--;
	}
	rc = parse(argc, argv, &a.cfg);
	if (rc)
		return rc;
	if (sub) {
		if (a.cfg.state == NULL) {
			fprintf(stderr, "bookd-notify: --state DIR is "
					"required\n");
			return 2;
		}
		if (strcmp(sub, "dead") == 0) {
			bool json = false;
			for (int i = 1; i < argc; i++)
				json |= strcmp(argv[i], "--json") == 0;
			return store_list_dead(a.cfg.state, json);
		}
		if (strcmp(sub, "replay") == 0 && optind == argc - 1)
			return store_request_replay(
			    a.cfg.state,
			    strcmp(argv[optind], "all") ? argv[optind] : "*");
		if (strcmp(sub, "status") == 0)
			return cmd_status(a.cfg.state);
		usage(stderr);
		return 2;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	rc = check_cfg(&a.cfg);
	if (rc)
		return rc;
	rc = store_open(&a.st, a.cfg.state, true);
	if (rc < 0) {
		fprintf(stderr, "bookd-notify: --state %s: %s\n", a.cfg.state,
			rc == -EBUSY ? "in use by another bookd-notify"
				     : strerror(-rc));
		return 1;
	}
	if (deliver_init(&a.dv, &a.cfg, on_done, &a) < 0) {
		fprintf(stderr, "bookd-notify: cannot start libcurl\n");
		return 1;
	}
	if (a.cfg.smtp == NULL && a.cfg.email_api == NULL)
		notify_log("no --smtp and no --email-api: emails are logged "
			   "as skipped and not kept");
	run(&a);
	deliver_free(a.dv);
	for (size_t i = 0; i < a.njobs; i++)
		job_free(a.jobs[i]);
	free(a.jobs);
	free(a.slots);
	store_close(a.st);
	if (a.c)
		bookd_close(a.c);
	free(a.cfg.smtp_password);
	free(a.cfg.email_api_key);
	free(a.cfg.token);
	return 0;
}
