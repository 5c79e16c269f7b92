/*
 * quanta.h - the time model of SPEC section 2: 15-minute quanta, 96 per UTC
 * day, and civil dates.
 *
 * Instants are Unix seconds (int64).  Day numbers are days since 1970-01-01
 * (negative before it).  All functions are pure and thread-safe; none reads
 * the process's time zone.
 */
#ifndef BOOKD_QUANTA_H
#define BOOKD_QUANTA_H

#include <stdbool.h>
#include <stdint.h>

#define Q_SECONDS     900
#define Q_PER_DAY     96
#define DAY_SECONDS   86400
#define Q_MINUTES     (Q_SECONDS / 60)
#define Q_DAY_MINUTES (DAY_SECONDS / 60)
/* Most quarter starts in one local day: UTC offsets stay within 26 hours
 * either way, so a local day lasts less than 76 hours.  The engine's slot
 * grids and the reader's slot lists (BOOKD_READER_MAX_STARTS) use it. */
#define Q_MAX_LOCAL_DAY_STARTS (76 * 4)

static inline int64_t q_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static inline int64_t q_day_of(int64_t t)
{
	return q_floor_div(t, DAY_SECONDS);
}

/* Slot within its UTC day, 0..95 (t must be aligned). */
static inline int q_slot_of(int64_t t)
{
	return (int)((t - q_day_of(t) * DAY_SECONDS) / Q_SECONDS);
}

static inline bool q_aligned(int64_t t)
{
	return t % Q_SECONDS == 0;
}

/* Days since the epoch for a proleptic Gregorian date (month 1..12). */
int64_t q_days_from_civil(int64_t y, unsigned m, unsigned d);
void q_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* ISO weekday of a day number, Monday = 1 .. Sunday = 7. */
int q_weekday(int64_t day);
/* Parse "YYYY-MM-DD" (exactly ten bytes, a real date); -1 when invalid. */
int q_parse_date(const char *s, unsigned long len, int64_t *day);
/* Format a day as "YYYY-MM-DD" into buf[11]. */
void q_format_date(int64_t day, char buf[11]);

/* Words for messages: an instant "2026-12-03 18:15 UTC", and a length of
 * minutes "2 h", "1 h 30 min", "30 d" (NUL-terminated, truncated to len). */
void q_instant_text(int64_t t, char *buf, size_t len);
void q_minutes_text(uint64_t m, char *buf, size_t len);

/*
 * Set bits [from, to) of a 96-slot bitmap (two words).  Slots outside 0..96
 * are clipped.
 */
static inline void q_bits_set(uint64_t bm[2], int from, int to)
{
	for (int w = 0; w < 2; w++) {
		int lo = from - 64 * w, hi = to - 64 * w;
		uint64_t m;
		if (lo < 0)
			lo = 0;
		if (hi > 64)
			hi = 64;
		if (w == 1 && hi > 32)
			hi = 32;
		if (lo >= hi)
			continue;
		m = (hi - lo == 64) ? ~0ull : (((1ull << (hi - lo)) - 1) << lo);
		bm[w] |= m;
	}
}

/* A mask of slots [from, to) of one day, in two words. */
static inline void q_mask(uint64_t m[2], int from, int to)
{
	m[0] = m[1] = 0;
	q_bits_set(m, from, to);
}

#endif
