/*
 * webuser.c - what a web server running as its own user does with a bookd
 * set up as README.md's "Running bookd for a website" says, run by
 * tests/website/run.sh as that user: connect to the socket (and get the
 * public role), book, see the booking in the shared pages, and fail to
 * read anything else in the data directory.
 *
 * usage: webuser SOCKET DATA-DIR RESOURCE-ID START
 * Prints one line per step; exits 1 at the first step that goes wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bookd.h"
#include "bookd_reader.h"

static int fail(const char *what, bookd_conn *c, int rc)
{
	fprintf(stderr, "webuser: %s: %s (%s)\n", what, bookd_err_name(rc),
		c ? bookd_errmsg(c) : bookd_strerror(rc));
	return 1;
}

int main(int argc, char **argv)
{
	static const char *const secret[] = {"lock", "wal", "auth.key",
					     "snapshot"};
	struct bookd_hello_info info;
	struct bookd_book_req req;
	enum bookd_reason why = BOOKD_REASON_OTHER;
	bookd_reader *rd = NULL;
	bookd_conn *c;
	uint32_t idx;
	int err = 0, rc, is_free = 1;

	if (argc != 5) {
		fprintf(stderr,
			"usage: webuser SOCKET DATA-DIR RESOURCE START\n");
		return 2;
	}
	c = bookd_connect(argv[1], &err);
	if (c == NULL)
		return fail("connect", NULL, err);
	if ((rc = bookd_hello(c, "webuser", NULL, &info)) != 0)
		return fail("hello", c, rc);
	printf("role %s\n", info.role);

	memset(&req, 0, sizeof req);
	req.resource = argv[3];
	req.start = strtoll(argv[4], NULL, 10);
	req.end = req.start + 3600;
	req.name = "Web visitor";
	req.email = "visitor@example.org";
	if ((rc = bookd_book(c, &req, NULL)) != 0)
		return fail("book", c, rc);
	printf("booked\n");

	if ((rc = bookd_reader_open(argv[2], &rd)) != 0)
		return fail("reader_open", NULL, rc);
	if ((rc = bookd_reader_resource(rd, argv[3], &idx)) != 0)
		return fail("reader_resource", NULL, rc);
	/* The pages follow the commit; give them a moment. */
	for (int i = 0; i < 200 && is_free; i++) {
		struct timespec nap = {0, 10 * 1000000};

		rc = bookd_reader_check(rd, idx, req.start, req.end, NULL,
					&is_free, &why);
		if (rc != 0)
			return fail("reader_check", NULL, rc);
		if (is_free)
			nanosleep(&nap, NULL);
	}
	bookd_reader_close(rd);
	printf("pages say %s\n", is_free ? "free" : bookd_reason_name(why));
	if (is_free)
		return 1;

	for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
		char path[4096];
		int fd;

		snprintf(path, sizeof path, "%s/%s", argv[2], secret[i]);
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			printf("%s is readable\n", secret[i]);
			close(fd);
			return 1;
		}
		printf("%s: %s\n", secret[i], strerror(errno));
	}
	bookd_close(c);
	return 0;
}
