/*
 * schedule_int.h - what schedule.c (schedules) and holidays.c (holiday
 * calendars and the holiday part of a schedule) share, and no one else
 * uses: the parsed forms and the helpers that parse and pack them.
 * See schedule.h for the formats, the invariants and how they fail.
 */
#ifndef BOOKD_SCHEDULE_INT_H
#define BOOKD_SCHEDULE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "quanta.h"
#include "schedule.h"

#define QUARTERS Q_PER_DAY

struct swin {
	uint8_t start, end; /* quarters of the local day, start < end <= 96 */
};

struct sday {
	int n;
	struct swin w[SCHED_DAY_MAX];
};

struct sover {
	int64_t day;
	int idx; /* position in the input, for error messages only */
	int n;
	struct swin w[SCHED_MAX_OVERRIDE_WINDOWS];
};

/* A holiday date: the quarters of local day `day` that are open. */
struct shol {
	int64_t day;
	uint64_t m[2];
};

struct hcal {
	size_t n;
	struct shol *d; /* sorted by day, days distinct */
};

struct sched {
	const struct tz *tz;
	struct sday weekly[7]; /* [ISO day - 1] */
	size_t nover;
	struct sover *over; /* sorted by day, days distinct */
	int nhid;	    /* included calendars, in the order given */
	char hid[SCHED_MAX_HOLIDAYS][PROTO_SLUG_MAX + 1];
	size_t nhol;
	struct shol *hol; /* their dates, united; sorted, days distinct */
};

/* Day numbers of 0000-01-01 and 9999-12-31, the dates q_parse_date()
 * accepts. */
#define HOL_MIN_DAY (-719528)
#define HOL_MAX_DAY 2932896

/* Write "path: message" into err (a bare path names the whole schedule);
 * returns -EINVAL. */
int sch_fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An untrusted key into buf for a message: printable ASCII only, at most
 * 32 bytes, marked when cut. */
void sch_printable(const char *s, size_t n, char *buf, size_t len);
/* "path.key" into buf. */
void sch_join(char *buf, size_t len, const char *path, const char *key);

struct field {
	const char *key;
	const msgpack_object *val;
};

/* Match the keys of map m against f[0..nf); a key that is not a string,
 * not listed or repeated is an error.  Found values land in f[i].val. */
int sch_get_fields(const msgpack_object *m, const char *path, struct field *f,
		   int nf, char *err, size_t errlen);
/* {"start", "end"} and, when day is set, "day". */
int sch_parse_window(const msgpack_object *o, const char *path, int *day,
		     struct swin *w, char *err, size_t errlen);
/*
 * The head of a dated entry list[i] = {date, windows?}: its fields, the
 * date into *day, the windows value (NULL when absent) into *ws, and
 * "list[i].windows" into wpath for the caller's messages.
 */
int sch_parse_dated(const msgpack_object *o, const char *list, uint32_t i,
		    int64_t *day, const msgpack_object **ws, char *wpath,
		    size_t wpathlen, char *err, size_t errlen);
/* ws is an array of at most max windows (path names it). */
int sch_check_windows(const msgpack_object *ws, const char *path, int max,
		      char *err, size_t errlen);
/* key: "HH:MM" of quarter q. */
void sch_pack_time(msgpack_packer *pk, const char *key, unsigned q);
/* [{start, end}, ...] of w[0..n). */
void sch_pack_windows(msgpack_packer *pk, const struct swin *w, int n);

/* holidays.c */
/* The windows of a 96-quarter mask, merged and in order; their number. */
int sch_mask_windows(const uint64_t m[2], struct swin w[SCHED_DAY_MAX]);
/* "holidays": an array of distinct slugs, into s->hid. */
int sch_parse_holiday_ids(struct sched *s, const msgpack_object *o, char *err,
			  size_t errlen);
/* Look s's calendars up with fn and unite their dates into s->hol;
 * -ENOENT naming an unknown one. */
int sch_resolve_holidays(struct sched *s, sched_resolve_fn fn, void *ctx,
			 char *err, size_t errlen);
/* "holiday_days" of the full form. */
int sch_parse_holiday_days(struct sched *s, const msgpack_object *o, char *err,
			   size_t errlen);

#endif
