/*
 * out.c - bookctl's output: results for people (tables, a booking's card,
 * key/value lines), JSON for scripts, and error reports on stderr.
 *
 * Results come from the engine, so every field is looked up and type-checked
 * here; a missing or odd field prints as empty, never crashes.  Every string
 * a person sees goes through text.h's escaping (out_str, out_text): stored
 * strings may hold terminal control sequences or invalid UTF-8, and must not
 * act on the terminal.  JSON output is always valid JSON (json.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bookctl.h"
#include "json.h"
#include "text.h"
#include "when.h"
#include "wire.h"

void out_json(const msgpack_object *o)
{
	json_print(stdout, o);
	putchar('\n');
}

const char *out_str(const msgpack_object *o, char *buf, size_t len)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR || len == 0) {
		if (len)
			buf[0] = 0;
		return buf;
	}
	return text_escape(o->via.str.ptr, o->via.str.size, buf, len);
}

void out_text(const char *s)
{
	text_print(stdout, s, strlen(s));
}

/* A value for a person: strings bare, everything else as JSON. */
static void print_plain(const msgpack_object *v)
{
	if (v->type == MSGPACK_OBJECT_STR)
		text_print(stdout, v->via.str.ptr, v->via.str.size);
	else
		json_print(stdout, v);
}

void out_map_lines(const msgpack_object *m)
{
	if (m == NULL || m->type != MSGPACK_OBJECT_MAP) {
		if (m)
			out_json(m);
		return;
	}
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];
		char key[64];

		printf("%-16s ", out_str(&kv->key, key, sizeof key));
		print_plain(&kv->val);
		putchar('\n');
	}
}

static bool is_true(const msgpack_object *o)
{
	return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

void out_resource(struct ctx *x, const msgpack_object *r, bool detail)
{
	const msgpack_object *active = wire_get(r, "active");
	const msgpack_object *sched = wire_get(r, "schedule");
	char id[64], buf[300];
	int64_t q = 1;

	(void)x;
	out_str(wire_get(r, "id"), id, sizeof id);
	if (!detail) {
		printf("%s is %s\n", id,
		       is_true(active) ? "active" : "inactive");
		return;
	}
	if (r == NULL || r->type != MSGPACK_OBJECT_MAP) {
		if (r)
			out_json(r);
		return;
	}
	/* For people: what is set, in words; --json shows every field. */
	printf("resource %s", id);
	if (*out_str(wire_get(r, "name"), buf, sizeof buf))
		printf(" (%s)", buf);
	printf("%s\n", is_true(wire_get(r, "archived")) ? "  deleted (archived)"
		       : is_true(active)		? ""
							: "  inactive");
	if (*out_str(wire_get(r, "kind"), buf, sizeof buf))
		printf("  kind       %s\n", buf);
	printf("  timezone   %s\n",
	       out_str(wire_get(r, "timezone"), buf, sizeof buf));
	wire_int(wire_get(r, "quantity"), &q);
	if (q > 1)
		printf("  quantity   %" PRId64 " interchangeable units\n", q);
	if (!is_true(wire_get(r, "standalone")))
		printf("  add-on     booked only together with a standalone "
		       "resource\n");
	if (sched && sched->type == MSGPACK_OBJECT_STR)
		printf("  schedule   %s\n", out_str(sched, buf, sizeof buf));
	else if (sched && sched->type == MSGPACK_OBJECT_MAP)
		printf("  schedule   its own hours ('bookctl schedule show "
		       "%s')\n",
		       id);
	else
		printf("  schedule   none: open around the clock\n");
}

void out_resource_table(struct ctx *x, const msgpack_object *list)
{
	(void)x;
	if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY) {
		if (list)
			out_json(list);
		return;
	}
	printf("%-24s %-24s %-12s %5s  %-16s %s\n", "ID", "NAME", "KIND", "QTY",
	       "TIMEZONE", "ACTIVE");
	for (uint32_t i = 0; i < list->via.array.size; i++) {
		const msgpack_object *r = &list->via.array.ptr[i];
		const msgpack_object *a = wire_get(r, "active");
		char id[64], name[64], kind[64], tz[64];
		int64_t q = 1;

		wire_int(wire_get(r, "quantity"), &q);
		printf("%-24s %-24s %-12s %5" PRId64 "  %-16s %s\n",
		       out_str(wire_get(r, "id"), id, sizeof id),
		       out_str(wire_get(r, "name"), name, sizeof name),
		       out_str(wire_get(r, "kind"), kind, sizeof kind), q,
		       out_str(wire_get(r, "timezone"), tz, sizeof tz),
		       a && a->type == MSGPACK_OBJECT_BOOLEAN && !a->via.boolean
			   ? "no"
			   : "yes");
	}
}

static void print_items(const struct bookd_booking *b)
{
	for (size_t i = 0; i < b->nitems; i++) {
		printf("%s", i ? ", " : "");
		out_text(b->items[i].resource);
		if (b->items[i].quantity > 1)
			printf(" x%" PRIu32, b->items[i].quantity);
	}
}

/* "  notes      <text>" when there is text. */
static void out_field(const char *label, const char *v)
{
	if (v[0] == 0)
		return;
	printf("  %-10s ", label);
	out_text(v);
	putchar('\n');
}

void out_booking(struct ctx *x, const struct bookd_booking *bp)
{
	const struct bookd_booking b = *bp;
	const struct tz *tz =
	    zone_show(x, b.nitems ? b.items[0].resource : NULL, b.timezone);
	char from[96], to[96], dur[32], at[96];

	if (tz == NULL)
		tz = x->tz;
	when_format(b.start, tz, from, sizeof from);
	when_format(b.end, tz, to, sizeof to);
	when_format_duration(b.end - b.start, dur, sizeof dur);
	printf("booking %" PRIu64 "  ", b.id);
	out_text(b.status);
	if (b.ref[0]) {
		printf("\n  ref        ");
		out_text(b.ref);
	}
	printf("\n  when       %s - %s (%s)\n", from, to, dur);
	printf("  resources  ");
	print_items(&b);
	printf("\n  booker     ");
	out_text(b.name);
	printf(" <");
	out_text(b.email);
	printf(">");
	if (b.phone[0]) {
		printf(", ");
		out_text(b.phone);
	}
	putchar('\n');
	out_field("notes", b.notes);
	out_field("event", b.event_type);
	out_field("note", b.note);
	for (size_t i = 0; i < b.nhistory; i++) {
		const struct bookd_history *h = &b.history[i];

		when_format(h->at_ms / 1000, tz, at, sizeof at);
		printf("  %-10s %s  ", i ? "" : "history", at);
		if (h->from[0]) {
			out_text(h->from);
			printf(" -> ");
		}
		out_text(h->to);
		if (h->by[0]) {
			printf("  by ");
			out_text(h->by);
		}
		if (h->reason[0]) {
			printf(": ");
			out_text(h->reason);
		}
		putchar('\n');
	}
}

void out_booking_table(struct ctx *x, const msgpack_object *list)
{
	if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY) {
		if (list)
			out_json(list);
		return;
	}
	printf("%8s  %-10s %-30s %7s  %-24s %s\n", "ID", "STATUS", "START",
	       "LENGTH", "RESOURCES", "BOOKER");
	for (uint32_t i = 0; i < list->via.array.size; i++) {
		struct bookd_booking b;
		char start[96], dur[32], st[64];

		if (bookd_booking_from_object(&list->via.array.ptr[i], &b) <
		    0) {
			out_json(&list->via.array.ptr[i]);
			continue;
		}
		when_format(b.start,
			    zone_known(x, b.nitems ? b.items[0].resource : NULL,
				       b.timezone),
			    start, sizeof start);
		when_format_duration(b.end - b.start, dur, sizeof dur);
		printf("%8" PRIu64 "  %-10s %-30s %7s  ", b.id,
		       text_escape(b.status, strlen(b.status), st, sizeof st),
		       start, dur);
		print_items(&b);
		printf("  ");
		out_text(b.name);
		printf(" <");
		out_text(b.email);
		printf(">\n");
		bookd_booking_free(&b);
	}
}

int bookctl_fail(struct ctx *x, int rc)
{
	const msgpack_object *e = bookd_errobj(x->c);
	const char *msg = bookd_errmsg(x->c);

	/* The message may quote what a caller stored: escaped too. */
	fprintf(stderr, "bookctl: %s: ", bookd_err_name(rc));
	text_print(stderr, msg, strlen(msg));
	if (bookd_broken(x->c) || e == NULL) {
		fputc('\n', stderr);
		return bookd_broken(x->c) ? BOOKCTL_CONN : BOOKCTL_REFUSED;
	}
	/* Details beyond code and message: the field at fault, the
	 * conflicting bookings, ... */
	if (e->type == MSGPACK_OBJECT_MAP) {
		bool first = true;
		for (uint32_t i = 0; i < e->via.map.size; i++) {
			const msgpack_object_kv *kv = &e->via.map.ptr[i];
			if (wire_str_eq(&kv->key, "code") ||
			    wire_str_eq(&kv->key, "message"))
				continue;
			fputs(first ? " (" : ", ", stderr);
			first = false;
			if (kv->key.type == MSGPACK_OBJECT_STR) {
				text_print(stderr, kv->key.via.str.ptr,
					   kv->key.via.str.size);
				fputs(": ", stderr);
			}
			if (kv->val.type == MSGPACK_OBJECT_STR)
				text_print(stderr, kv->val.via.str.ptr,
					   kv->val.via.str.size);
			else
				json_print(stderr, &kv->val);
		}
		if (!first)
			fputc(')', stderr);
	}
	fputc('\n', stderr);
	return BOOKCTL_REFUSED;
}
