/*
 * tz.h - IANA time zones read from the system's tz database
 * (/usr/share/zoneinfo, Debian's tzdata), with no process-global state.
 *
 * What it owns: parsing TZif files (RFC 8536 versions 1 to 4, using the
 * 64-bit block when present) including the POSIX TZ footer string that
 * governs every instant after the file's last explicit transition, and the
 * conversions bookd needs: the UTC offset at an instant, the local date of an
 * instant, local wall time to UTC, and the UTC span of a local calendar day.
 * It never calls tzset(), localtime() or setenv("TZ"), so threads may use
 * different zones at once.
 *
 * Invariants:
 *   - A struct tz is immutable once loaded.  Zones from tz_get() live until
 *     the process exits (callers keep the pointer); the cache behind it is
 *     guarded by a mutex and holds at most one entry per zone file on the
 *     system, because names whose file cannot be loaded are not cached.
 *   - "UTC" and "Etc/UTC" are built in and need no file.
 *   - Offsets are bounded to less than 26 hours either way (RFC 8536's range);
 *     files outside it are refused.  Instants beyond +-2^50 seconds (about 35
 *     million years) are clamped to that range, so no arithmetic overflows.
 *   - Files with leap-second records (the "right/" zones) are refused: their
 *     transition times are not Unix time.
 *
 * How it fails: tz_get() and tz_parse() return 0 or a negative errno value:
 * -EINVAL for a name that is not a valid zone name, -ENOENT for a valid name
 * with no zone file, -EBADMSG for a file that is truncated, corrupt or
 * unsupported, -ENOMEM, or the errno of a failed open/read.  tz_strerror()
 * describes each.  Every count, offset and index in a file is checked before
 * use; a hostile file is an error, never an out-of-bounds read.  The
 * conversion functions cannot fail.
 */
#ifndef BOOKD_TZ_H
#define BOOKD_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TZ_NAME_MAX 64
#define TZ_DIR	    "/usr/share/zoneinfo"

struct tz;

/*
 * A valid name is 1..TZ_NAME_MAX bytes of '/'-separated non-empty segments
 * made of [A-Za-z0-9_+-], so it can never leave TZ_DIR.
 */
bool tz_name_valid(const char *name);

/* Load (or find in the cache) the zone called name. */
int tz_get(const char *name, const struct tz **out);

/*
 * Parse the TZif image data[0..len) into a new zone called name (any
 * string, truncated to TZ_NAME_MAX bytes); free it with tz_free().  This is
 * tz_get() without the file system and the cache.
 */
int tz_parse(const char *name, const void *data, size_t len, struct tz **out);
void tz_free(struct tz *z);

const char *tz_strerror(int e);
const char *tz_name(const struct tz *z);

/* The UTC offset in seconds (east positive) in effect at the instant. */
int64_t tz_offset_at(const struct tz *z, int64_t utc);

/* The local date (days since 1970-01-01) of an instant. */
int64_t tz_local_day_of(const struct tz *z, int64_t utc);

/*
 * Local wall time (day number, seconds of day; seconds may be 0..86400 and
 * beyond, they are added to the day) to UTC.  A wall time inside a gap
 * (spring forward) is moved forward by the gap's length: 02:30 on a day
 * that jumps from 02:00 to 03:00 gives the instant of 03:30.  A wall time
 * that occurs twice (fall back) gives the earlier instant.
 */
int64_t tz_local_to_utc(const struct tz *z, int64_t day, int32_t sec_of_day);

/*
 * The UTC instants [start, end) of local day `day`: start is the first
 * instant whose local date is that day (local midnight, or the end of a gap
 * that covers midnight) and end is the start of the next local day.
 */
void tz_local_day(const struct tz *z, int64_t day, int64_t *start,
		  int64_t *end);

#endif
