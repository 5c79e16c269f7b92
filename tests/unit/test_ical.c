/*
 * test_ical.c - unit tests of tools/common/ical: folding at 75 octets
 * (never inside a UTF-8 sequence), TEXT escaping, control characters and
 * invalid UTF-8, quoted parameters, mailto encoding, the status mapping
 * and what a public feed leaves out.  The feed is written to a memory
 * stream and checked line by line; tests/blackbox/test_bookctl.c parses
 * whole feeds with a real iCalendar parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "suite_main.h"
#include "ical.h"
#include "text.h"

struct feed {
	char *p;
	size_t n;
};

static struct ical_booking sample(void)
{
	struct ical_booking b = {
	    .id = 42,
	    .status = "confirmed",
	    .start = 1796112000,
	    .end = 1796115600,
	    .created_ms = 1796000000000,
	    .updated_ms = 1796000100000,
	    .sequence = 2,
	    .title = "Studio A",
	    .name = "Ann",
	    .email = "ann@example.com",
	    .ref = "00112233445566778899aabbccddeeff",
	};
	return b;
}

/* One event written as a whole feed. */
static void write_feed(struct feed *f, const struct ical_booking *b, bool admin)
{
	FILE *s = open_memstream(&f->p, &f->n);

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(ical_begin(s, "Studio A", "Europe/Berlin"), 0);
	ck_assert_int_eq(ical_event(s, b, "studio.example", admin), 0);
	ck_assert_int_eq(ical_end(s), 0);
	fclose(s);
}

/* Every line ends in CRLF, holds at most 75 octets and is valid UTF-8 on
 * its own (so no fold cut a sequence). */
static void check_lines(const struct feed *f)
{
	size_t i = 0;

	ck_assert(f->n >= 2 && memcmp(f->p + f->n - 2, "\r\n", 2) == 0);
	while (i < f->n) {
		const char *eol = memmem(f->p + i, f->n - i, "\r\n", 2);
		size_t len;

		ck_assert_ptr_nonnull(eol);
		len = (size_t)(eol - (f->p + i));
		ck_assert_msg(len <= 75, "line of %zu octets: %.*s", len,
			      (int)len, f->p + i);
		ck_assert_ptr_null(memchr(f->p + i, '\n', len));
		ck_assert_ptr_null(memchr(f->p + i, '\r', len));
		for (size_t k = 0; k < len;) {
			uint32_t cp;
			size_t l = utf8_next(
			    (const unsigned char *)f->p + i + k, len - k, &cp);
			ck_assert_msg(l > 0, "invalid UTF-8 in line: %.*s",
				      (int)len, f->p + i);
			ck_assert_msg(cp >= 0x20 || cp == '\t',
				      "control %02x in line", cp);
			k += l;
		}
		i += len + 2;
	}
}

/* The feed with folds undone (CRLF + space removed). */
static char *unfold(const struct feed *f)
{
	char *u = malloc(f->n + 1);
	size_t o = 0;

	ck_assert_ptr_nonnull(u);
	for (size_t i = 0; i < f->n; i++) {
		if (i + 2 < f->n && f->p[i] == '\r' && f->p[i + 1] == '\n' &&
		    f->p[i + 2] == ' ') {
			i += 2;
			continue;
		}
		u[o++] = f->p[i];
	}
	u[o] = 0;
	return u;
}

START_TEST(structure_and_times)
{
	struct ical_booking b = sample();
	struct feed f = {0};

	write_feed(&f, &b, true);
	check_lines(&f);
	ck_assert(strncmp(f.p, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", 30) == 0);
	ck_assert_ptr_nonnull(
	    strstr(f.p, "\r\nX-WR-TIMEZONE:Europe/Berlin\r\n"));
	ck_assert_ptr_nonnull(
	    strstr(f.p, "\r\nUID:booking-42@studio.example\r\n"));
	ck_assert_ptr_nonnull(strstr(f.p, "\r\nDTSTART:20261201T080000Z\r\n"));
	ck_assert_ptr_nonnull(strstr(f.p, "\r\nDTEND:20261201T090000Z\r\n"));
	ck_assert_ptr_nonnull(strstr(f.p, "\r\nDTSTAMP:20261130T005500Z\r\n"));
	ck_assert_ptr_nonnull(strstr(f.p, "\r\nSEQUENCE:2\r\n"));
	ck_assert_ptr_nonnull(strstr(f.p, "\r\nSTATUS:CONFIRMED\r\n"));
	ck_assert_ptr_nonnull(strstr(f.p, "\r\nSUMMARY:Studio A: Ann\r\n"));
	ck_assert_ptr_nonnull(strstr(
	    f.p, "\r\nATTENDEE;CN=\"Ann\";ROLE=REQ-PARTICIPANT:mailto:ann@"
		 "example.com\r\n"));
	ck_assert(strcmp(f.p + f.n - 27, "END:VEVENT\r\nEND:VCALENDAR\r\n") ==
		  0);
	free(f.p);
}
END_TEST

START_TEST(status_mapping)
{
	static const char *const map[][2] = {
	    {"pending", "TENTATIVE"},	{"confirmed", "CONFIRMED"},
	    {"completed", "CONFIRMED"}, {"no_show", "CONFIRMED"},
	    {"cancelled", "CANCELLED"}, {"declined", "CANCELLED"}};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		struct ical_booking b = sample();
		struct feed f = {0};
		char want[64];

		b.status = map[i][0];
		write_feed(&f, &b, false);
		snprintf(want, sizeof want, "\r\nSTATUS:%s\r\n", map[i][1]);
		ck_assert_msg(strstr(f.p, want), "%s: no %s", map[i][0],
			      map[i][1]);
		ck_assert_ptr_nonnull(
		    strstr(f.p, strcmp(map[i][1], "CANCELLED") == 0
				    ? "TRANSP:TRANSPARENT"
				    : "TRANSP:OPAQUE"));
		free(f.p);
	}
}
END_TEST

START_TEST(escaping)
{
	struct ical_booking b = sample();
	struct feed f = {0};
	char *u;

	b.name = "A,b;c\\d\ne\r\nf";
	b.notes = "x\x1b[2Jy\xff z\xc2\x9bw\tv";
	write_feed(&f, &b, true);
	check_lines(&f);
	u = unfold(&f);
	ck_assert_ptr_nonnull(
	    strstr(u, "SUMMARY:Studio A: A\\,b\\;c\\\\d\\ne\\nf\r\n"));
	/* ESC and C1 become spaces, the stray byte U+FFFD, the tab stays. */
	ck_assert_ptr_nonnull(strstr(u, "Notes: x [2Jy\xef\xbf\xbd z w\tv"));
	free(u);
	free(f.p);
}
END_TEST

START_TEST(parameters_and_mailto)
{
	struct ical_booking b = sample();
	struct feed f = {0};
	char *u;

	b.name = "Ann \"the\" Lee;x:y";
	b.email = "a b@x.org\r\nATTENDEE:mailto:evil@x";
	write_feed(&f, &b, true);
	check_lines(&f);
	u = unfold(&f);
	ck_assert_ptr_nonnull(strstr(
	    u, "ATTENDEE;CN=\"Ann 'the' Lee;x:y\";ROLE=REQ-PARTICIPANT:"
	       "mailto:a%20b@x.org%0D%0AATTENDEE%3Amailto%3Aevil@x\r\n"));
	ck_assert_ptr_null(strstr(u, "\r\nATTENDEE:mailto:evil"));
	free(u);
	free(f.p);
}
END_TEST

START_TEST(folding)
{
	static const char euro[] = "\xe2\x82\xac";
	struct ical_booking b = sample();
	char title[1024], want[1100];
	struct feed f = {0};
	char *u;

	/* Every offset of a 3-octet character against the fold. */
	for (int pad = 0; pad < 3; pad++) {
		size_t n = 0;

		for (int i = 0; i < pad; i++)
			title[n++] = 'a';
		for (int i = 0; i < 100; i++) {
			memcpy(title + n, euro, 3);
			n += 3;
		}
		title[n] = 0;
		b.title = title;
		write_feed(&f, &b, false);
		check_lines(&f);
		u = unfold(&f);
		snprintf(want, sizeof want, "\r\nSUMMARY:%s\r\n", title);
		ck_assert_ptr_nonnull(strstr(u, want));
		free(u);
		free(f.p);
		memset(&f, 0, sizeof f);
	}
	/* Plain ASCII: the first line is exactly 75 octets. */
	memset(title, 'b', 200);
	title[200] = 0;
	b.title = title;
	write_feed(&f, &b, false);
	check_lines(&f);
	u = strstr(f.p, "\r\nSUMMARY:");
	ck_assert_ptr_nonnull(u);
	ck_assert_ptr_eq(strstr(u + 2, "\r\n"), u + 2 + 75);
	ck_assert_int_eq(u[2 + 75 + 2], ' ');
	free(f.p);
}
END_TEST

START_TEST(public_feed_has_no_booker)
{
	struct ical_booking b = sample();
	struct feed f = {0};

	b.phone = "+49 30 1234";
	b.notes = "secret notes";
	b.note = "staff note";
	write_feed(&f, &b, false);
	check_lines(&f);
	ck_assert_ptr_nonnull(strstr(f.p, "\r\nSUMMARY:Studio A\r\n"));
	ck_assert_ptr_null(strstr(f.p, "Ann"));
	ck_assert_ptr_null(strstr(f.p, "example.com"));
	ck_assert_ptr_null(strstr(f.p, "secret"));
	ck_assert_ptr_null(strstr(f.p, "staff"));
	ck_assert_ptr_null(strstr(f.p, "+49"));
	ck_assert_ptr_null(strstr(f.p, b.ref));
	ck_assert_ptr_null(strstr(f.p, "ATTENDEE"));
	free(f.p);
}
END_TEST

static Suite *ical_suite(void)
{
	Suite *s = suite_create("ical");
	TCase *tc = tcase_create("writer");

	tcase_add_test(tc, structure_and_times);
	tcase_add_test(tc, status_mapping);
	tcase_add_test(tc, escaping);
	tcase_add_test(tc, parameters_and_mailto);
	tcase_add_test(tc, folding);
	tcase_add_test(tc, public_feed_has_no_booker);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(ical_suite());
}
