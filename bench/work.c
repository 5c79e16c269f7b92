/*
 * work.c - the shared workload: shape, random spans, packed arguments,
 * resources, the history loader and run phases.  See work.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "quanta.h"
#include "wire.h"
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

void bench_args_init(struct bench_args *a)
{
	msgpack_sbuffer_init(&a->sb);
	msgpack_packer_init(&a->pk, &a->sb, msgpack_sbuffer_write);
}

void bench_args_free(struct bench_args *a)
{
	msgpack_sbuffer_destroy(&a->sb);
}

static void kint(struct bench_args *a, const char *k, int64_t v)
{
	wire_pk_str(&a->pk, k);
	msgpack_pack_int64(&a->pk, v);
}

static void kstr(struct bench_args *a, const char *k, const char *v)
{
	wire_pk_str(&a->pk, k);
	wire_pk_str(&a->pk, v);
}

void bench_pack_check(struct bench_args *a, const char *res, int64_t start,
		      int64_t end)
{
	a->sb.size = 0;
	msgpack_pack_map(&a->pk, 3);
	kstr(a, "resource", res);
	kint(a, "start", start);
	kint(a, "end", end);
}

/* The booker is short on purpose: the figures are the engine's, not
 * string copying's; the peers store the same two fields. */
void bench_pack_book(struct bench_args *a, const char *res, int64_t start,
		     int64_t end)
{
	a->sb.size = 0;
	msgpack_pack_map(&a->pk, 4);
	kstr(a, "resource", res);
	kint(a, "start", start);
	kint(a, "end", end);
	wire_pk_str(&a->pk, "booker");
	msgpack_pack_map(&a->pk, 2);
	kstr(a, "name", "Bench");
	kstr(a, "email", "bench@example.org");
}

void bench_pack_cancel(struct bench_args *a, uint64_t id)
{
	a->sb.size = 0;
	msgpack_pack_map(&a->pk, 1);
	kint(a, "id", (int64_t)id);
}

void bench_pack_hold(struct bench_args *a, const char *res, int64_t start,
		     int64_t end, const char *session)
{
	a->sb.size = 0;
	msgpack_pack_map(&a->pk, 4);
	kstr(a, "resource", res);
	kint(a, "start", start);
	kint(a, "end", end);
	kstr(a, "session", session);
}

void bench_pack_slots_day(struct bench_args *a, const char *res,
			  const char *date, uint32_t duration)
{
	a->sb.size = 0;
	msgpack_pack_map(&a->pk, 3);
	kstr(a, "resource", res);
	kstr(a, "date", date);
	kint(a, "duration", duration);
}

void bench_pack_slots_month(struct bench_args *a, const char *res,
			    const char *from, const char *to, uint32_t duration)
{
	a->sb.size = 0;
	msgpack_pack_map(&a->pk, 4);
	kstr(a, "resource", res);
	kstr(a, "from", from);
	kstr(a, "to", to);
	kint(a, "duration", duration);
}

int bench_create_resources(bookd_conn *c, uint32_t nres)
{
	struct bench_args a;
	uint32_t sent = 0, got = 0;
	int rc = 0;

	bench_args_init(&a);
	while (got < nres) {
		while (sent < nres && sent - got < BENCH_LOAD_WINDOW) {
			char id[BENCH_ID_LEN];
			bench_res_id(sent, id);
			a.sb.size = 0;
			msgpack_pack_map(&a.pk, 1);
			kstr(&a, "id", id);
			rc = bookd_send(c, "resource.create", a.sb.data,
					a.sb.size, NULL);
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
	bench_args_free(&a);
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
	struct bench_args a;
	bookd_conn *c;
	int rc = -1;

	memset(out, 0, sizeof *out);
	c = bench_engine_connect(e);
	if (c == NULL)
		return -1;
	bench_rng_seed(&rng, seed);
	bench_args_init(&a);
	t0 = last_note = bench_now_ns();
	while (books_sent < n || klen > 0) {
		const msgpack_object *res;
		bool was_cancel;
		int r;

		while (klen < BENCH_LOAD_WINDOW &&
		       (ilen > 0 || books_sent < n)) {
			if (ilen > 0) {
				bench_pack_cancel(&a, ids[ihead]);
				ihead = (ihead + 1) % BENCH_LOAD_WINDOW;
				ilen--;
				r = bookd_send(c, "booking.cancel", a.sb.data,
					       a.sb.size, NULL);
				kinds[(khead + klen) % BENCH_LOAD_WINDOW] =
				    true;
			} else {
				struct bench_span sp;
				char id[BENCH_ID_LEN];
				bench_span_random(shape, &rng, &sp);
				bench_res_id(sp.res, id);
				bench_pack_book(&a, id, sp.start, sp.end);
				r = bookd_send(c, "book", a.sb.data, a.sb.size,
					       NULL);
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
	bench_args_free(&a);
	bookd_close(c);
	return rc;
}

void bench_phase_drive(struct bench_phase *p, uint64_t warm_ms, uint64_t run_ms)
{
	atomic_store(&p->phase, BENCH_WARM);
	bench_sleep_ms(warm_ms);
	p->t0 = bench_now_ns();
	atomic_store(&p->phase, BENCH_MEASURE);
	bench_sleep_ms(run_ms);
	atomic_store(&p->phase, BENCH_STOP);
	p->t1 = bench_now_ns();
}

double bench_phase_secs(const struct bench_phase *p)
{
	return (double)(p->t1 - p->t0) / 1e9;
}
