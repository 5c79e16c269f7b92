/*
 * holidays.c - holiday calendars (struct hcal) and the holiday part of a
 * schedule: the calendars it names, their dates looked up and united, and
 * their copy in the full form (see schedule.h).
 *
 * A holiday date is a day number with the open quarters of that local day
 * as a 96-bit mask (bits 0..95 of m[0], m[1]), kept sorted by day:
 * merging a date's windows or intersecting calendars is a bitwise
 * operation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule_int.h"
#include "wire.h"

static int hol_cmp(const void *a, const void *b)
{
	const struct shol *x = a, *y = b;

	return x->day < y->day ? -1 : x->day > y->day;
}

static bool q_bit(const uint64_t m[2], int q)
{
	return (m[q / 64] >> (q % 64)) & 1;
}

/* The windows of a 96-quarter mask, merged and in order. */
int sch_mask_windows(const uint64_t m[2], struct swin w[SCHED_DAY_MAX])
{
	int n = 0, q = 0;

	while (q < QUARTERS) {
		int e;
		if (!q_bit(m, q)) {
			q++;
			continue;
		}
		for (e = q; e < QUARTERS && q_bit(m, e); e++)
			;
		w[n].start = (uint8_t)q;
		w[n].end = (uint8_t)e;
		n++;
		q = e;
	}
	return n;
}

static int parse_hday(struct shol *h, const msgpack_object *o, uint32_t i,
		      char *err, size_t errlen)
{
	const msgpack_object *ws;
	char sub[64];
	int rc;

	rc = sch_parse_dated(o, "dates", i, &h->day, &ws, sub, sizeof(sub), err,
			     errlen);
	if (rc)
		return rc;
	h->m[0] = h->m[1] = 0;
	if (ws == NULL || ws->type == MSGPACK_OBJECT_NIL)
		return 0; /* closed all day */
	rc = sch_check_windows(ws, sub, HCAL_MAX_WINDOWS, err, errlen);
	if (rc)
		return rc;
	for (uint32_t j = 0; j < ws->via.array.size; j++) {
		char wpath[80];
		struct swin w;

		snprintf(wpath, sizeof(wpath), "%s[%u]", sub, j);
		rc = sch_parse_window(&ws->via.array.ptr[j], wpath, NULL, &w,
				      err, errlen);
		if (rc)
			return rc;
		q_bits_set(h->m, w.start, w.end);
	}
	return 0;
}

void hcal_free(struct hcal *h)
{
	if (h == NULL)
		return;
	free(h->d);
	free(h);
}

size_t hcal_count(const struct hcal *h)
{
	return h->n;
}

int hcal_parse(const msgpack_object *o, struct hcal **out, char *err,
	       size_t errlen)
{
	struct hcal *h;
	int rc = 0;

	*out = NULL;
	if (errlen > 0)
		err[0] = 0;
	if (o == NULL)
		return sch_fail(err, errlen, "dates", "required");
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return sch_fail(err, errlen, "dates", "not an array");
	if (o->via.array.size > HCAL_MAX_DATES)
		return sch_fail(err, errlen, "dates", "more than %d dates",
				HCAL_MAX_DATES);
	h = calloc(1, sizeof(*h));
	if (h && o->via.array.size)
		h->d = reallocarray(NULL, o->via.array.size, sizeof(*h->d));
	if (h == NULL || (o->via.array.size && h->d == NULL)) {
		hcal_free(h);
		sch_fail(err, errlen, "dates", "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < o->via.array.size && rc == 0; i++)
		rc = parse_hday(&h->d[i], &o->via.array.ptr[i], i, err, errlen);
	if (rc == 0) {
		h->n = o->via.array.size;
		/* Find a repeated date by its input position, for the
		 * message: sort a copy of (day, index). */
		for (size_t i = 0; i < h->n; i++)
			h->d[i].m[1] |= (uint64_t)i << 32;
		if (h->n)
			qsort(h->d, h->n, sizeof(*h->d), hol_cmp);
		for (size_t i = 1; i < h->n && rc == 0; i++) {
			if (h->d[i].day != h->d[i - 1].day)
				continue;
			unsigned a = (unsigned)(h->d[i - 1].m[1] >> 32);
			unsigned b = (unsigned)(h->d[i].m[1] >> 32);
			char path[40];
			snprintf(path, sizeof(path), "dates[%u].date",
				 a > b ? a : b);
			rc = sch_fail(err, errlen, path,
				      "same date as dates[%u]", a > b ? b : a);
		}
		for (size_t i = 0; i < h->n; i++)
			h->d[i].m[1] &= 0xffffffffu;
	}
	if (rc) {
		hcal_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void hcal_pack(const struct hcal *h, msgpack_packer *pk)
{
	struct swin w[SCHED_DAY_MAX];
	char date[11];

	msgpack_pack_array(pk, h->n);
	for (size_t i = 0; i < h->n; i++) {
		int n = sch_mask_windows(h->d[i].m, w);

		msgpack_pack_map(pk, n ? 2 : 1);
		q_format_date(h->d[i].day, date);
		wire_pk_kstr(pk, "date", date);
		if (n) {
			wire_pk_str(pk, "windows");
			sch_pack_windows(pk, w, n);
		}
	}
}

/* "holidays": an array of distinct slugs. */
int sch_parse_holiday_ids(struct sched *s, const msgpack_object *o, char *err,
			  size_t errlen)
{
	char path[32], buf[40];

	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return sch_fail(err, errlen, "holidays", "not an array");
	if (o->via.array.size > SCHED_MAX_HOLIDAYS)
		return sch_fail(err, errlen, "holidays",
				"more than %d holiday calendars",
				SCHED_MAX_HOLIDAYS);
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *v = &o->via.array.ptr[i];

		snprintf(path, sizeof(path), "holidays[%u]", i);
		if (v->type != MSGPACK_OBJECT_STR ||
		    !proto_slug_ok(v->via.str.ptr, v->via.str.size))
			return sch_fail(err, errlen, path,
					"not a holiday calendar id (a slug)");
		for (int k = 0; k < s->nhid; k++)
			if (strlen(s->hid[k]) == v->via.str.size &&
			    memcmp(s->hid[k], v->via.str.ptr,
				   v->via.str.size) == 0) {
				sch_printable(v->via.str.ptr, v->via.str.size,
					      buf, sizeof(buf));
				return sch_fail(err, errlen, path,
						"'%s' listed twice", buf);
			}
		memcpy(s->hid[s->nhid], v->via.str.ptr, v->via.str.size);
		s->hid[s->nhid][v->via.str.size] = 0;
		s->nhid++;
	}
	return 0;
}

/* Look the calendars up and unite their dates into s->hol: a date in
 * several calendars is open only where all of them open it. */
int sch_resolve_holidays(struct sched *s, sched_resolve_fn fn, void *ctx,
			 char *err, size_t errlen)
{
	const struct hcal *cal[SCHED_MAX_HOLIDAYS];
	size_t total = 0, k = 0;
	char path[32];

	free(s->hol);
	s->hol = NULL;
	s->nhol = 0;
	for (int i = 0; i < s->nhid; i++) {
		cal[i] = fn ? fn(ctx, s->hid[i], strlen(s->hid[i])) : NULL;
		if (cal[i] == NULL) {
			snprintf(path, sizeof(path), "holidays[%d]", i);
			sch_fail(err, errlen, path, "no holiday calendar '%s'",
				 s->hid[i]);
			return -ENOENT;
		}
		total += cal[i]->n;
	}
	if (total == 0)
		return 0;
	s->hol = reallocarray(NULL, total, sizeof(*s->hol));
	if (s->hol == NULL)
		return -ENOMEM;
	for (int i = 0; i < s->nhid; i++) {
		if (cal[i]->n == 0)
			continue;
		memcpy(s->hol + k, cal[i]->d, cal[i]->n * sizeof(*s->hol));
		k += cal[i]->n;
	}
	qsort(s->hol, total, sizeof(*s->hol), hol_cmp);
	k = 0;
	for (size_t i = 0; i < total; i++) {
		if (k > 0 && s->hol[k - 1].day == s->hol[i].day) {
			s->hol[k - 1].m[0] &= s->hol[i].m[0];
			s->hol[k - 1].m[1] &= s->hol[i].m[1];
			continue;
		}
		s->hol[k++] = s->hol[i];
	}
	s->nhol = k;
	return 0;
}

/* "holiday_days" of the full form: [[day, lo, hi], ...], days ascending. */
int sch_parse_holiday_days(struct sched *s, const msgpack_object *o, char *err,
			   size_t errlen)
{
	char path[40];

	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return sch_fail(err, errlen, "holiday_days", "not an array");
	if (o->via.array.size > SCHED_MAX_HOLIDAY_DAYS)
		return sch_fail(err, errlen, "holiday_days",
				"more than %d days", SCHED_MAX_HOLIDAY_DAYS);
	if (o->via.array.size == 0)
		return 0;
	s->hol = reallocarray(NULL, o->via.array.size, sizeof(*s->hol));
	if (s->hol == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];
		const msgpack_object *v;

		snprintf(path, sizeof(path), "holiday_days[%u]", i);
		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3)
			return sch_fail(err, errlen, path, "not [day, lo, hi]");
		v = e->via.array.ptr;
		for (int j = 0; j < 3; j++)
			if (v[j].type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
			    (j > 0 ||
			     v[j].type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
				return sch_fail(err, errlen, path,
						"not [day, lo, hi]");
		if (v[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER
			? v[0].via.u64 > HOL_MAX_DAY
			: v[0].via.i64 < HOL_MIN_DAY)
			return sch_fail(err, errlen, path, "day out of range");
		s->hol[i].day = v[0].via.i64;
		if (v[2].via.u64 >> 32 ||
		    (i > 0 && s->hol[i].day <= s->hol[i - 1].day))
			return sch_fail(
			    err, errlen, path,
			    "mask out of range or day out of order");
		s->hol[i].m[0] = v[1].via.u64;
		s->hol[i].m[1] = v[2].via.u64;
		s->nhol = i + 1;
	}
	return 0;
}

bool sched_has_holidays(const struct sched *s, const char *id)
{
	for (int i = 0; i < s->nhid; i++)
		if (strcmp(s->hid[i], id) == 0)
			return true;
	return false;
}

int sched_rebind(const struct sched *s, sched_resolve_fn fn, void *ctx,
		 struct sched **out, char *err, size_t errlen)
{
	struct sched *n = malloc(sizeof(*n));
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = 0;
	if (n == NULL)
		return -ENOMEM;
	*n = *s;
	n->hol = NULL;
	n->nhol = 0;
	n->over = NULL;
	if (s->nover) {
		n->over = reallocarray(NULL, s->nover, sizeof(*n->over));
		if (n->over == NULL) {
			free(n);
			return -ENOMEM;
		}
		memcpy(n->over, s->over, s->nover * sizeof(*n->over));
	}
	rc = sch_resolve_holidays(n, fn, ctx, err, errlen);
	if (rc) {
		sched_free(n);
		return rc;
	}
	*out = n;
	return 0;
}
