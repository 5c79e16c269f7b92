/*
 * work.c - the shared workload: shape, random spans, packed arguments,
 * resources, the history loader and run phases.  See work.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "quanta.h"
#include "wire.h"
#include <unistd.h>
#include "work.h"

#define SLOTS 96

void bench_shape_init(struct bench_shape *s, uint32_t nres, uint32_t ndays)
{
	s->nres = nres;
	s->ndays = ndays;
	s->day0 = q_day_of((int64_t)time(NULL)) + 1;
}

void bench_span_random(const struct bench_shape *s, struct bench_rng *r,
		       struct bench_span *out)
{
	out->res = bench_rng_below(r, s->nres);
	out->day = s->day0 + bench_rng_below(r, s->ndays);
	out->nslots = 1 + (int)bench_rng_below(r, BENCH_MAX_SPAN);
	out->slot =
	    (int)bench_rng_below(r, (uint32_t)(SLOTS - out->nslots + 1));
	out->start = out->day * 86400 + (int64_t)out->slot * 900;
	out->end = out->start + (int64_t)out->nslots * 900;
}

void bench_res_id(uint32_t i, char buf[BENCH_ID_LEN])
{
	snprintf(buf, BENCH_ID_LEN, BENCH_RES_PREFIX "%04u", i);
}

void bench_pack_check(bookd_args *a, const char *res, int64_t start,
		      int64_t end)
{
	bookd_args_reset(a);
	bookd_args_str(a, "resource", res);
	bookd_args_int(a, "start", start);
	bookd_args_int(a, "end", end);
}

/* The booker is short on purpose: the figures are the engine's, not
 * string copying's; the peers store the same two fields. */
void bench_pack_book(bookd_args *a, const char *res, int64_t start, int64_t end)
{
	bookd_args_reset(a);
	bookd_args_str(a, "resource", res);
	bookd_args_int(a, "start", start);
	bookd_args_int(a, "end", end);
	bookd_args_map(a, "booker");
	bookd_args_str(a, "name", "Bench");
	bookd_args_str(a, "email", "bench@example.org");
	bookd_args_end(a);
}

void bench_pack_cancel(bookd_args *a, uint64_t id)
{
	bookd_args_reset(a);
	bookd_args_uint(a, "id", id);
}

void bench_pack_hold(bookd_args *a, const char *res, int64_t start, int64_t end,
		     const char *session)
{
	bookd_args_reset(a);
	bookd_args_str(a, "resource", res);
	bookd_args_int(a, "start", start);
	bookd_args_int(a, "end", end);
	bookd_args_str(a, "session", session);
}

void bench_pack_slots_day(bookd_args *a, const char *res, const char *date,
			  uint32_t duration)
{
	bookd_args_reset(a);
	bookd_args_str(a, "resource", res);
	bookd_args_str(a, "date", date);
	bookd_args_int(a, "duration", duration);
}

void bench_pack_slots_month(bookd_args *a, const char *res, const char *from,
			    const char *to, uint32_t duration)
{
	bookd_args_reset(a);
	bookd_args_str(a, "resource", res);
	bookd_args_str(a, "from", from);
	bookd_args_str(a, "to", to);
	bookd_args_int(a, "duration", duration);
}

int bench_create_resources(bookd_conn *c, uint32_t nres)
{
	bookd_args *a = bookd_args_new();
	uint32_t sent = 0, got = 0;
	int rc = 0;

	if (a == NULL) {
		bench_log("resource.create: out of memory");
		return BOOKD_E_NOMEM;
	}
	while (got < nres) {
		while (sent < nres && sent - got < BENCH_LOAD_WINDOW) {
			char id[BENCH_ID_LEN];
			bench_res_id(sent, id);
			bookd_args_reset(a);
			bookd_args_str(a, "id", id);
			rc = bookd_send_args(c, "resource.create", a, NULL);
			if (rc < 0)
				goto out;
			sent++;
		}
		rc = bookd_recv(c, NULL, NULL);
		if (rc < 0 && rc != BOOKD_E_EXISTS)
			goto out;
		rc = 0;
		got++;
	}
out:
	if (rc < 0)
		bench_log("resource.create: %s", bookd_errmsg(c));
	bookd_args_free(a);
	return rc;
}

/*
 * The loader keeps up to BENCH_LOAD_WINDOW requests in flight.  Replies
 * come in request order, so a ring of what was sent tells what each reply
 * answers; a booking's id waits in a second ring until its cancel can be
 * sent.
 */
int bench_load(const struct bench_engine *e, const struct bench_shape *shape,
	       uint64_t n, bool cancel, uint64_t seed,
	       struct bench_load_result *out)
{
	bool kinds[BENCH_LOAD_WINDOW]; /* true: a cancel */
	uint64_t ids[BENCH_LOAD_WINDOW];
	size_t khead = 0, klen = 0, ihead = 0, ilen = 0;
	uint64_t books_sent = 0, t0, last_note;
	struct bench_rng rng;
	bookd_args *a;
	bookd_conn *c;
	int rc = -1;

	memset(out, 0, sizeof *out);
	c = bench_engine_connect(e);
	if (c == NULL)
		return -1;
	a = bookd_args_new();
	if (a == NULL) {
		bench_log("loading: out of memory");
		bookd_close(c);
		return -1;
	}
	bench_rng_seed(&rng, seed);
	t0 = last_note = bench_now_ns();
	while (books_sent < n || klen > 0) {
		const msgpack_object *res;
		bool was_cancel;
		int r;

		while (klen < BENCH_LOAD_WINDOW &&
		       (ilen > 0 || books_sent < n)) {
			if (ilen > 0) {
				bench_pack_cancel(a, ids[ihead]);
				ihead = (ihead + 1) % BENCH_LOAD_WINDOW;
				ilen--;
				r = bookd_send_args(c, "booking.cancel", a,
						    NULL);
				kinds[(khead + klen) % BENCH_LOAD_WINDOW] =
				    true;
			} else {
				struct bench_span sp;
				char id[BENCH_ID_LEN];
				bench_span_random(shape, &rng, &sp);
				bench_res_id(sp.res, id);
				bench_pack_book(a, id, sp.start, sp.end);
				r = bookd_send_args(c, "book", a, NULL);
				kinds[(khead + klen) % BENCH_LOAD_WINDOW] =
				    false;
				books_sent++;
			}
			if (r < 0)
				goto fail;
			klen++;
		}
		r = bookd_recv(c, NULL, &res);
		was_cancel = kinds[khead];
		khead = (khead + 1) % BENCH_LOAD_WINDOW;
		klen--;
		if (r == BOOKD_E_CONFLICT) {
			out->conflicts++;
		} else if (r < 0) {
			goto fail;
		} else if (was_cancel) {
			out->cancelled++;
		} else {
			int64_t bid = 0;
			out->booked++;
			if (!wire_int(wire_get(res, "id"), &bid) || bid <= 0) {
				bench_log("book: a reply without an id");
				goto out;
			}
			/* The id ring cannot overflow: every id in it took
			 * a slot of the window that is now free. */
			if (cancel) {
				ids[(ihead + ilen) % BENCH_LOAD_WINDOW] =
				    (uint64_t)bid;
				ilen++;
			}
		}
		if (bench_now_ns() - last_note > 10000000000ull) {
			last_note = bench_now_ns();
			bench_log("  loaded %llu of %llu bookings",
				  (unsigned long long)out->booked,
				  (unsigned long long)n);
		}
	}
	out->ns = bench_now_ns() - t0;
	rc = 0;
	goto out;
fail:
	bench_log("loading: %s", bookd_errmsg(c));
out:
	bookd_args_free(a);
	bookd_close(c);
	return rc;
}

uint64_t bench_proc_cpu_ns(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long tck = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The command name may hold spaces: fields count from its ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || tck <= 0 ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return 0;
	return (ut + st) * (1000000000ull / (unsigned long long)tck);
}

void bench_phase_drive(struct bench_phase *p, uint64_t warm_ms, uint64_t run_ms)
{
	atomic_store(&p->phase, BENCH_WARM);
	bench_sleep_ms(warm_ms);
	if (p->cpu_pid > 0)
		p->cpu0 = bench_proc_cpu_ns(p->cpu_pid);
	p->t0 = bench_now_ns();
	atomic_store(&p->phase, BENCH_MEASURE);
	bench_sleep_ms(run_ms);
	atomic_store(&p->phase, BENCH_STOP);
	p->t1 = bench_now_ns();
	if (p->cpu_pid > 0)
		p->cpu1 = bench_proc_cpu_ns(p->cpu_pid);
}

double bench_phase_secs(const struct bench_phase *p)
{
	return (double)(p->t1 - p->t0) / 1e9;
}
