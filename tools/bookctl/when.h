/*
 * when.h - how bookctl reads and writes times for people.
 *
 * A start is "YYYY-MM-DDTHH:MM" (or with a space instead of the T), read as
 * wall time in the zone given (UTC when the zone is NULL), or plain Unix
 * seconds.  A duration is "2h", "90m", "1h30m" or a bare number of minutes.
 * Output is "2026-12-01 10:00 UTC" (or the zone's name), "10:00" for a time
 * of day, and "1h30m" for a duration.
 *
 * Everything here is pure; zones come from proto/tz.h and no process-wide
 * time zone is touched.  Parsers return 0, or -1 for text they do not
 * accept (the caller reports a usage error).
 */
#ifndef BOOKCTL_WHEN_H
#define BOOKCTL_WHEN_H

#include <stddef.h>
#include <stdint.h>

#include "tz.h"

int when_parse_start(const char *s, const struct tz *tz, int64_t *out);
/* Seconds; at most 366 days. */
int when_parse_duration(const char *s, int64_t *out);
/* "YYYY-MM-DD" with a real date. */
int when_parse_date(const char *s);

void when_format(int64_t t, const struct tz *tz, char *buf, size_t len);
void when_format_hm(int64_t t, const struct tz *tz, char *buf, size_t len);
void when_format_duration(int64_t secs, char *buf, size_t len);
/* The zone's name for output: "UTC" for NULL. */
const char *when_zone(const struct tz *tz);

#endif
