/*
 * when.c - times for people; see when.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "quanta.h"
#include "when.h"

#define MAX_DURATION (366 * (int64_t)DAY_SECONDS)

/* Read exactly n decimal digits at s. */
static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

int when_parse_start(const char *s, const struct tz *tz, int64_t *out)
{
	int64_t day;
	int hh, mm;
	size_t n = strlen(s);

	if (n > 0 && strspn(s, "0123456789") == n && n <= 12) {
		int64_t v = 0;
		for (size_t i = 0; i < n; i++)
			v = v * 10 + (s[i] - '0');
		*out = v;
		return 0;
	}
	if (n != 16 || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
	    q_parse_date(s, 10, &day) < 0 || !digits(s + 11, 2, &hh) ||
	    !digits(s + 14, 2, &mm) || hh > 23 || mm > 59)
		return -1;
	if (tz)
		*out = tz_local_to_utc(tz, day, hh * 3600 + mm * 60);
	else
		*out = day * DAY_SECONDS + hh * 3600 + mm * 60;
	return 0;
}

int when_parse_duration(const char *s, int64_t *out)
{
	int64_t total = 0;
	bool any = false;

	if (strspn(s, "0123456789") == strlen(s) && *s) {
		int64_t m = 0;
		for (; *s; s++) {
			m = m * 10 + (*s - '0');
			if (m * 60 > MAX_DURATION)
				return -1;
		}
		*out = m * 60;
		return m > 0 ? 0 : -1;
	}
	while (*s) {
		int64_t v = 0;
		int64_t unit;

		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++) {
			v = v * 10 + (*s - '0');
			if (v > MAX_DURATION)
				return -1;
		}
		if (*s == 'd')
			unit = DAY_SECONDS;
		else if (*s == 'h')
			unit = 3600;
		else if (*s == 'm')
			unit = 60;
		else
			return -1;
		s++;
		total += v * unit;
		if (total > MAX_DURATION)
			return -1;
		any = true;
	}
	if (!any || total <= 0)
		return -1;
	*out = total;
	return 0;
}

int when_parse_date(const char *s)
{
	int64_t day;

	return q_parse_date(s, strlen(s), &day);
}

const char *when_zone(const struct tz *tz)
{
	return tz ? tz_name(tz) : "UTC";
}

/* Local wall time of t: its day and seconds into the day. */
static void local(int64_t t, const struct tz *tz, int64_t *day, int *sec)
{
	int64_t l = t + (tz ? tz_offset_at(tz, t) : 0);

	*day = q_day_of(l);
	*sec = (int)(l - *day * DAY_SECONDS);
}

void when_format(int64_t t, const struct tz *tz, char *buf, size_t len)
{
	char date[11];
	int64_t day;
	int sec;

	local(t, tz, &day, &sec);
	q_format_date(day, date);
	snprintf(buf, len, "%s %02d:%02d %s", date, sec / 3600, sec / 60 % 60,
		 when_zone(tz));
}

void when_format_hm(int64_t t, const struct tz *tz, char *buf, size_t len)
{
	int64_t day;
	int sec;

	local(t, tz, &day, &sec);
	snprintf(buf, len, "%02d:%02d", sec / 3600, sec / 60 % 60);
}

void when_format_duration(int64_t secs, char *buf, size_t len)
{
	int64_t h = secs / 3600, m = secs / 60 % 60;

	if (h && m)
		snprintf(buf, len, "%lldh%02lldm", (long long)h, (long long)m);
	else if (h)
		snprintf(buf, len, "%lldh", (long long)h);
	else
		snprintf(buf, len, "%lldm", (long long)m);
}
