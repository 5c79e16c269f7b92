/*
 * mail.c - the emails bookd-notify sends to bookers: the six kinds of the
 * booking lifecycle plus the reminder, each with a text and an HTML part and
 * (except reminders) an iCalendar attachment.
 *
 * Every value that comes from a booking (name, title, reason, resources,
 * zone) is escaped for where it lands: HTML-escaped in the HTML part,
 * TEXT-escaped (RFC 5545 section 3.3.11) in the .ics, RFC 2047-encoded and
 * stripped of control characters in headers, JSON-escaped for the email
 * API.  The booker's address must pass mail_addr_ok() or no mail is made.
 * Management links ({base-url}/booking/{ref}) go only into these mails,
 * which only ever go to the booker.
 *
 * Times are shown in the booking's zone, named, with its UTC offset at
 * that instant ("Monday, 7 December 2026, 14:00 (Europe/Berlin, UTC+01:00)").
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify.h"
#include "tz.h"

const char *const mail_kind_names[MAIL__COUNT] = {
    "confirmed", "received",	"approved", "declined",
    "cancelled", "rescheduled", "reminder",
};

struct sb {
	char *p;
	size_t n, cap;
};

static void sb_addn(struct sb *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 1024;
		while (c < b->n + n + 1)
			c *= 2;
		char *np = realloc(b->p, c);
		if (np == NULL) {
			notify_log("out of memory");
			exit(1);
		}
		b->p = np;
		b->cap = c;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void sb_add(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void sb_addf(struct sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_addf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	char small[512], *big = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		sb_addn(b, small, (size_t)n);
		return;
	}
	va_start(ap, fmt);
	n = vasprintf(&big, fmt, ap);
	va_end(ap);
	if (n >= 0)
		sb_addn(b, big, (size_t)n);
	free(big);
}

static void sb_html(struct sb *b, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '<':
			sb_add(b, "&lt;");
			break;
		case '>':
			sb_add(b, "&gt;");
			break;
		case '&':
			sb_add(b, "&amp;");
			break;
		case '"':
			sb_add(b, "&quot;");
			break;
		case '\'':
			sb_add(b, "&#39;");
			break;
		default:
			sb_addn(b, s, 1);
		}
}

/* Plain text: control characters other than newline become spaces. */
static void sb_text(struct sb *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		sb_addn(b, c < 0x20 && c != '\n' ? " " : s, 1);
	}
}

static void sb_json(struct sb *b, const char *s)
{
	sb_add(b, "\"");
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			sb_addn(b, "\\", 1);
			sb_addn(b, s, 1);
		} else if (c < 0x20) {
			sb_addf(b, "\\u%04x", c);
		} else {
			sb_addn(b, s, 1);
		}
	}
	sb_add(b, "\"");
}

void mail_bare_addr(const char *s, char out[NOTIFY_TARGET_MAX])
{
	const char *lt = strrchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (lt && gt && gt > lt)
		snprintf(out, NOTIFY_TARGET_MAX, "%.*s", (int)(gt - lt - 1),
			 lt + 1);
	else
		snprintf(out, NOTIFY_TARGET_MAX, "%s", s);
}

bool mail_addr_ok(const char *s)
{
	size_t n = strlen(s);
	const char *at = strchr(s, '@');

	if (n < 3 || n > 254 || at == NULL || at == s || at[1] == 0 ||
	    strchr(at + 1, '@'))
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || strchr("<>()[],;:\"\\", c))
			return false;
	}
	return true;
}

/* ---- time ------------------------------------------------------------- */

/* Days since 1970-01-01 to y, m, d (Howard Hinnant's algorithm). */
static void civil(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

static int64_t fdiv(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static const char *const wdays[] = {"Thursday", "Friday",  "Saturday", "Sunday",
				    "Monday",	"Tuesday", "Wednesday"};
static const char *const months[] = {
    "January", "February", "March",	"April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

static const struct tz *zone_of(const char *name)
{
	const struct tz *z = NULL;

	if (name && name[0] && tz_get(name, &z) == 0)
		return z;
	tz_get("UTC", &z);
	return z;
}

/* "Monday, 7 December 2026, 14:00 (Europe/Berlin, UTC+01:00)" */
static void fmt_when(const char *zone, int64_t t, char *out, size_t len)
{
	const struct tz *z = zone_of(zone);
	int64_t off = z ? tz_offset_at(z, t) : 0;
	int64_t l = t + off, day = fdiv(l, 86400), sec = l - day * 86400;
	int y, m, d;
	int64_t ao = off < 0 ? -off : off;

	civil(day, &y, &m, &d);
	snprintf(out, len, "%s, %d %s %d, %02d:%02d (%s, UTC%c%02d:%02d)",
		 wdays[((day % 7) + 7) % 7], d, months[m - 1], y,
		 (int)(sec / 3600), (int)(sec % 3600 / 60),
		 z ? tz_name(z) : "UTC", off < 0 ? '-' : '+', (int)(ao / 3600),
		 (int)(ao % 3600 / 60));
}

static void fmt_dur(int64_t s, char *out, size_t len)
{
	int64_t h = s / 3600, m = s % 3600 / 60;

	if (h && m)
		snprintf(out, len, "%" PRId64 " h %" PRId64 " min", h, m);
	else if (h)
		snprintf(out, len, "%" PRId64 " h", h);
	else
		snprintf(out, len, "%" PRId64 " min", m);
}

static void ical_time(int64_t t, char out[20])
{
	int64_t day = fdiv(t, 86400), sec = t - day * 86400;
	int y, m, d;

	civil(day, &y, &m, &d);
	snprintf(out, 20, "%04d%02d%02dT%02d%02d%02dZ", y, m, d,
		 (int)(sec / 3600), (int)(sec % 3600 / 60), (int)(sec % 60));
}

/* ---- content ---------------------------------------------------------- */

static const char *const subjects[MAIL__COUNT] = {
    "Booking confirmed",	  "Booking request received",
    "Booking approved",		  "Booking request declined",
    "Booking cancelled",	  "Booking rescheduled",
    "Reminder: upcoming booking",
};

static const char *const leads[MAIL__COUNT] = {
    "Your booking is confirmed.",
    "We have received your booking request. It is not confirmed yet: you "
    "will hear from us when it has been reviewed.",
    "Your booking request has been approved. Your booking is confirmed.",
    "Sorry: your booking request has been declined.",
    "Your booking has been cancelled.",
    "Your booking has been moved to a new time.",
    "This is a reminder of your upcoming booking.",
};

static const char *const accents[MAIL__COUNT] = {
    "#16a34a", "#d97706", "#16a34a", "#dc2626", "#dc2626", "#2563eb", "#2563eb",
};

static bool active_kind(enum mail_kind k)
{
	return k != MAIL_DECLINED && k != MAIL_CANCELLED;
}

/* The domain of an address, for Message-ID and UID. */
static const char *domain_of(const char *from)
{
	const char *at = from ? strrchr(from, '@') : NULL;
	static char buf[256];
	size_t n;

	if (at == NULL)
		return "bookd.invalid";
	n = strcspn(at + 1, "> \t");
	snprintf(buf, sizeof(buf), "%.*s", (int)n, at + 1);
	return buf[0] ? buf : "bookd.invalid";
}

struct row {
	const char *label;
	char value[512];
};

static int rows_of(const struct mail_in *in, struct row r[8])
{
	int n = 0;
	char when[160], end[160], dur[48];

	if (in->kind == MAIL_RESCHEDULED) {
		r[n].label = "Was";
		fmt_when(in->tz, in->old_start, when, sizeof(when));
		fmt_dur(in->old_end - in->old_start, dur, sizeof(dur));
		snprintf(r[n++].value, sizeof(r[0].value), "%s, %s", when, dur);
		r[n].label = "Now";
	} else {
		r[n].label = "When";
	}
	fmt_when(in->tz, in->start, when, sizeof(when));
	fmt_when(in->tz, in->end, end, sizeof(end));
	fmt_dur(in->end - in->start, dur, sizeof(dur));
	snprintf(r[n++].value, sizeof(r[0].value), "%s", when);
	r[n].label = "Until";
	snprintf(r[n++].value, sizeof(r[0].value), "%s", end);
	r[n].label = "Duration";
	snprintf(r[n++].value, sizeof(r[0].value), "%s", dur);
	if (in->resources && in->resources[0]) {
		r[n].label = "Where";
		snprintf(r[n++].value, sizeof(r[0].value), "%s", in->resources);
	}
	r[n].label = "Booking";
	snprintf(r[n++].value, sizeof(r[0].value), "#%" PRIu64, in->id);
	if ((in->kind == MAIL_DECLINED || in->kind == MAIL_CANCELLED) &&
	    in->reason && in->reason[0]) {
		r[n].label = "Reason";
		snprintf(r[n++].value, sizeof(r[0].value), "%s", in->reason);
	}
	return n;
}

struct link {
	const char *label;
	char url[700];
};

static int links_of(const struct cfg *cfg, const struct mail_in *in,
		    struct link l[3])
{
	int n = 0;

	if (cfg->base_url == NULL || in->ref == NULL || in->ref[0] == 0)
		return 0;
	l[n].label = "View your booking";
	snprintf(l[n++].url, sizeof(l[0].url), "%s/booking/%s", cfg->base_url,
		 in->ref);
	if (active_kind(in->kind)) {
		l[n].label = "Reschedule";
		snprintf(l[n++].url, sizeof(l[0].url),
			 "%s/booking/%s/reschedule", cfg->base_url, in->ref);
		l[n].label = "Cancel";
		snprintf(l[n++].url, sizeof(l[0].url), "%s/booking/%s/cancel",
			 cfg->base_url, in->ref);
	}
	return n;
}

/* RFC 5545 TEXT: backslash, semicolon, comma and newline escaped; other
 * control characters dropped. */
static void ical_text(struct sb *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\' || c == ';' || c == ',') {
			sb_addn(b, "\\", 1);
			sb_addn(b, s, 1);
		} else if (c == '\n') {
			sb_add(b, "\\n");
		} else if (c >= 0x20 && c != 0x7f) {
			sb_addn(b, s, 1);
		}
	}
}

/* Append one content line folded at 75 octets (never inside a UTF-8
 * sequence), ending in CRLF. */
static void ical_line(struct sb *out, const char *line)
{
	size_t n = strlen(line), col = 0;

	for (size_t i = 0; i < n;) {
		size_t clen = 1;
		unsigned char c = (unsigned char)line[i];
		if (c >= 0xf0)
			clen = 4;
		else if (c >= 0xe0)
			clen = 3;
		else if (c >= 0xc0)
			clen = 2;
		if (i + clen > n)
			clen = n - i;
		if (col + clen > 75) {
			sb_add(out, "\r\n ");
			col = 1;
		}
		sb_addn(out, line + i, clen);
		col += clen;
		i += clen;
	}
	sb_add(out, "\r\n");
}

static char *make_ics(const struct cfg *cfg, const struct mail_in *in,
		      bool cancel)
{
	struct sb out = {0}, l = {0};
	char t[20];
	const char *status = cancel			 ? "CANCELLED"
			     : in->kind == MAIL_RECEIVED ? "TENTATIVE"
							 : "CONFIRMED";
	struct link links[3];

#define LINE()                                                                 \
	do {                                                                   \
		ical_line(&out, l.p);                                          \
		l.n = 0;                                                       \
		l.p[0] = 0;                                                    \
	} while (0)
	sb_add(&l, "BEGIN:VCALENDAR");
	LINE();
	sb_add(&l, "VERSION:2.0");
	LINE();
	sb_add(&l, "PRODID:-//bookd//bookd-notify//EN");
	LINE();
	sb_addf(&l, "METHOD:%s", cancel ? "CANCEL" : "REQUEST");
	LINE();
	sb_add(&l, "BEGIN:VEVENT");
	LINE();
	sb_addf(&l, "UID:booking-%" PRIu64 "@%s", in->id, domain_of(cfg->from));
	LINE();
	sb_addf(&l, "SEQUENCE:%" PRIu32, in->sequence);
	LINE();
	ical_time(in->stamp_ms / 1000, t);
	sb_addf(&l, "DTSTAMP:%s", t);
	LINE();
	ical_time(in->start, t);
	sb_addf(&l, "DTSTART:%s", t);
	LINE();
	ical_time(in->end, t);
	sb_addf(&l, "DTEND:%s", t);
	LINE();
	sb_add(&l, "SUMMARY:");
	ical_text(&l, in->title);
	LINE();
	if (in->resources && in->resources[0]) {
		sb_add(&l, "LOCATION:");
		ical_text(&l, in->resources);
		LINE();
	}
	if (links_of(cfg, in, links) > 0) {
		sb_add(&l, "URL:");
		sb_add(&l, links[0].url);
		LINE();
	}
	sb_addf(&l, "STATUS:%s", status);
	LINE();
	{
		char from[NOTIFY_TARGET_MAX];
		mail_bare_addr(cfg->from, from);
		sb_addf(&l, "ORGANIZER:mailto:%s", from);
		LINE();
	}
	sb_add(&l, "ATTENDEE;CN=\"");
	for (const char *p = in->name; p && *p; p++)
		if ((unsigned char)*p >= 0x20 && *p != '"' && *p != 0x7f)
			sb_addn(&l, p, 1);
	sb_addf(&l, "\";RSVP=FALSE:mailto:%s", in->email);
	LINE();
	sb_add(&l, "END:VEVENT");
	LINE();
	sb_add(&l, "END:VCALENDAR");
	LINE();
#undef LINE
	free(l.p);
	return out.p;
}

int mail_compose(const struct cfg *cfg, const struct mail_in *in,
		 struct mail_out *out)
{
	struct sb text = {0}, html = {0};
	struct row rows[8];
	struct link links[3];
	int nr, nl;
	const char *acc = accents[in->kind];

	memset(out, 0, sizeof(*out));
	if (in->email == NULL || !mail_addr_ok(in->email))
		return -1;
	snprintf(out->subject, sizeof(out->subject), "%s: %s",
		 subjects[in->kind],
		 in->title && in->title[0] ? in->title : "booking");
	if (in->lsn)
		snprintf(out->msgid, sizeof(out->msgid),
			 "evt-%" PRIu64 ".%s@%s", in->lsn,
			 mail_kind_names[in->kind], domain_of(cfg->from));
	else
		snprintf(out->msgid, sizeof(out->msgid),
			 "remind-%" PRIu64 "-%" PRId64 "@%s", in->id, in->start,
			 domain_of(cfg->from));
	nr = rows_of(in, rows);
	nl = links_of(cfg, in, links);

	sb_add(&text, "Hello ");
	sb_text(&text, in->name && in->name[0] ? in->name : "there");
	sb_add(&text, ",\n\n");
	sb_add(&text, leads[in->kind]);
	sb_add(&text, "\n\n");
	sb_text(&text, in->title);
	sb_add(&text, "\n");
	for (int i = 0; i < nr; i++) {
		sb_addf(&text, "%-9s ", rows[i].label);
		sb_text(&text, rows[i].value);
		sb_add(&text, "\n");
	}
	if (nl)
		sb_add(&text, "\n");
	for (int i = 0; i < nl; i++)
		sb_addf(&text, "%s: %s\n", links[i].label, links[i].url);
	sb_add(&text, "\nThis message was sent about your booking.\n");

	sb_add(&html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		      "<meta name=\"color-scheme\" content=\"light dark\">"
		      "<title>");
	sb_html(&html, out->subject);
	sb_add(&html, "</title></head>\n<body style=\"margin:0;padding:24px;"
		      "font-family:system-ui,sans-serif;background:#f4f4f5\">"
		      "\n");
	sb_addf(&html,
		"<div style=\"max-width:560px;margin:auto;background:#fff;"
		"border-radius:12px;border-top:6px solid %s;padding:24px\">\n",
		acc);
	sb_addf(&html, "<h1 style=\"font-size:20px;color:%s\">", acc);
	sb_html(&html, subjects[in->kind]);
	sb_add(&html, "</h1>\n<p>Hello ");
	sb_html(&html, in->name && in->name[0] ? in->name : "there");
	sb_add(&html, ",</p>\n<p>");
	sb_html(&html, leads[in->kind]);
	sb_add(&html, "</p>\n<h2 style=\"font-size:16px\">");
	sb_html(&html, in->title);
	sb_add(&html, "</h2>\n<table cellpadding=\"4\">\n");
	for (int i = 0; i < nr; i++) {
		sb_add(&html, "<tr><th align=\"left\">");
		sb_html(&html, rows[i].label);
		sb_add(&html, "</th><td>");
		sb_html(&html, rows[i].value);
		sb_add(&html, "</td></tr>\n");
	}
	sb_add(&html, "</table>\n");
	if (nl) {
		sb_add(&html, "<p>");
		for (int i = 0; i < nl; i++) {
			sb_add(&html,
			       i ? " &middot; <a href=\"" : "<a href=\"");
			sb_html(&html, links[i].url);
			sb_add(&html, "\">");
			sb_html(&html, links[i].label);
			sb_add(&html, "</a>");
		}
		sb_add(&html, "</p>\n");
	}
	sb_add(&html, "</div>\n</body></html>\n");
	out->text = text.p;
	out->html = html.p;
	out->cancel = !active_kind(in->kind);
	if (in->kind != MAIL_REMINDER)
		out->ics = make_ics(cfg, in, out->cancel);
	return 0;
}

void mail_out_free(struct mail_out *m)
{
	free(m->text);
	free(m->html);
	free(m->ics);
	memset(m, 0, sizeof(*m));
}

/* RFC 2047 encoded words for s (at most 45 input bytes each, never
 * splitting a UTF-8 sequence), folded onto continuation lines. */
static void hdr_encoded(struct sb *b, const char *s)
{
	for (size_t i = 0, n = strlen(s); i < n;) {
		size_t k = n - i > 45 ? 45 : n - i;
		char *e;
		while (k < n - i && k > 1 &&
		       ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--;
		e = b64_encode(s + i, k);
		sb_addf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", e ? e : "");
		free(e);
		i += k;
	}
}

/* A header value: as is when plain printable ASCII, else encoded (which
 * also keeps any CR or LF out of the header). */
static void hdr_value(struct sb *b, const char *s)
{
	bool plain = strlen(s) < 900;

	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			plain = false;
	if (plain)
		sb_add(b, s);
	else
		hdr_encoded(b, s);
}

static void b64_body(struct sb *b, const char *s, size_t n)
{
	char *e = b64_encode(s, n);
	size_t len = e ? strlen(e) : 0;

	for (size_t i = 0; i < len; i += 76) {
		sb_addn(b, e + i, len - i > 76 ? 76 : len - i);
		sb_add(b, "\r\n");
	}
	free(e);
}

char *mail_mime(const struct cfg *cfg, const struct mail_in *in,
		const struct mail_out *m, size_t *len)
{
	struct sb b = {0};
	char date[64], bnd1[96], bnd2[96];
	time_t now = (time_t)(in->stamp_ms / 1000);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(bnd1, sizeof(bnd1), "=_bookd_mixed_%.40s", m->msgid);
	snprintf(bnd2, sizeof(bnd2), "=_bookd_alt_%.40s", m->msgid);
	for (char *p = bnd1; *p; p++)
		if (*p == '@')
			*p = '.';
	for (char *p = bnd2; *p; p++)
		if (*p == '@')
			*p = '.';
	sb_add(&b, "From: ");
	hdr_value(&b, cfg->from);
	sb_add(&b, "\r\nTo: ");
	/* The booker's name is always encoded: as a phrase it could
	 * otherwise carry commas, quotes or angle brackets into the address
	 * list. */
	if (in->name && in->name[0]) {
		hdr_encoded(&b, in->name);
		sb_add(&b, " ");
	}
	sb_addf(&b, "<%s>\r\nSubject: ", in->email);
	hdr_value(&b, m->subject);
	sb_addf(&b,
		"\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n"
		"Auto-Submitted: auto-generated\r\n",
		date, m->msgid);
	sb_addf(&b,
		"Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
		"--%s\r\n"
		"Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n",
		bnd1, bnd1, bnd2);
	sb_addf(&b,
		"--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n",
		bnd2);
	b64_body(&b, m->text, strlen(m->text));
	sb_addf(&b,
		"--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n",
		bnd2);
	b64_body(&b, m->html, strlen(m->html));
	sb_addf(&b, "--%s--\r\n", bnd2);
	if (m->ics) {
		const char *meth = m->cancel ? "CANCEL" : "REQUEST";
		sb_addf(&b,
			"--%s\r\nContent-Type: text/calendar; charset=utf-8; "
			"method=%s; name=\"invite.ics\"\r\n"
			"Content-Disposition: attachment; "
			"filename=\"invite.ics\"\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n",
			bnd1, meth);
		b64_body(&b, m->ics, strlen(m->ics));
	}
	sb_addf(&b, "--%s--\r\n", bnd1);
	*len = b.n;
	return b.p;
}

char *mail_api_json(const struct cfg *cfg, const struct mail_in *in,
		    const struct mail_out *m, size_t *len)
{
	struct sb b = {0};

	sb_add(&b, "{\"from\":");
	sb_json(&b, cfg->from);
	sb_add(&b, ",\"to\":[");
	sb_json(&b, in->email);
	sb_add(&b, "],\"subject\":");
	sb_json(&b, m->subject);
	sb_add(&b, ",\"text\":");
	sb_json(&b, m->text);
	sb_add(&b, ",\"html\":");
	sb_json(&b, m->html);
	sb_add(&b, ",\"headers\":{\"Message-ID\":");
	{
		char id[NOTIFY_KEY_MAX + 2];
		snprintf(id, sizeof(id), "<%s>", m->msgid);
		sb_json(&b, id);
	}
	sb_add(&b, "}");
	if (m->ics) {
		char *e = b64_encode(m->ics, strlen(m->ics));
		sb_add(&b, ",\"attachments\":[{\"filename\":\"invite.ics\","
			   "\"content_type\":\"text/calendar\",\"content\":");
		sb_json(&b, e ? e : "");
		sb_add(&b, "}]");
		free(e);
	}
	sb_add(&b, "}");
	*len = b.n;
	return b.p;
}
