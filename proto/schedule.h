/*
 * schedule.h - weekly opening hours with date overrides, in a time zone
 * (SPEC section 3, "Schedules").  The file is not called sched.h because
 * -Iproto would then shadow the C library's <sched.h>, which <pthread.h>
 * includes.
 *
 * What it owns: validating a schedule that arrives from the wire, its
 * canonical MessagePack form, and turning it into UTC: the open bitmap of a
 * UTC day (the "open" bits of a page, see pages.h) and the open windows of
 * a local day as UTC instants (where slots.day starts its grid).
 *
 * The form on the wire and in the log:
 *   {"timezone": "Europe/Berlin",
 *    "weekly": [{"day": 1..7 (ISO, Monday = 1), "start": "HH:MM",
 *                "end": "HH:MM"}, ...],
 *    "overrides": [{"date": "YYYY-MM-DD", "windows": [{"start", "end"}]}]}
 * Times are multiples of 15 minutes with start < end; "24:00" is allowed as
 * an end and means the start of the next local day.  Windows of one day may
 * touch or overlap and are united.  An override replaces the weekly windows
 * of its date; an empty "windows" list closes the date.  "overrides" may be
 * omitted; "timezone" and "weekly" are required; any other key is an error.
 *
 * Holiday calendars: a schedule may include named calendars,
 *   "holidays": ["de-be-2027", ...]
 * each a set of dates that are closed all day or open only in the windows
 * listed for them (struct hcal, below).  A date's hours come from, in
 * order: the schedule's own override of that date, else the included
 * calendars (a date in several of them is open only where all of them
 * open it), else the weekly windows.  A schedule parsed from the wire
 * (sched_parse_wire) names its calendars and a resolver looks them up;
 * the schedule then keeps its own copy of their dates, so it stays
 * immutable and self-contained.  Its full form (sched_pack, what the log
 * and the snapshot hold) carries that copy as
 *   "holiday_days": [[day, open_lo, open_hi], ...]
 * (day number, the open quarters of that local day as a 96-bit mask),
 * which sched_parse reads back without any resolver; the wire form
 * (sched_pack_wire, what callers see) names the calendars only.  A
 * calendar change reaches a schedule through sched_rebind().
 *
 * A holiday calendar's dates on the wire:
 *   [{"date": "YYYY-MM-DD", "windows"?: [{"start", "end"}]}, ...]
 * no (or empty) "windows" closes the date all day; dates are distinct.
 *
 * Invariants:
 *   - A struct sched is immutable once parsed, so any number of threads may
 *     read one.  Its windows are kept merged and sorted, and sched_pack()
 *     writes that canonical form: weekly sorted by day then start, overrides
 *     by date, with keys in the order above.  Parsing the packed form gives
 *     an equal schedule.
 *   - Windows of local day D are wall times of D converted with
 *     tz_local_to_utc() (a time in a DST gap moves forward by the gap, a
 *     time that occurs twice is the earlier instant); 00:00 and 24:00 are
 *     the starts of local days D and D + 1 (tz_local_day()).  UTC windows
 *     are rounded inward to whole quarters, which only matters for zones
 *     whose offset is not a multiple of 15 minutes (historic local mean
 *     time); windows left empty are dropped.
 *
 * How it fails: sched_parse() returns 0, -EINVAL for invalid input with a
 * message naming the field ("weekly[2].start: not a multiple of 15
 * minutes", "timezone: unknown time zone 'Mars/Olympus'"), or -ENOMEM;
 * a failed parse leaves nothing to free.  The other functions cannot fail,
 * except that sched_local_windows() reports a too small output array.  Day
 * numbers passed in must be those of real dates (years 0..9999, what
 * q_parse_date() produces, or near them) so that day * 86400 cannot
 * overflow.
 */
#ifndef BOOKD_SCHEDULE_H
#define BOOKD_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ops.h"
#include "tz.h"

#define SCHED_MAX_WEEKLY	   64
#define SCHED_MAX_OVERRIDES	   366
#define SCHED_MAX_OVERRIDE_WINDOWS 16
/* Holiday bounds (their one source is proto/ops.h). */
#define SCHED_MAX_HOLIDAYS     PROTO_SCHED_HOLIDAYS_MAX
#define HCAL_MAX_DATES	       PROTO_HOLIDAY_DATES_MAX
#define HCAL_MAX_WINDOWS       PROTO_HOLIDAY_WINDOWS_MAX
#define SCHED_MAX_HOLIDAY_DAYS (SCHED_MAX_HOLIDAYS * HCAL_MAX_DATES)
/* The most disjoint, non-touching windows one local day can hold (96
 * quarters); an output array of this size always suffices. */
#define SCHED_DAY_MAX 48

struct sched;
struct hcal;

/* Look up the holiday calendar id[0..len) for a schedule being parsed;
 * NULL when there is none. */
typedef const struct hcal *(*sched_resolve_fn)(void *ctx, const char *id,
					       size_t len);

/* The full form (log, snapshot): "holiday_days" is read, not resolved. */
int sched_parse(const msgpack_object *obj, struct sched **out, char *err,
		size_t errlen);
/*
 * A schedule from a caller: "holiday_days" is not accepted, the calendars
 * named by "holidays" are looked up with fn.  Returns -ENOENT (message
 * "holidays[1]: no holiday calendar 'x'") when one is unknown, otherwise as
 * sched_parse().
 */
int sched_parse_wire(const msgpack_object *obj, sched_resolve_fn fn, void *ctx,
		     struct sched **out, char *err, size_t errlen);
/* A copy of s whose calendars' dates are looked up again with fn; errors
 * as sched_parse_wire(). */
int sched_rebind(const struct sched *s, sched_resolve_fn fn, void *ctx,
		 struct sched **out, char *err, size_t errlen);
/* Whether s includes the holiday calendar id. */
bool sched_has_holidays(const struct sched *s, const char *id);

/* The full form. */
void sched_pack(const struct sched *s, msgpack_packer *pk);
/* The same map with room for `extra` more entries the caller packs after. */
void sched_pack_map(const struct sched *s, msgpack_packer *pk, uint32_t extra);
/* The wire form, with room for `extra` more entries. */
void sched_pack_wire(const struct sched *s, msgpack_packer *pk, uint32_t extra);
void sched_free(struct sched *s);

/*
 * Holiday calendars: the dates of one calendar, parsed from the wire form
 * above (at most HCAL_MAX_DATES dates of at most HCAL_MAX_WINDOWS windows).
 * Immutable once parsed.  hcal_parse fails as sched_parse does, its
 * messages naming "dates[i]...".
 */
int hcal_parse(const msgpack_object *dates, struct hcal **out, char *err,
	       size_t errlen);
/* The dates array, sorted by date, windows merged. */
void hcal_pack(const struct hcal *h, msgpack_packer *pk);
size_t hcal_count(const struct hcal *h);
void hcal_free(struct hcal *h);

const struct tz *sched_tz(const struct sched *s);

/*
 * The open bitmap of UTC day utc_day: slot i (bit i % 64 of word i / 64) is
 * set iff [t, t + 900) lies inside an open window of a local day.
 */
void sched_open_bits(const struct sched *s, int64_t utc_day, uint64_t open[2]);

/*
 * The open windows of local day local_day as UTC instants [starts[i],
 * ends[i]), chronological, merged, multiples of 900.  Returns their number,
 * or -ENOSPC when there are more than max.
 */
int sched_local_windows(const struct sched *s, int64_t local_day,
			int64_t starts[], int64_t ends[], int max);

#endif
