/*
 * ical.c - the iCalendar writer; see ical.h for the rules it keeps.
 *
 * Each property is built whole in a growable buffer (name, parameters,
 * ':', value), then written folded.  Values pass through one of three
 * encoders (TEXT, quoted parameter, mailto URI), so nothing a booker typed
 * reaches the feed unencoded.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ical.h"
#include "text.h"

#define FOLD 75 /* octets per line, without the CRLF */

struct sb {
	char *p;
	size_t n, cap;
	bool oom;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->n + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void sb_str(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* The next character of s[0..n) as valid UTF-8: its length in s in *len,
 * its code point (U+FFFD for a byte that starts no valid sequence). */
static uint32_t next_char(const char *s, size_t n, size_t *len)
{
	uint32_t cp;

	*len = utf8_next((const unsigned char *)s, n, &cp);
	if (*len == 0) {
		*len = 1;
		cp = 0xfffd;
	}
	return cp;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0);
}

static void sb_cp(struct sb *b, uint32_t cp, const char *orig, size_t len)
{
	static const char repl[] = "\xef\xbf\xbd";

	if (cp == 0xfffd && len == 1)
		sb_put(b, repl, 3);
	else
		sb_put(b, orig, len);
}

/* A TEXT value (RFC 5545 3.3.11). */
static void sb_text(struct sb *b, const char *s)
{
	size_t n = s ? strlen(s) : 0, len;

	for (size_t i = 0; i < n; i += len) {
		uint32_t cp = next_char(s + i, n - i, &len);

		if (cp == '\\' || cp == ';' || cp == ',') {
			sb_put(b, "\\", 1);
			sb_put(b, s + i, 1);
		} else if (cp == '\r' && i + 1 < n && s[i + 1] == '\n') {
			continue;
		} else if (cp == '\n' || cp == '\r') {
			sb_str(b, "\\n");
		} else if (cp != '\t' && is_control(cp)) {
			sb_put(b, " ", 1);
		} else {
			sb_cp(b, cp, s + i, len);
		}
	}
}

/* A quoted parameter value (3.2): any character but controls and '"'. */
static void sb_param(struct sb *b, const char *s)
{
	size_t n = strlen(s), len;

	sb_put(b, "\"", 1);
	for (size_t i = 0; i < n; i += len) {
		uint32_t cp = next_char(s + i, n - i, &len);

		if (cp == '"')
			sb_put(b, "'", 1);
		else if (is_control(cp))
			sb_put(b, " ", 1);
		else
			sb_cp(b, cp, s + i, len);
	}
	sb_put(b, "\"", 1);
}

/* "mailto:" and the address, every byte outside a conservative set
 * percent-encoded (RFC 6068). */
static void sb_mailto(struct sb *b, const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789@.-_+!~*'()";

	sb_str(b, "mailto:");
	for (; *s; s++) {
		char hex[4];

		if (strchr(safe, *s)) {
			sb_put(b, s, 1);
		} else {
			snprintf(hex, sizeof hex, "%%%02X", (unsigned char)*s);
			sb_put(b, hex, 3);
		}
	}
}

static void sb_time(struct sb *b, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm) == 0)
		snprintf(buf, sizeof buf, "19700101T000000Z");
	sb_str(b, buf);
}

/* Write the property in b folded into lines of at most FOLD octets, and
 * empty b. */
static void flush(FILE *f, struct sb *b)
{
	size_t col = 0;

	if (b->oom) {
		/* finish() reports it; nothing half-built is written. */
		b->n = 0;
		return;
	}
	for (size_t i = 0; i < b->n;) {
		unsigned char c = (unsigned char)b->p[i];
		size_t len = c < 0x80	 ? 1
			     : c >= 0xf0 ? 4
			     : c >= 0xe0 ? 3
			     : c >= 0xc0 ? 2
					 : 1;

		if (i + len > b->n)
			len = b->n - i;
		if (col + len > FOLD) {
			fputs("\r\n ", f);
			col = 1;
		}
		fwrite(b->p + i, 1, len, f);
		col += len;
		i += len;
	}
	fputs("\r\n", f);
	b->n = 0;
}

static int finish(FILE *f, struct sb *b)
{
	bool oom = b->oom;

	free(b->p);
	return oom || ferror(f) ? -1 : 0;
}

/* NAME:TEXT-VALUE */
static void prop_text(FILE *f, struct sb *b, const char *name, const char *v)
{
	sb_str(b, name);
	sb_put(b, ":", 1);
	sb_text(b, v);
	flush(f, b);
}

static void prop_time(FILE *f, struct sb *b, const char *name, int64_t t)
{
	sb_str(b, name);
	sb_put(b, ":", 1);
	sb_time(b, t);
	flush(f, b);
}

int ical_begin(FILE *f, const char *name, const char *zone)
{
	struct sb b = {0};

	fputs("BEGIN:VCALENDAR\r\n"
	      "VERSION:2.0\r\n"
	      "PRODID:-//bookd//bookd calendar feed//EN\r\n"
	      "CALSCALE:GREGORIAN\r\n"
	      "METHOD:PUBLISH\r\n",
	      f);
	if (name)
		prop_text(f, &b, "X-WR-CALNAME", name);
	if (zone)
		prop_text(f, &b, "X-WR-TIMEZONE", zone);
	return finish(f, &b);
}

static const char *ical_status(const char *status)
{
	if (strcmp(status, "pending") == 0)
		return "TENTATIVE";
	if (strcmp(status, "cancelled") == 0 || strcmp(status, "declined") == 0)
		return "CANCELLED";
	return "CONFIRMED";
}

static bool set(const char *s)
{
	return s && *s;
}

/* "label: value\n" into the description when value is set. */
static void desc_line(struct sb *d, const char *label, const char *v)
{
	if (!set(v))
		return;
	if (d->n)
		sb_put(d, "\n", 1);
	sb_str(d, label);
	sb_str(d, ": ");
	sb_str(d, v);
}

int ical_event(FILE *f, const struct ical_booking *bk, const char *domain,
	       bool with_booker)
{
	const char *st = ical_status(bk->status ? bk->status : "");
	struct sb b = {0}, d = {0};
	char num[32];
	int rc;

	fputs("BEGIN:VEVENT\r\n", f);
	snprintf(num, sizeof num, "booking-%" PRIu64 "@", bk->id);
	sb_str(&b, "UID:");
	sb_str(&b, num);
	sb_text(&b, set(domain) ? domain : "bookd");
	flush(f, &b);
	prop_time(f, &b, "DTSTAMP", bk->updated_ms / 1000);
	if (bk->created_ms > 0)
		prop_time(f, &b, "CREATED", bk->created_ms / 1000);
	prop_time(f, &b, "LAST-MODIFIED", bk->updated_ms / 1000);
	snprintf(num, sizeof num, "SEQUENCE:%u", bk->sequence);
	sb_str(&b, num);
	flush(f, &b);
	prop_time(f, &b, "DTSTART", bk->start);
	prop_time(f, &b, "DTEND", bk->end);

	/* The title; an admin sees whose booking it is. */
	sb_str(&d, set(bk->title) ? bk->title : "Booked");
	if (with_booker && set(bk->name)) {
		sb_str(&d, ": ");
		sb_str(&d, bk->name);
	}
	if (!d.oom) {
		sb_put(&d, "\0", 1);
		prop_text(f, &b, "SUMMARY", d.p);
	}
	d.n = 0;
	if (set(bk->location))
		prop_text(f, &b, "LOCATION", bk->location);
	snprintf(num, sizeof num, "STATUS:%s", st);
	sb_str(&b, num);
	flush(f, &b);
	sb_str(&b, strcmp(st, "CANCELLED") == 0 ? "TRANSP:TRANSPARENT"
						: "TRANSP:OPAQUE");
	flush(f, &b);

	if (with_booker) {
		desc_line(&d, "Booker", bk->name);
		desc_line(&d, "E-mail", bk->email);
		desc_line(&d, "Phone", bk->phone);
		desc_line(&d, "Notes", bk->notes);
		desc_line(&d, "Note", bk->note);
		desc_line(&d, "Status", bk->status);
		desc_line(&d, "Ref", bk->ref);
		if (d.n && !d.oom) {
			sb_put(&d, "\0", 1);
			prop_text(f, &b, "DESCRIPTION", d.p);
		}
		if (set(bk->email)) {
			sb_str(&b, "ATTENDEE");
			if (set(bk->name)) {
				sb_str(&b, ";CN=");
				sb_param(&b, bk->name);
			}
			sb_str(&b, ";ROLE=REQ-PARTICIPANT:");
			sb_mailto(&b, bk->email);
			flush(f, &b);
		}
	}
	fputs("END:VEVENT\r\n", f);
	rc = d.oom ? -1 : 0;
	free(d.p);
	return finish(f, &b) < 0 ? -1 : rc;
}

int ical_end(FILE *f)
{
	fputs("END:VCALENDAR\r\n", f);
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
