/*
 * stream.c - GET /v1/stream: the engine's `slots` and `holds` pushes as
 * Server-Sent Events.
 *
 * Owns: every open stream (a list under one mutex) and the stream thread,
 * which alone uses its own engine connection: it subscribes new streams
 * (one `slots` and one `holds` subscription each, made "as" the visitor
 * so the engine's per-caller caps count them per visitor), turns pushes into
 * events, unsubscribes streams whose browser went away, and writes a
 * comment line to every stream every GW_HEARTBEAT_S seconds so proxies and
 * browsers keep them open.
 *
 * An HTTP stream is a libmicrohttpd callback response.  When its buffer is
 * empty the callback suspends the connection (so no thread spins on it);
 * the stream thread resumes it when it appends an event.  `suspended` is
 * set only under the mutex by the callback and cleared only under it by
 * whoever resumes, so a connection is resumed exactly once per suspension.
 *
 * Invariants: a stream's unsent bytes stay under GW_STREAM_BUF_MAX (past
 * it, the backlog is replaced by one `resync` event); streams count against
 * the per-address and total caps from open until the response is freed.
 *
 * Events: `event: slots` / `event: holds` with data {resource, date,
 * version} (date: local date in the resource's zone); `event: resync`
 * (re-read everything: after a reconnect with Last-Event-ID, since pushes
 * are notices and cannot be replayed, or after the gateway or engine
 * dropped notices); `event: error` before the gateway ends a stream it
 * cannot serve.  Ids are "<topic>-<version>".
 *
 * How it fails: a lost engine connection ends every stream (the browser's
 * EventSource reconnects by itself, after `retry` ms); the thread
 * reconnects on the next stream.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"

struct stream {
	struct MHD_Connection *conn;
	unsigned char ipkey[16];
	char resource[64], from[11], to[11];
	char visitor[GW_VISITOR_MAX + 1]; /* subscriptions count as theirs */
	uint64_t sub_slots, sub_holds;
	bool subscribed; /* the stream thread has subscribed it */
	bool suspended;	 /* MHD has it suspended (see above) */
	bool closing;	 /* end after the buffer drains */
	bool dead;	 /* the response is gone: unsubscribe and free */
	char *buf;
	size_t off, len, cap;
	struct stream *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct stream *streams;
static int wake_fd = -1;
static pthread_t thread;
static atomic_bool stopping;
static bool started;

static void wake(void)
{
	uint64_t one = 1;

	if (write(wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
		perror("bookd-http: eventfd");
}

/* With mu held: let MHD run the stream again if it waits. */
static void resume(struct stream *s)
{
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

/* With mu held. */
static void append(struct stream *s, const char *text)
{
	static const char resync[] = "event: resync\ndata: "
				     "{\"reason\":\"backlog\"}\n\n";
	size_t n = strlen(text);

	if (s->dead || s->closing)
		return;
	if (s->len - s->off + n > GW_STREAM_BUF_MAX) {
		/* A reader this slow gets one notice instead of the
		 * backlog. */
		s->off = s->len = 0;
		text = resync;
		n = sizeof resync - 1;
	}
	if (s->off && s->off == s->len)
		s->off = s->len = 0;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 1024;
		char *nb;
		while (cap < s->len + n)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (nb == NULL)
			return;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, text, n);
	s->len += n;
	resume(s);
}

static ssize_t reader_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&mu);
	if (s->len > s->off) {
		n = s->len - s->off < max ? s->len - s->off : max;
		memcpy(buf, s->buf + s->off, n);
		s->off += n;
		pthread_mutex_unlock(&mu);
		return (ssize_t)n;
	}
	if (s->closing) {
		pthread_mutex_unlock(&mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	s->suspended = true;
	MHD_suspend_connection(s->conn);
	pthread_mutex_unlock(&mu);
	return 0;
}

static void free_cb(void *cls)
{
	struct stream *s = cls;

	pthread_mutex_lock(&mu);
	s->dead = true;
	s->suspended = false;
	gw_streams_release(s->ipkey);
	pthread_mutex_unlock(&mu);
	wake();
}

/* ---------------------------------------------------------------------- */
/* The stream thread. */

static void end_all(const char *why)
{
	char ev[256];

	snprintf(ev, sizeof ev, "event: error\ndata: {\"detail\":\"%s\"}\n\n",
		 why);
	pthread_mutex_lock(&mu);
	for (struct stream *s = streams; s; s = s->next) {
		append(s, ev);
		s->closing = true;
		s->subscribed = true; /* nothing left to subscribe */
		s->sub_slots = s->sub_holds = 0;
		resume(s);
	}
	pthread_mutex_unlock(&mu);
}

static int subscribe(bookd_conn *c, struct stream *s)
{
	int rc;

	if (gw_as_supported && bookd_set_as(c, s->visitor) != 0)
		return BOOKD_E_BAD_REQUEST;
	rc = bookd_subscribe(c, "slots", s->resource,
			     s->from[0] ? s->from : NULL,
			     s->to[0] ? s->to : NULL, &s->sub_slots);
	if (rc == 0)
		rc = bookd_subscribe(c, "holds", s->resource,
				     s->from[0] ? s->from : NULL,
				     s->to[0] ? s->to : NULL, &s->sub_holds);
	bookd_set_as(c, NULL);
	return rc;
}

/* Subscribe new streams, unsubscribe and free dead ones. */
static void tend(bookd_conn *c)
{
	struct stream **pp = &streams, *s;
	char ev[512];

	pthread_mutex_lock(&mu);
	while ((s = *pp) != NULL) {
		if (s->dead) {
			if (c && gw_as_supported)
				bookd_set_as(c, s->visitor);
			if (c && s->sub_slots)
				bookd_unsubscribe(c, s->sub_slots);
			if (c && s->sub_holds)
				bookd_unsubscribe(c, s->sub_holds);
			if (c)
				bookd_set_as(c, NULL);
			*pp = s->next;
			free(s->buf);
			free(s);
			continue;
		}
		if (!s->subscribed) {
			int rc = c ? subscribe(c, s) : BOOKD_E_UNAVAILABLE;
			s->subscribed = true;
			if (rc != 0) {
				snprintf(ev, sizeof ev,
					 "event: error\ndata: {\"code\":\"%s\","
					 "\"detail\":\"cannot follow this "
					 "resource now\"}\n\n",
					 bookd_err_name(rc));
				append(s, ev);
				s->closing = true;
				resume(s);
			} else {
				append(s, ": subscribed\n\n");
			}
		}
		pp = &s->next;
	}
	pthread_mutex_unlock(&mu);
}

static void deliver(const struct bookd_push *p)
{
	char ev[512];

	pthread_mutex_lock(&mu);
	if (strcmp(p->kind, "overflow") == 0) {
		for (struct stream *s = streams; s; s = s->next)
			append(s, "event: resync\ndata: "
				  "{\"reason\":\"overflow\"}\n\n");
		pthread_mutex_unlock(&mu);
		return;
	}
	snprintf(ev, sizeof ev,
		 "id: %s-%" PRIu64 "\nevent: %s\ndata: {\"resource\":\"%s\","
		 "\"date\":\"%s\",\"version\":%" PRIu64 "}\n\n",
		 p->topic, p->version, p->topic, p->resource, p->date,
		 p->version);
	for (struct stream *s = streams; s; s = s->next)
		if (s->subscribed &&
		    (s->sub_slots == p->sub || s->sub_holds == p->sub))
			append(s, ev);
	pthread_mutex_unlock(&mu);
}

static bookd_conn *connect_engine(void)
{
	struct bookd_hello_info info;
	bookd_conn *c;
	int err;

	c = bookd_connect(gw_cfg.socket, &err);
	if (c == NULL)
		return NULL;
	bookd_set_timeout(c, 5000);
	if (gw_cfg.engine_token &&
	    bookd_hello_token(c, "bookd-http stream", gw_cfg.engine_token,
			      &info) != 0) {
		bookd_close(c);
		return NULL;
	}
	return c;
}

static bool any_unsubscribed(void)
{
	bool any = false;

	pthread_mutex_lock(&mu);
	for (struct stream *s = streams; s && !any; s = s->next)
		any = !s->subscribed || s->dead;
	pthread_mutex_unlock(&mu);
	return any;
}

static void *run(void *arg)
{
	bookd_conn *c = NULL;
	int64_t next_hb = gw_now_ns() + GW_HEARTBEAT_S * 1000000000LL;
	struct bookd_push p;

	(void)arg;
	while (!atomic_load(&stopping)) {
		struct pollfd pf[2];
		int64_t now = gw_now_ns();
		int nfds = 1, tmo;
		uint64_t junk;

		if (c == NULL && any_unsubscribed())
			c = connect_engine();
		tend(c);
		if (c) {
			int rc;
			while ((rc = bookd_next_push(c, &p, 0)) == 1)
				deliver(&p);
			if (rc < 0 || bookd_broken(c)) {
				bookd_close(c);
				c = NULL;
				end_all("the booking engine went away");
				continue;
			}
		}
		if (now >= next_hb) {
			pthread_mutex_lock(&mu);
			for (struct stream *s = streams; s; s = s->next)
				if (s->subscribed)
					append(s, ": heartbeat\n\n");
			pthread_mutex_unlock(&mu);
			next_hb = now + GW_HEARTBEAT_S * 1000000000LL;
		}
		pf[0].fd = wake_fd;
		pf[0].events = POLLIN;
		if (c) {
			pf[1].fd = bookd_fd(c);
			pf[1].events = POLLIN;
			nfds = 2;
		}
		tmo = (int)((next_hb - now) / 1000000) + 1;
		if (c == NULL && any_unsubscribed() && tmo > 1000)
			tmo = 1000;
		if (poll(pf, (nfds_t)nfds, tmo) > 0 && (pf[0].revents & POLLIN))
			if (read(wake_fd, &junk, sizeof junk) < 0)
				(void)0;
	}
	tend(c);
	if (c)
		bookd_close(c);
	return NULL;
}

int gw_stream_start(void)
{
	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wake_fd < 0) {
		perror("bookd-http: eventfd");
		return -1;
	}
	if (pthread_create(&thread, NULL, run, NULL) != 0) {
		fprintf(stderr, "bookd-http: cannot start the stream thread\n");
		return -1;
	}
	started = true;
	return 0;
}

void gw_stream_stop(void)
{
	bool left = true;

	if (!started)
		return;
	pthread_mutex_lock(&mu);
	for (struct stream *s = streams; s; s = s->next) {
		append(s, "event: bye\ndata: {\"reason\":\"gateway "
			  "stopping\"}\n\n");
		s->closing = true;
		resume(s);
	}
	pthread_mutex_unlock(&mu);
	/* Let MHD send the last events and end the streams (2 s at most). */
	for (int i = 0; i < 200 && left; i++) {
		left = false;
		pthread_mutex_lock(&mu);
		for (struct stream *s = streams; s; s = s->next)
			left |= !s->dead;
		pthread_mutex_unlock(&mu);
		if (left)
			usleep(10000);
	}
	atomic_store(&stopping, true);
	wake();
	pthread_join(thread, NULL);
}

/* ---------------------------------------------------------------------- */

static bool date_ok(const char *d)
{
	int64_t x;

	return d && strlen(d) == 10 && bookd_reader_date(d, &x) == 0;
}

enum MHD_Result gw_stream_open(struct gw_req *q)
{
	const char *res = MHD_lookup_connection_value(
	    q->conn, MHD_GET_ARGUMENT_KIND, "resource");
	const char *from =
	    MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, "from");
	const char *to =
	    MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, "to");
	const char *last = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
						       "Last-Event-ID");
	struct MHD_Response *r;
	struct stream *s;
	char zone[65];
	enum MHD_Result ok;
	int64_t f, t;
	int rc;

	if (res == NULL || strlen(res) == 0 || strlen(res) > 63)
		return gw_problem(q, 400, "BAD_REQUEST",
				  "resource: required, a resource id",
				  "resource");
	if ((from && !date_ok(from)) || (to && !date_ok(to)))
		return gw_problem(q, 400, "BAD_REQUEST",
				  "from, to: dates YYYY-MM-DD",
				  from && !date_ok(from) ? "from" : "to");
	if (from && to) {
		bookd_reader_date(from, &f);
		bookd_reader_date(to, &t);
		if (t < f || t - f > 366)
			return gw_problem(q, 400, "BAD_REQUEST",
					  "to: on or after from, at most 366 "
					  "days",
					  "to");
	}
	rc = gw_resource_zone(res, zone);
	if (rc == BOOKD_E_NOT_FOUND)
		return gw_problem(q, 404, "NOT_FOUND", "no such resource",
				  "resource");
	if (rc != 0)
		return gw_engine_problem(q, rc, NULL, true);
	if (gw_streams_acquire(q->who.ipkey) != 0) {
		struct MHD_Response *lr;
		char *text = strdup(
		    "{\"type\":\"about:blank\",\"title\":\"Too Many "
		    "Requests\",\"status\":429,\"code\":\"LIMIT\",\"detail\":"
		    "\"too many open streams; close one (one per page is "
		    "enough)\"}");
		if (text == NULL)
			return MHD_NO;
		lr = MHD_create_response_from_buffer(strlen(text), text,
						     MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(lr, "Content-Type",
					"application/problem+json");
		MHD_add_response_header(lr, "Retry-After", "5");
		return gw_queue(q, 429, lr);
	}
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		gw_streams_release(q->who.ipkey);
		return MHD_NO;
	}
	s->conn = q->conn;
	memcpy(s->ipkey, q->who.ipkey, 16);
	memcpy(s->visitor, q->who.visitor, sizeof s->visitor);
	snprintf(s->resource, sizeof s->resource, "%s", res);
	if (from)
		snprintf(s->from, sizeof s->from, "%s", from);
	if (to)
		snprintf(s->to, sizeof s->to, "%s", to);
	else if (from)
		snprintf(s->to, sizeof s->to, "%s", from);
	append(s, "retry: 2000\n\n");
	if (last)
		append(s,
		       "event: resync\ndata: {\"reason\":\"reconnected\"}\n\n");
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader_cb,
					      s, free_cb);
	if (r == NULL) {
		gw_streams_release(q->who.ipkey);
		free(s->buf);
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	/* The connection loses its timeouts for the stream: it must not serve
	 * requests afterwards, so it closes when the stream ends. */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	gw_common_headers(q, r);
	/* A stream is quiet for up to a heartbeat: no idle timeout. */
	MHD_set_connection_option(q->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	gw_conn_exempt(q->conn);
	pthread_mutex_lock(&mu);
	s->next = streams;
	streams = s;
	pthread_mutex_unlock(&mu);
	wake();
	ok = MHD_queue_response(q->conn, 200, r);
	MHD_destroy_response(r);
	gw_metrics_record(q->route, 200, gw_now_ns() - q->t0_ns);
	return ok;
}
