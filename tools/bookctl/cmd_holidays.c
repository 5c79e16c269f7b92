/*
 * cmd_holidays.c - the commands for holiday calendars (holidays list|show|
 * set|delete), using and deleting shared schedules (schedule use|delete),
 * and reading a schedule or a calendar from a JSON file (--file) for
 * "schedule set" and "holidays set".
 *
 * "holidays set ID DATE[=HOURS]..." reads dates written for people
 * (2027-01-01 or 2027-01-01=closed: closed all day; 2027-12-24=10:00-14:00:
 * open only then) and sends them as holidays.put's dates; the engine checks
 * what the syntax cannot.  A calendar's dates have no zone of their own:
 * each schedule including it reads them as its own local dates and times,
 * which is what the output says.  A rule bookctl cannot read, or a file
 * that is not the JSON object expected, is a usage error naming it, and
 * nothing is sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookctl.h"
#include "json.h"
#include "quanta.h"
#include "wire.h"

/* The largest file --file reads. */
#define FILE_MAX (1u << 20)

static int done(struct ctx *x, int rc)
{
	return rc < 0 ? bookctl_fail(x, rc) : BOOKCTL_OK;
}

/*
 * The JSON of file path as MessagePack into sb: 0, or a usage error
 * after reporting.
 */
static int read_json(struct ctx *x, const char *path, msgpack_sbuffer *sb)
{
	FILE *f = fopen(path, "r");
	char *buf, err[160];
	size_t n;
	int rc;

	if (f == NULL)
		return bookctl_usage(x, "cannot open %s: %s", path,
				     strerror(errno));
	buf = malloc(FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return bookctl_usage(x, "out of memory reading %s", path);
	}
	n = fread(buf, 1, FILE_MAX + 1, f);
	fclose(f);
	if (n > FILE_MAX) {
		free(buf);
		return bookctl_usage(x, "%s: larger than %u bytes", path,
				     FILE_MAX);
	}
	buf[n] = 0;
	msgpack_sbuffer_init(sb);
	rc = json_to_msgpack(buf, sb, err, sizeof err);
	free(buf);
	if (rc < 0) {
		msgpack_sbuffer_destroy(sb);
		return bookctl_usage(x, "%s: %s", path, err);
	}
	return 0;
}

/*
 * Send op with the object of file path, its "id" replaced by id and, when
 * name is set, its "name" by name.  A top-level array stands for
 * {array_key: [...]} (array_key NULL: refused).
 */
static int call_file(struct ctx *x, const char *op, const char *id,
		     const char *path, const char *array_key, const char *name,
		     const msgpack_object **r)
{
	msgpack_sbuffer in, out;
	msgpack_unpacked u;
	msgpack_packer pk;
	const msgpack_object *o;
	uint32_t n = 0;
	int rc;

	if ((rc = read_json(x, path, &in)) != 0)
		return rc;
	msgpack_unpacked_init(&u);
	msgpack_sbuffer_init(&out);
	msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
	if (msgpack_unpack_next(&u, in.data, in.size, NULL) !=
	    MSGPACK_UNPACK_SUCCESS) {
		rc = bookctl_usage(x, "%s: not JSON", path);
		goto out;
	}
	o = &u.data;
	if (o->type == MSGPACK_OBJECT_ARRAY && array_key) {
		msgpack_pack_map(&pk, name ? 3 : 2);
		wire_pk_kstr(&pk, "id", id);
		wire_pk_str(&pk, array_key);
		msgpack_pack_object(&pk, *o);
		if (name)
			wire_pk_kstr(&pk, "name", name);
	} else if (o->type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			n += !(wire_str_eq(k, "id") ||
			       (name && wire_str_eq(k, "name")));
		}
		msgpack_pack_map(&pk, n + 1 + (name ? 1 : 0));
		wire_pk_kstr(&pk, "id", id);
		if (name)
			wire_pk_kstr(&pk, "name", name);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (wire_str_eq(&kv->key, "id") ||
			    (name && wire_str_eq(&kv->key, "name")))
				continue;
			msgpack_pack_object(&pk, kv->key);
			msgpack_pack_object(&pk, kv->val);
		}
	} else {
		rc = bookctl_usage(x, "%s: not a JSON object%s", path,
				   array_key ? " or array" : "");
		goto out;
	}
	rc = bookd_call(x->c, op, out.data, out.size, r);
	rc = rc < 0 ? bookctl_fail(x, rc) : 0;
out:
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&in);
	msgpack_sbuffer_destroy(&out);
	return rc;
}

int schedule_set_file(struct ctx *x, const msgpack_object **r)
{
	if (x->argc > 1)
		return bookctl_usage(x, "schedule set with --file takes no "
					"ZONE or RULEs (they are in the file)");
	if (x->opt[OPT_holidays])
		return bookctl_usage(x, "schedule set with --file takes no "
					"--holidays (name them in the file)");
	return call_file(x, "schedule.put", x->argv[0], x->opt[OPT_file], NULL,
			 NULL, r);
}

/*
 * Call op with a (freed here) and, unless --json, say what was done:
 * lead, the first argument, then mid and the second when mid is set.
 */
static int call_and_say(struct ctx *x, const char *op, bookd_args *a,
			const char *lead, const char *mid)
{
	const msgpack_object *r;
	int rc;

	if (a == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	rc = bookd_call_args(x->c, op, a, &r);
	bookd_args_free(a);
	if (rc == 0 && !(x->json && (out_json(r), true))) {
		fputs(lead, stdout);
		out_text(x->argv[0]);
		if (mid) {
			fputs(mid, stdout);
			out_text(x->argv[1]);
		}
		putchar('\n');
	}
	return done(x, rc);
}

int cmd_schedule_delete(struct ctx *x)
{
	return call_and_say(x, "schedule.delete", bookd_args_new(),
			    "deleted shared schedule ", NULL);
}

int cmd_schedule_use(struct ctx *x)
{
	bookd_args *a = bookd_args_new();

	if (a != NULL)
		bookd_args_str(a, "schedule", x->argv[1]);
	return call_and_say(x, "resource.update", a, "",
			    " uses shared schedule ");
}

/* ---- holiday calendars ------------------------------------------------ */

static void print_used_by(const msgpack_object *h)
{
	int64_t n = 0;

	wire_int(wire_get(h, "used_by"), &n);
	printf("used by %" PRId64 " schedule%s", n, n == 1 ? "" : "s");
}

/* Its header line, then one line per date. */
static void out_holidays(const msgpack_object *h)
{
	const msgpack_object *dates = wire_get(h, "dates");
	char buf[300];

	out_text(out_str(wire_get(h, "id"), buf, sizeof buf));
	if (wire_get(h, "name") &&
	    wire_get(h, "name")->type == MSGPACK_OBJECT_STR) {
		printf("  ");
		out_text(out_str(wire_get(h, "name"), buf, sizeof buf));
	}
	printf("  (");
	print_used_by(h);
	printf(")\n  dates and hours are local to each schedule that "
	       "includes it\n");
	for (uint32_t i = 0; dates && dates->type == MSGPACK_OBJECT_ARRAY &&
			     i < dates->via.array.size;
	     i++) {
		const msgpack_object *d = &dates->via.array.ptr[i];
		const msgpack_object *w = wire_get(d, "windows");

		printf("  %s  ", out_str(wire_get(d, "date"), buf, sizeof buf));
		if (w && w->type == MSGPACK_OBJECT_ARRAY && w->via.array.size) {
			printf("open only ");
			for (uint32_t j = 0; j < w->via.array.size; j++) {
				char s[16], e[16];
				printf("%s%s-%s", j ? ", " : "",
				       out_str(wire_get(&w->via.array.ptr[j],
							"start"),
					       s, sizeof s),
				       out_str(wire_get(&w->via.array.ptr[j],
							"end"),
					       e, sizeof e));
			}
		} else {
			printf("closed");
		}
		putchar('\n');
	}
}

int cmd_holidays_list(struct ctx *x)
{
	const msgpack_object *r;
	int rc = bookd_call_args(x->c, "holidays.list", NULL, &r);

	if (rc < 0 || (x->json && (out_json(r), true)))
		return done(x, rc);
	if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size == 0) {
		printf("no holiday calendars\n");
		return BOOKCTL_OK;
	}
	for (uint32_t i = 0; i < r->via.array.size; i++) {
		const msgpack_object *h = &r->via.array.ptr[i];
		char buf[300];
		int64_t n = 0;

		wire_int(wire_get(h, "count"), &n);
		out_text(out_str(wire_get(h, "id"), buf, sizeof buf));
		if (wire_get(h, "name") &&
		    wire_get(h, "name")->type == MSGPACK_OBJECT_STR) {
			printf("  ");
			out_text(out_str(wire_get(h, "name"), buf, sizeof buf));
		}
		printf("  %" PRId64 " date%s  ", n, n == 1 ? "" : "s");
		print_used_by(h);
		putchar('\n');
	}
	return BOOKCTL_OK;
}

int cmd_holidays_show(struct ctx *x)
{
	const msgpack_object *r;
	bookd_args *a = bookd_args_new();
	int rc;

	if (a == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	rc = bookd_call_args(x->c, "holidays.get", a, &r);
	bookd_args_free(a);
	if (rc == 0 && !(x->json && (out_json(r), true)))
		out_holidays(r);
	return done(x, rc);
}

/* The positional DATE[=HOURS] rules as holidays.put's dates. */
static int add_dates(struct ctx *x, bookd_args *a)
{
	for (int i = 1; i < x->argc; i++) {
		const char *r = x->argv[i], *eq = strchr(r, '=');
		size_t n = eq ? (size_t)(eq - r) : strlen(r);
		int64_t day;

		if (q_parse_date(r, n, &day) < 0)
			return bookctl_usage(x,
					     "bad date in '%s' (want "
					     "2027-01-01 or "
					     "2027-12-24=10:00-14:00)",
					     r);
		bookd_args_map(a, NULL);
		bookd_args_strn(a, "date", r, n);
		if (eq && strcmp(eq + 1, "closed") != 0) {
			bookd_args_array(a, "windows");
			if (schedule_add_windows(a, eq + 1, false, 0) < 0)
				return bookctl_usage(
				    x,
				    "bad hours in '%s' (want 10:00-14:00, "
				    "several joined by commas, or closed)",
				    r);
			bookd_args_end(a);
		}
		bookd_args_end(a);
	}
	return 0;
}

int cmd_holidays_set(struct ctx *x)
{
	const msgpack_object *r;
	bookd_args *a;
	int rc;

	if (x->opt[OPT_file]) {
		if (x->argc > 1)
			return bookctl_usage(x, "holidays set with --file "
						"takes no DATEs (they are in "
						"the file)");
		rc = call_file(x, "holidays.put", x->argv[0], x->opt[OPT_file],
			       "dates", x->opt[OPT_name], &r);
		if (rc)
			return rc;
		goto show;
	}
	a = bookd_args_new();
	if (a == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	if (x->opt[OPT_name])
		bookd_args_str(a, "name", x->opt[OPT_name]);
	bookd_args_array(a, "dates");
	if ((rc = add_dates(x, a)) != 0) {
		bookd_args_free(a);
		return rc;
	}
	bookd_args_end(a);
	rc = bookd_call_args(x->c, "holidays.put", a, &r);
	bookd_args_free(a);
	if (rc < 0)
		return done(x, rc);
show:
	if (x->json) {
		out_json(r);
		return BOOKCTL_OK;
	}
	out_holidays(r);
	{
		int64_t n = 0;
		wire_int(wire_get(r, "republished"), &n);
		if (n)
			printf("republished the open hours of %" PRId64
			       " resource%s\n",
			       n, n == 1 ? "" : "s");
	}
	return BOOKCTL_OK;
}

int cmd_holidays_delete(struct ctx *x)
{
	return call_and_say(x, "holidays.delete", bookd_args_new(),
			    "deleted holiday calendar ", NULL);
}
