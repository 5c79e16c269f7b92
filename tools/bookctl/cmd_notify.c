/*
 * cmd_notify.c - bookctl's webhook and notifier commands: hook add, hook
 * list, hook rm (the engine's hook registry) and notify status (what a
 * bookd-notify is doing, read from its state directory, with the lag
 * measured against the engine's feed).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "bookctl.h"
#include "json.h"
#include "wire.h"

#define LAG_PAGES 100 /* count at most 100 pages of 1000 events */

static int fail_or_ok(struct ctx *x, int rc)
{
	return rc < 0 ? bookctl_fail(x, rc) : BOOKCTL_OK;
}

/* Call op with a's fields (a NULL a: out of memory), then free a. */
static int call_args(struct ctx *x, bookd_args *a, const char *op,
		     const msgpack_object **result)
{
	int rc = a ? bookd_call_args(x->c, op, a, result) : BOOKD_E_NOMEM;

	bookd_args_free(a);
	return rc;
}

static void print_hook(const msgpack_object *h, bool full_secret)
{
	const msgpack_object *ev = wire_get(h, "events");
	const msgpack_object *act = wire_get(h, "active");
	char id[64], url[2100], sec[128];

	printf(
	    "%-16s %s%s\n  events:", out_str(wire_get(h, "id"), id, sizeof id),
	    out_str(wire_get(h, "url"), url, sizeof url),
	    act && act->type == MSGPACK_OBJECT_BOOLEAN && !act->via.boolean
		? "  (inactive)"
		: "");
	for (uint32_t i = 0;
	     ev && ev->type == MSGPACK_OBJECT_ARRAY && i < ev->via.array.size;
	     i++) {
		char e[32];
		printf(" %s", out_str(&ev->via.array.ptr[i], e, sizeof e));
	}
	printf("\n  secret: %s%s\n",
	       out_str(wire_get(h, "secret"), sec, sizeof sec),
	       full_secret ? "  (shown once: keep it now)" : "");
}

int cmd_hook_add(struct ctx *x)
{
	const msgpack_object *r;
	bookd_args *a = bookd_args_new();
	int rc;

	if (a) {
		bookd_args_str(a, "id", x->argv[0]);
		bookd_args_str(a, "url", x->argv[1]);
		bookd_args_array(a, "events");
		for (int i = 2; i < x->argc; i++)
			bookd_args_str(a, NULL, x->argv[i]);
		if (x->argc == 2)
			bookd_args_str(a, NULL, "*");
		bookd_args_end(a);
	}
	rc = call_args(x, a, "hook.put", &r);
	if (rc < 0)
		return bookctl_fail(x, rc);
	if (x->json)
		out_json(r);
	else
		print_hook(r, strncmp(wire_get(r, "secret")->via.str.ptr,
				      "whsec_...", 9) != 0);
	return BOOKCTL_OK;
}

int cmd_hook_list(struct ctx *x)
{
	const msgpack_object *r, *list;
	int rc = bookd_call(x->c, "hook.list", NULL, 0, &r);

	if (rc < 0)
		return bookctl_fail(x, rc);
	if (x->json) {
		out_json(r);
		return BOOKCTL_OK;
	}
	list = wire_get(r, "hooks");
	for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY &&
			     i < list->via.array.size;
	     i++)
		print_hook(&list->via.array.ptr[i], false);
	if (list == NULL || list->via.array.size == 0)
		printf("no hooks\n");
	return BOOKCTL_OK;
}

int cmd_hook_rm(struct ctx *x)
{
	const msgpack_object *r;
	bookd_args *a = bookd_args_new();
	int rc;

	if (a)
		bookd_args_str(a, "id", x->argv[0]);
	rc = call_args(x, a, "hook.delete", &r);
	if (rc == 0 && !x->json)
		printf("deleted %s\n", x->argv[0]);
	else if (rc == 0)
		out_json(r);
	return fail_or_ok(x, rc);
}

/* ---- notify status ---------------------------------------------------- */

static char *slurp(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(max + 1);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

static int64_t num(const msgpack_object *m, const char *k)
{
	int64_t v = 0;
	wire_int(wire_get(m, k), &v);
	return v;
}

/* Events after the cursor in the engine's feed, and the first one's time. */
static int lag(struct ctx *x, uint64_t cursor, uint64_t *n, int64_t *first_ms,
	       bool *more)
{
	uint64_t after = cursor;

	*n = 0;
	*first_ms = 0;
	*more = false;
	for (int page = 0; page < LAG_PAGES; page++) {
		const msgpack_object *r, *ev;
		bookd_args *a = bookd_args_new();
		int rc;

		if (a) {
			bookd_args_uint(a, "after", after);
			bookd_args_int(a, "limit", 1000);
		}
		rc = call_args(x, a, "events", &r);
		if (rc < 0)
			return rc;
		ev = wire_get(r, "events");
		if (ev == NULL || ev->type != MSGPACK_OBJECT_ARRAY ||
		    ev->via.array.size == 0)
			return 0;
		if (*n == 0)
			*first_ms = num(&ev->via.array.ptr[0], "at_ms");
		*n += ev->via.array.size;
		after = (uint64_t)num(r, "next");
	}
	*more = true;
	return 0;
}

int cmd_notify_status(struct ctx *x)
{
	char path[4200], *text, *cur, err[128];
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	const msgpack_object *st, *hooks, *em;
	uint64_t cursor = 0, nlag;
	int64_t first_ms, now;
	struct timeval tv;
	bool more;
	size_t off = 0;
	int rc;

	snprintf(path, sizeof path, "%s/cursor", x->argv[0]);
	cur = slurp(path, 256);
	if (cur && strncmp(cur, "bookd-notify cursor 1\n", 22) == 0)
		cursor = strtoull(cur + 22, NULL, 10);
	free(cur);
	snprintf(path, sizeof path, "%s/status.json", x->argv[0]);
	text = slurp(path, 1 << 20);
	if (text == NULL) {
		fprintf(stderr,
			"bookctl: %s: %s (is bookd-notify running "
			"with --state %s?)\n",
			path, strerror(errno), x->argv[0]);
		return BOOKCTL_REFUSED;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_unpacked_init(&u);
	if (json_to_msgpack(text, &sb, err, sizeof err) < 0 ||
	    msgpack_unpack_next(&u, sb.data, sb.size, &off) !=
		MSGPACK_UNPACK_SUCCESS) {
		fprintf(stderr, "bookctl: %s: not valid: %s\n", path, err);
		free(text);
		msgpack_sbuffer_destroy(&sb);
		msgpack_unpacked_destroy(&u);
		return BOOKCTL_REFUSED;
	}
	st = &u.data;
	rc = lag(x, cursor, &nlag, &first_ms, &more);
	gettimeofday(&tv, NULL);
	now = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	if (rc < 0) {
		free(text);
		msgpack_sbuffer_destroy(&sb);
		msgpack_unpacked_destroy(&u);
		return bookctl_fail(x, rc);
	}
	if (x->json) {
		printf("{\"cursor\":%" PRIu64 ",\"lag_events\":%" PRIu64
		       ",\"lag_events_more\":%s,\"lag_seconds\":%.3f,"
		       "\"notifier\":",
		       cursor, nlag, more ? "true" : "false",
		       nlag ? (double)(now - first_ms) / 1000.0 : 0.0);
		json_print(stdout, st);
		printf("}\n");
	} else {
		printf("cursor        %" PRIu64 "  (notifier pid %" PRId64
		       ", status written %.1f s ago)\n",
		       cursor, num(st, "pid"),
		       (double)(now - num(st, "updated_ms")) / 1000.0);
		printf("lag           %" PRIu64 "%s events, %.1f s\n", nlag,
		       more ? "+" : "",
		       nlag ? (double)(now - first_ms) / 1000.0 : 0.0);
		printf("retry queue   %" PRId64 "\n", num(st, "retry_queue"));
		printf("dead letters  %" PRId64
		       "  (bookd-notify dead --state %s)\n",
		       num(st, "dead_letters"), x->argv[0]);
		em = wire_get(st, "email");
		printf("email         sent %" PRId64 ", failures %" PRId64
		       ", skipped %" PRId64 "\n",
		       num(em, "sent"), num(em, "failures"),
		       num(em, "skipped"));
		hooks = wire_get(st, "hooks");
		for (uint32_t i = 0;
		     hooks && hooks->type == MSGPACK_OBJECT_ARRAY &&
		     i < hooks->via.array.size;
		     i++) {
			const msgpack_object *h = &hooks->via.array.ptr[i];
			char id[64], le[160];
			printf(
			    "hook %-8s  delivered %" PRId64
			    ", failures %" PRId64 ", pending %" PRId64 "%s%s\n",
			    out_str(wire_get(h, "id"), id, sizeof id),
			    num(h, "delivered"), num(h, "failures"),
			    num(h, "pending"),
			    out_str(wire_get(h, "last_error"), le, sizeof le)[0]
				? ", last error: "
				: "",
			    le);
		}
	}
	free(text);
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_destroy(&u);
	return BOOKCTL_OK;
}
