/*
 * prog.c - a program of a libbookd user, built by tests/install/run.sh
 * against the installed tree with nothing but pkg-config (as C and as
 * C++, dynamically and statically).  It books through the socket client,
 * sees the conflict, then reads the booking back from the shared pages.
 *
 * usage: prog SOCKET DATA-DIR RESOURCE-ID
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <bookd.h>
#include <bookd_reader.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static int fail(const char *what, bookd_conn *c, int rc)
{
	fprintf(stderr, "prog: %s: %s (%s)\n", what, bookd_err_name(rc),
		c ? bookd_errmsg(c) : bookd_strerror(rc));
	return 1;
}

int main(int argc, char **argv)
{
	struct bookd_book_req req;
	struct bookd_booking b;
	const msgpack_object *r;
	enum bookd_reason why = BOOKD_REASON_OTHER;
	bookd_reader *rd = NULL;
	bookd_conn *c;
	bookd_args *a;
	uint32_t idx;
	int64_t start;
	int err = 0, rc, is_free = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: prog SOCKET DATA-DIR RESOURCE-ID\n");
		return 2;
	}
	c = bookd_connect(argv[1], &err);
	if (c == NULL)
		return fail("connect", NULL, err);

	/* The argument builder, for an op without a typed helper. */
	a = bookd_args_new();
	if (a == NULL)
		return fail("args", NULL, BOOKD_E_NOMEM);
	bookd_args_str(a, "id", argv[3]);
	bookd_args_str(a, "name", "Installed studio");
	rc = bookd_call_args(c, "resource.create", a, &r);
	bookd_args_free(a);
	if (rc < 0)
		return fail("resource.create", c, rc);
	if (r->type != MSGPACK_OBJECT_MAP)
		return fail("resource.create result", c, BOOKD_E_PROTO);

	/* Two days ahead, 10:00 UTC, one hour. */
	start = ((int64_t)time(NULL) / 86400 + 2) * 86400 + 10 * 3600;
	memset(&req, 0, sizeof req);
	req.resource = argv[3];
	req.start = start;
	req.end = start + 3600;
	req.name = "Ada";
	req.email = "ada@example.org";
	rc = bookd_book(c, &req, &b);
	if (rc < 0)
		return fail("book", c, rc);
	if (b.id == 0 || strcmp(b.status, "confirmed") != 0)
		return fail("book result", c, BOOKD_E_PROTO);
	bookd_booking_free(&b);
	rc = bookd_book(c, &req, NULL);
	if (rc != BOOKD_E_CONFLICT)
		return fail("second book (want CONFLICT)", c, rc);

	/* The pages show the booking: booked bits are published once they
	 * are durable, which the reply already waited for. */
	rc = bookd_reader_open(argv[2], &rd);
	if (rc < 0)
		return fail("reader open", NULL, rc);
	rc = bookd_reader_resource(rd, argv[3], &idx);
	for (int i = 0; rc == 0 && i < 100 && is_free; i++) {
		struct timespec pause = {0, 10 * 1000000};
		rc = bookd_reader_check(rd, idx, start, start + 3600, NULL,
					&is_free, &why);
		if (rc == 0 && is_free)
			nanosleep(&pause, NULL);
	}
	if (rc < 0)
		return fail("reader check", NULL, rc);
	if (is_free || why != BOOKD_REASON_BOOKED)
		return fail("reader reason (want booked)", NULL, BOOKD_E_PROTO);
	bookd_reader_close(rd);
	printf("ok %s %s\n", argv[3], bookd_reason_name(why));
	bookd_close(c);
	return 0;
}
