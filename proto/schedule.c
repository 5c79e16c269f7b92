/*
 * schedule.c - schedules: validation, canonical form and conversion to UTC
 * (see schedule.h).
 *
 * Windows are kept as quarter indexes of the local day, 0..96, so a window
 * is two small integers and "24:00" is simply 96.  A parsed schedule holds
 * the merged windows of each ISO weekday and a date-sorted array of
 * overrides, looked up by binary search; its holiday dates (holidays.c)
 * come between the two.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule_int.h"
#include "wire.h"

/* Errors. */

int sch_fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (errlen == 0)
		return -EINVAL;
	n = snprintf(err, errlen, "%s: ", path[0] ? path : "schedule");
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void sch_printable(const char *s, size_t n, char *buf, size_t len)
{
	size_t i, k = 0;

	for (i = 0; i < n && i < 32 && k + 1 < len; i++)
		buf[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n && k + 3 < len) {
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = 0;
}

void sch_join(char *buf, size_t len, const char *path, const char *key)
{
	snprintf(buf, len, "%s%s%s", path, path[0] ? "." : "", key);
}

int sch_get_fields(const msgpack_object *m, const char *path, struct field *f,
		   int nf, char *err, size_t errlen)
{
	char key[40], sub[96];

	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return sch_fail(err, errlen, path, "not a map");
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		int j;

		if (k->type != MSGPACK_OBJECT_STR)
			return sch_fail(err, errlen, path,
					"keys must be strings");
		for (j = 0; j < nf; j++)
			if (wire_str_eq(k, f[j].key))
				break;
		if (j == nf) {
			sch_printable(k->via.str.ptr, k->via.str.size, key,
				      sizeof(key));
			sch_join(sub, sizeof(sub), path, key);
			return sch_fail(err, errlen, sub, "unknown field");
		}
		if (f[j].val != NULL) {
			sch_join(sub, sizeof(sub), path, f[j].key);
			return sch_fail(err, errlen, sub, "duplicate field");
		}
		f[j].val = &m->via.map.ptr[i].val;
	}
	return 0;
}

/* Parsing. */

/* "HH:MM" as a quarter index 0..96; 24:00 only as an end. */
static int parse_time(const msgpack_object *o, const char *path, bool is_end,
		      int *q, char *err, size_t errlen)
{
	const char *s;
	int h, m;

	if (o == NULL)
		return sch_fail(err, errlen, path, "required");
	if (o->type != MSGPACK_OBJECT_STR)
		return sch_fail(err, errlen, path, "not a string \"HH:MM\"");
	s = o->via.str.ptr;
	if (o->via.str.size != 5 || s[2] != ':' || s[0] < '0' || s[0] > '9' ||
	    s[1] < '0' || s[1] > '9' || s[3] < '0' || s[3] > '9' ||
	    s[4] < '0' || s[4] > '9')
		return sch_fail(err, errlen, path, "not a time \"HH:MM\"");
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return sch_fail(err, errlen, path, "not a time \"HH:MM\"");
	if (m % 15 != 0)
		return sch_fail(err, errlen, path,
				"not a multiple of 15 minutes");
	if (h == 24 && !is_end)
		return sch_fail(err, errlen, path,
				"24:00 is only valid as an end");
	*q = h * 4 + m / 15;
	return 0;
}

/* {"start", "end"} and, for weekly windows, "day". */
int sch_parse_window(const msgpack_object *o, const char *path, int *day,
		     struct swin *w, char *err, size_t errlen)
{
	struct field f[] = {{"start", NULL}, {"end", NULL}, {"day", NULL}};
	char sub[96];
	int s, e, rc;

	rc = sch_get_fields(o, path, f, day ? 3 : 2, err, errlen);
	if (rc)
		return rc;
	if (day) {
		sch_join(sub, sizeof(sub), path, "day");
		if (f[2].val == NULL)
			return sch_fail(err, errlen, sub, "required");
		if (f[2].val->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    f[2].val->via.u64 < 1 || f[2].val->via.u64 > 7)
			return sch_fail(err, errlen, sub,
					"not a weekday 1..7 (Monday = 1)");
		*day = (int)f[2].val->via.u64;
	}
	sch_join(sub, sizeof(sub), path, "start");
	rc = parse_time(f[0].val, sub, false, &s, err, errlen);
	if (rc)
		return rc;
	sch_join(sub, sizeof(sub), path, "end");
	rc = parse_time(f[1].val, sub, true, &e, err, errlen);
	if (rc)
		return rc;
	if (e <= s)
		return sch_fail(err, errlen, sub, "not after start");
	w->start = (uint8_t)s;
	w->end = (uint8_t)e;
	return 0;
}

static int win_cmp(const void *a, const void *b)
{
	const struct swin *x = a, *y = b;

	return (int)x->start - (int)y->start;
}

/* Sort and unite touching or overlapping windows in place; returns the new
 * count. */
static int merge(struct swin *w, int n)
{
	int k = 0;

	qsort(w, (size_t)n, sizeof(*w), win_cmp);
	for (int i = 0; i < n; i++) {
		if (k > 0 && w[i].start <= w[k - 1].end) {
			if (w[i].end > w[k - 1].end)
				w[k - 1].end = w[i].end;
			continue;
		}
		w[k++] = w[i];
	}
	return k;
}

static int parse_weekly(struct sched *s, const msgpack_object *o, char *err,
			size_t errlen)
{
	/* Raw windows per day before merging: at most the whole list. */
	struct swin raw[7][SCHED_MAX_WEEKLY];
	int nraw[7] = {0};
	char path[32];

	if (o == NULL)
		return sch_fail(err, errlen, "weekly", "required");
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return sch_fail(err, errlen, "weekly", "not an array");
	if (o->via.array.size > SCHED_MAX_WEEKLY)
		return sch_fail(err, errlen, "weekly", "more than %d windows",
				SCHED_MAX_WEEKLY);
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		struct swin w;
		int day, rc;

		snprintf(path, sizeof(path), "weekly[%u]", i);
		rc = sch_parse_window(&o->via.array.ptr[i], path, &day, &w, err,
				      errlen);
		if (rc)
			return rc;
		raw[day - 1][nraw[day - 1]++] = w;
	}
	for (int d = 0; d < 7; d++) {
		/* Disjoint, non-touching windows number at most 48, so the
		 * merged list always fits. */
		s->weekly[d].n = merge(raw[d], nraw[d]);
		memcpy(s->weekly[d].w, raw[d],
		       (size_t)s->weekly[d].n * sizeof(struct swin));
	}
	return 0;
}

static int over_cmp(const void *a, const void *b)
{
	const struct sover *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return x->idx - y->idx;
}

int sch_parse_dated(const msgpack_object *o, const char *list, uint32_t i,
		    int64_t *day, const msgpack_object **ws, char *wpath,
		    size_t wpathlen, char *err, size_t errlen)
{
	struct field f[] = {{"date", NULL}, {"windows", NULL}};
	char path[32], sub[64];
	int rc;

	snprintf(path, sizeof(path), "%s[%u]", list, i);
	rc = sch_get_fields(o, path, f, 2, err, errlen);
	if (rc)
		return rc;
	sch_join(sub, sizeof(sub), path, "date");
	if (f[0].val == NULL)
		return sch_fail(err, errlen, sub, "required");
	if (f[0].val->type != MSGPACK_OBJECT_STR ||
	    q_parse_date(f[0].val->via.str.ptr, f[0].val->via.str.size, day))
		return sch_fail(err, errlen, sub,
				"not a valid date \"YYYY-MM-DD\"");
	sch_join(wpath, wpathlen, path, "windows");
	*ws = f[1].val;
	return 0;
}

int sch_check_windows(const msgpack_object *ws, const char *path, int max,
		      char *err, size_t errlen)
{
	if (ws->type != MSGPACK_OBJECT_ARRAY)
		return sch_fail(err, errlen, path, "not an array");
	if (ws->via.array.size > (uint32_t)max)
		return sch_fail(err, errlen, path, "more than %d windows", max);
	return 0;
}

static int parse_override(struct sover *ov, const msgpack_object *o, uint32_t i,
			  char *err, size_t errlen)
{
	const msgpack_object *ws;
	char sub[64];
	int rc;

	rc = sch_parse_dated(o, "overrides", i, &ov->day, &ws, sub, sizeof(sub),
			     err, errlen);
	if (rc)
		return rc;
	if (ws == NULL)
		return sch_fail(err, errlen, sub, "required");
	rc =
	    sch_check_windows(ws, sub, SCHED_MAX_OVERRIDE_WINDOWS, err, errlen);
	if (rc)
		return rc;
	ov->idx = (int)i;
	ov->n = 0;
	for (uint32_t j = 0; j < ws->via.array.size; j++) {
		char wpath[80];

		snprintf(wpath, sizeof(wpath), "%s[%u]", sub, j);
		rc = sch_parse_window(&ws->via.array.ptr[j], wpath, NULL,
				      &ov->w[ov->n], err, errlen);
		if (rc)
			return rc;
		ov->n++;
	}
	ov->n = merge(ov->w, ov->n);
	return 0;
}

static int parse_overrides(struct sched *s, const msgpack_object *o, char *err,
			   size_t errlen)
{
	char path[40];
	int rc;

	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return sch_fail(err, errlen, "overrides", "not an array");
	if (o->via.array.size > SCHED_MAX_OVERRIDES)
		return sch_fail(err, errlen, "overrides", "more than %d dates",
				SCHED_MAX_OVERRIDES);
	if (o->via.array.size == 0)
		return 0;
	s->over = reallocarray(NULL, o->via.array.size, sizeof(*s->over));
	if (s->over == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		rc = parse_override(&s->over[i], &o->via.array.ptr[i], i, err,
				    errlen);
		if (rc)
			return rc;
	}
	s->nover = o->via.array.size;
	qsort(s->over, s->nover, sizeof(*s->over), over_cmp);
	for (size_t i = 1; i < s->nover; i++) {
		if (s->over[i].day == s->over[i - 1].day) {
			snprintf(path, sizeof(path), "overrides[%d].date",
				 s->over[i].idx);
			return sch_fail(err, errlen, path,
					"same date as overrides[%d]",
					s->over[i - 1].idx);
		}
	}
	return 0;
}

void sch_pack_windows(msgpack_packer *pk, const struct swin *w, int n)
{
	msgpack_pack_array(pk, (size_t)n);
	for (int j = 0; j < n; j++) {
		msgpack_pack_map(pk, 2);
		sch_pack_time(pk, "start", w[j].start);
		sch_pack_time(pk, "end", w[j].end);
	}
}

static int parse_tz(struct sched *s, const msgpack_object *o, char *err,
		    size_t errlen)
{
	char name[TZ_NAME_MAX + 1];
	int rc;

	if (o == NULL)
		return sch_fail(err, errlen, "timezone", "required");
	if (o->type != MSGPACK_OBJECT_STR)
		return sch_fail(err, errlen, "timezone", "not a string");
	if (wire_cstr(o, name, sizeof(name)) || !tz_name_valid(name))
		return sch_fail(err, errlen, "timezone",
				"not a valid time zone name");
	rc = tz_get(name, &s->tz);
	if (rc == -ENOMEM)
		return rc;
	if (rc == -ENOENT)
		return sch_fail(err, errlen, "timezone",
				"unknown time zone '%s'", name);
	if (rc)
		return sch_fail(err, errlen, "timezone", "%s '%s'",
				tz_strerror(rc), name);
	return 0;
}

void sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	free(s->over);
	free(s->hol);
	free(s);
}

/* Both forms: with wire set, "holiday_days" is an unknown field and the
 * calendars are looked up with fn. */
static int parse(const msgpack_object *obj, bool wire, sched_resolve_fn fn,
		 void *ctx, struct sched **out, char *err, size_t errlen)
{
	struct field f[] = {{"timezone", NULL},
			    {"weekly", NULL},
			    {"overrides", NULL},
			    {"holidays", NULL},
			    {"holiday_days", NULL}};
	struct sched *s;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = 0;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		sch_fail(err, errlen, "", "out of memory");
		return -ENOMEM;
	}
	rc = sch_get_fields(obj, "", f, wire ? 4 : 5, err, errlen);
	if (rc == 0)
		rc = parse_tz(s, f[0].val, err, errlen);
	if (rc == 0)
		rc = parse_weekly(s, f[1].val, err, errlen);
	if (rc == 0)
		rc = parse_overrides(s, f[2].val, err, errlen);
	if (rc == 0)
		rc = sch_parse_holiday_ids(s, f[3].val, err, errlen);
	if (rc == 0 && wire)
		rc = sch_resolve_holidays(s, fn, ctx, err, errlen);
	if (rc == 0 && !wire)
		rc = sch_parse_holiday_days(s, f[4].val, err, errlen);
	if (rc == -ENOMEM)
		sch_fail(err, errlen, "", "out of memory");
	if (rc) {
		sched_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int sched_parse(const msgpack_object *obj, struct sched **out, char *err,
		size_t errlen)
{
	return parse(obj, false, NULL, NULL, out, err, errlen);
}

int sched_parse_wire(const msgpack_object *obj, sched_resolve_fn fn, void *ctx,
		     struct sched **out, char *err, size_t errlen)
{
	return parse(obj, true, fn, ctx, out, err, errlen);
}

/* The canonical form. */

void sch_pack_time(msgpack_packer *pk, const char *key, unsigned q)
{
	char buf[6];

	snprintf(buf, sizeof(buf), "%02u:%02u", (q / 4) % 100, (q % 4) * 15);
	wire_pk_kstr(pk, key, buf);
}

void sched_pack(const struct sched *s, msgpack_packer *pk)
{
	sched_pack_map(s, pk, 0);
}

static void pack_form(const struct sched *s, msgpack_packer *pk, uint32_t extra,
		      bool full)
{
	size_t nweekly = 0;
	char date[11];

	msgpack_pack_map(pk, 3 + extra + (s->nhid ? 1 + full : 0));
	wire_pk_kstr(pk, "timezone", tz_name(s->tz));
	for (int d = 0; d < 7; d++)
		nweekly += (size_t)s->weekly[d].n;
	wire_pk_str(pk, "weekly");
	msgpack_pack_array(pk, nweekly);
	for (int d = 0; d < 7; d++) {
		for (int i = 0; i < s->weekly[d].n; i++) {
			msgpack_pack_map(pk, 3);
			wire_pk_kint(pk, "day", d + 1);
			sch_pack_time(pk, "start", s->weekly[d].w[i].start);
			sch_pack_time(pk, "end", s->weekly[d].w[i].end);
		}
	}
	wire_pk_str(pk, "overrides");
	msgpack_pack_array(pk, s->nover);
	for (size_t i = 0; i < s->nover; i++) {
		const struct sover *ov = &s->over[i];

		msgpack_pack_map(pk, 2);
		q_format_date(ov->day, date);
		wire_pk_kstr(pk, "date", date);
		wire_pk_str(pk, "windows");
		sch_pack_windows(pk, ov->w, ov->n);
	}
	if (s->nhid == 0)
		return;
	wire_pk_str(pk, "holidays");
	msgpack_pack_array(pk, (size_t)s->nhid);
	for (int i = 0; i < s->nhid; i++)
		wire_pk_str(pk, s->hid[i]);
	if (!full)
		return;
	wire_pk_str(pk, "holiday_days");
	msgpack_pack_array(pk, s->nhol);
	for (size_t i = 0; i < s->nhol; i++) {
		msgpack_pack_array(pk, 3);
		msgpack_pack_int64(pk, s->hol[i].day);
		msgpack_pack_uint64(pk, s->hol[i].m[0]);
		msgpack_pack_uint64(pk, s->hol[i].m[1]);
	}
}

void sched_pack_map(const struct sched *s, msgpack_packer *pk, uint32_t extra)
{
	pack_form(s, pk, extra, true);
}

void sched_pack_wire(const struct sched *s, msgpack_packer *pk, uint32_t extra)
{
	pack_form(s, pk, extra, false);
}

const struct tz *sched_tz(const struct sched *s)
{
	return s->tz;
}

/* Conversion to UTC. */

/* The windows of local day `day`: its override, else its holiday (built
 * in buf), else its weekday's. */
static void day_windows(const struct sched *s, int64_t day,
			struct swin buf[SCHED_DAY_MAX], const struct swin **w,
			int *n)
{
	size_t lo = 0, hi = s->nover;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->over[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->nover && s->over[lo].day == day) {
		*w = s->over[lo].w;
		*n = s->over[lo].n;
		return;
	}
	lo = 0;
	hi = s->nhol;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->hol[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->nhol && s->hol[lo].day == day) {
		*n = sch_mask_windows(s->hol[lo].m, buf);
		*w = buf;
		return;
	}
	*w = s->weekly[q_weekday(day) - 1].w;
	*n = s->weekly[q_weekday(day) - 1].n;
}

/* A wall-clock quarter of local day `day` as a UTC instant; 0 and 96 are
 * the starts of this day and the next, so 00:00-24:00 is the whole day. */
static int64_t wall_to_utc(const struct tz *z, int64_t day, int q)
{
	int64_t start, end;

	if (q == 0 || q == QUARTERS) {
		tz_local_day(z, q == 0 ? day : day + 1, &start, &end);
		return start;
	}
	return tz_local_to_utc(z, day, q * Q_SECONDS);
}

/*
 * The windows of a local day in UTC, rounded inward to quarters, empty ones
 * dropped, sorted and merged.  Sorting is needed: a start moved forward out
 * of a DST gap can land after the start of a later window.
 */
static int utc_windows(const struct sched *s, int64_t day,
		       int64_t st[SCHED_DAY_MAX], int64_t en[SCHED_DAY_MAX])
{
	struct swin buf[SCHED_DAY_MAX];
	const struct swin *w;
	int n, k = 0, m = 0;

	day_windows(s, day, buf, &w, &n);
	for (int i = 0; i < n; i++) {
		int64_t a = wall_to_utc(s->tz, day, w[i].start);
		int64_t b = wall_to_utc(s->tz, day, w[i].end);
		int j = k;

		a = -q_floor_div(-a, Q_SECONDS) * Q_SECONDS;
		b = q_floor_div(b, Q_SECONDS) * Q_SECONDS;
		if (a >= b)
			continue;
		while (j > 0 && st[j - 1] > a) {
			st[j] = st[j - 1];
			en[j] = en[j - 1];
			j--;
		}
		st[j] = a;
		en[j] = b;
		k++;
	}
	for (int i = 0; i < k; i++) {
		if (m > 0 && st[i] <= en[m - 1]) {
			if (en[i] > en[m - 1])
				en[m - 1] = en[i];
			continue;
		}
		st[m] = st[i];
		en[m] = en[i];
		m++;
	}
	return m;
}

int sched_local_windows(const struct sched *s, int64_t local_day,
			int64_t starts[], int64_t ends[], int max)
{
	int64_t st[SCHED_DAY_MAX], en[SCHED_DAY_MAX];
	int n = utc_windows(s, local_day, st, en);

	if (n > max)
		return -ENOSPC;
	memcpy(starts, st, (size_t)n * sizeof(*st));
	memcpy(ends, en, (size_t)n * sizeof(*en));
	return n;
}

void sched_open_bits(const struct sched *s, int64_t utc_day, uint64_t open[2])
{
	int64_t u0 = utc_day * DAY_SECONDS, u1 = u0 + DAY_SECONDS;
	int64_t st[SCHED_DAY_MAX], en[SCHED_DAY_MAX];
	/* The local days of the first and last instant, one more either side:
	 * around a fold that crosses midnight, local dates are not monotonic
	 * and a neighbouring day can reach into this UTC day. */
	int64_t d0 = tz_local_day_of(s->tz, u0) - 1;
	int64_t d1 = tz_local_day_of(s->tz, u1 - 1) + 1;

	open[0] = open[1] = 0;
	for (int64_t d = d0; d <= d1; d++) {
		int n = utc_windows(s, d, st, en);
		for (int i = 0; i < n; i++) {
			int64_t a = st[i] > u0 ? st[i] : u0;
			int64_t b = en[i] < u1 ? en[i] : u1;
			if (a < b)
				q_bits_set(open, (int)((a - u0) / Q_SECONDS),
					   (int)((b - u0) / Q_SECONDS));
		}
	}
}
