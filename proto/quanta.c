/*
 * quanta.c - civil date arithmetic for quanta.h.
 *
 * days_from_civil / civil_from_days are Howard Hinnant's public-domain
 * algorithms: exact for every proleptic Gregorian date, no tables, no
 * time-zone state.
 */
#include <inttypes.h>
#include <stdio.h>

#include "quanta.h"

int64_t q_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void q_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int q_weekday(int64_t day)
{
	/* 1970-01-01 was a Thursday (4). */
	int64_t w = (day + 3) % 7;
	if (w < 0)
		w += 7;
	return (int)w + 1;
}

static int digits(const char *s, int n, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

int q_parse_date(const char *s, unsigned long len, int64_t *day)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
					 31, 31, 30, 31, 30, 31};
	unsigned y, m, d;

	if (len != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) ||
	    digits(s + 5, 2, &m) || digits(s + 8, 2, &d))
		return -1;
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 &&
	    !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	*day = q_days_from_civil(y, m, d);
	return 0;
}

void q_format_date(int64_t day, char buf[11])
{
	int64_t y;
	unsigned m, d;

	q_civil_from_days(day, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = 0; /* outside what a date string can say; never in range */
	buf[0] = (char)('0' + y / 1000);
	buf[1] = (char)('0' + y / 100 % 10);
	buf[2] = (char)('0' + y / 10 % 10);
	buf[3] = (char)('0' + y % 10);
	buf[4] = '-';
	buf[5] = (char)('0' + m / 10);
	buf[6] = (char)('0' + m % 10);
	buf[7] = '-';
	buf[8] = (char)('0' + d / 10);
	buf[9] = (char)('0' + d % 10);
	buf[10] = 0;
}

void q_instant_text(int64_t t, char *buf, size_t len)
{
	char date[11];
	int64_t day = q_day_of(t);
	int64_t sec = t - day * DAY_SECONDS;

	q_format_date(day, date);
	snprintf(buf, len, "%s %02d:%02d UTC", date, (int)(sec / 3600),
		 (int)(sec / 60 % 60));
}

void q_minutes_text(uint64_t m, char *buf, size_t len)
{
	if (m % 1440 == 0)
		snprintf(buf, len, "%" PRIu64 " d", m / 1440);
	else if (m % 60 == 0)
		snprintf(buf, len, "%" PRIu64 " h", m / 60);
	else if (m > 60)
		snprintf(buf, len, "%" PRIu64 " h %" PRIu64 " min", m / 60,
			 m % 60);
	else
		snprintf(buf, len, "%" PRIu64 " min", m);
}
