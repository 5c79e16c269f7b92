/*
 * ical.h - one iCalendar (RFC 5545) writer for every tool that publishes
 * bookings as a calendar feed: bookctl ical, and the same format for the
 * gateway's feed and the notifier's .ics attachments.
 *
 * A feed is ical_begin(), one ical_event() per booking, ical_end().  The
 * writer owns the format's rules, so callers pass plain values:
 *   - every line ends in CRLF and is folded at 75 octets (a continuation
 *     starts with one space), never inside a UTF-8 sequence;
 *   - TEXT values escape backslash, ';', ',' and newlines (\\ \; \, \n);
 *     other control characters become spaces and bytes that are not valid
 *     UTF-8 become U+FFFD, so a stored string can never start a property
 *     of its own or break the feed;
 *   - parameter values (an attendee's CN) are quoted and lose '"';
 *   - instants are written in UTC ("20261214T100000Z");
 *   - UID is "booking-<id>@<domain>": stable across edits, reschedules and
 *     cancellation, and it never shows the booking's secret ref;
 *   - STATUS is CONFIRMED, TENTATIVE (pending) or CANCELLED (cancelled and
 *     declined), and SEQUENCE counts the booking's changes, so a calendar
 *     that already has the event replaces it.
 * Booker details (name, e-mail, phone, notes, ref) are written only when
 * the caller says the feed is for an admin (with_booker); a public feed
 * shows busy times titled by the resource alone.
 *
 * Errors: the functions write to a stdio stream (open_memstream for a
 * buffer) and return the stream's error state: 0, or -1 when a write
 * failed.
 */
#ifndef BOOKD_ICAL_H
#define BOOKD_ICAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ical_booking {
	uint64_t id;
	const char *status;   /* "confirmed", "pending", "cancelled", ... */
	int64_t start, end;   /* Unix seconds */
	int64_t created_ms;   /* 0 when unknown */
	int64_t updated_ms;   /* DTSTAMP and LAST-MODIFIED */
	unsigned sequence;    /* changes since creation */
	const char *title;    /* e.g. the resource's or event type's name */
	const char *location; /* may be NULL */
	/* Admin feeds only (ignored unless with_booker): */
	const char *name, *email, *phone, *notes, *note, *ref;
};

/* VCALENDAR header.  name is the calendar's display name (X-WR-CALNAME),
 * zone the IANA zone a client should show it in (X-WR-TIMEZONE; may be
 * NULL). */
int ical_begin(FILE *f, const char *name, const char *zone);
/* One VEVENT.  domain is the right-hand side of the UID ("bookd" when
 * NULL). */
int ical_event(FILE *f, const struct ical_booking *b, const char *domain,
	       bool with_booker);
int ical_end(FILE *f);

#endif
