/*
 * out.c - bookctl's output: results for people (tables, a booking's card,
 * key/value lines), JSON for scripts, and error reports on stderr.
 *
 * Results come from the engine, so every field is looked up and type-checked
 * here; a missing or odd field prints as empty, never crashes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bookctl.h"
#include "json.h"
#include "when.h"
#include "wire.h"

void out_json(const msgpack_object *o)
{
	json_print(stdout, o);
	putchar('\n');
}

const char *out_str(const msgpack_object *o, char *buf, size_t len)
{
	size_t n;

	if (o == NULL || o->type != MSGPACK_OBJECT_STR || len == 0) {
		if (len)
			buf[0] = 0;
		return buf;
	}
	n = o->via.str.size < len - 1 ? o->via.str.size : len - 1;
	memcpy(buf, o->via.str.ptr, n);
	buf[n] = 0;
	return buf;
}

/* A value for a person: strings bare, everything else as JSON. */
static void print_plain(const msgpack_object *v)
{
	if (v->type == MSGPACK_OBJECT_STR)
		fwrite(v->via.str.ptr, 1, v->via.str.size, stdout);
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

void out_resource(struct ctx *x, const msgpack_object *r, bool detail)
{
	const msgpack_object *active = wire_get(r, "active");
	char id[64];

	(void)x;
	if (detail) {
		out_map_lines(r);
		return;
	}
	printf("%s is %s\n", out_str(wire_get(r, "id"), id, sizeof id),
	       active && active->type == MSGPACK_OBJECT_BOOLEAN &&
		       active->via.boolean
		   ? "active"
		   : "inactive");
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
		printf("%s%s", i ? ", " : "", b->items[i].resource);
		if (b->items[i].quantity > 1)
			printf(" x%" PRIu32, b->items[i].quantity);
	}
}

int out_booking(struct ctx *x, const msgpack_object *o)
{
	struct bookd_booking b;
	char from[64], to[64], dur[32], at[64];

	if (bookd_booking_from_object(o, &b) < 0) {
		out_json(o);
		return -1;
	}
	when_format(b.start, x->tz, from, sizeof from);
	when_format(b.end, x->tz, to, sizeof to);
	when_format_duration(b.end - b.start, dur, sizeof dur);
	printf("booking %" PRIu64 "  %s\n", b.id, b.status);
	if (b.ref[0])
		printf("  ref        %s\n", b.ref);
	printf("  when       %s - %s (%s)\n", from, to, dur);
	printf("  resources  ");
	print_items(&b);
	printf("\n  booker     %s <%s>%s%s\n", b.name, b.email,
	       b.phone[0] ? ", " : "", b.phone);
	if (b.notes[0])
		printf("  notes      %s\n", b.notes);
	if (b.event_type[0])
		printf("  event      %s\n", b.event_type);
	if (b.note[0])
		printf("  note       %s\n", b.note);
	for (size_t i = 0; i < b.nhistory; i++) {
		const struct bookd_history *h = &b.history[i];

		when_format(h->at_ms / 1000, x->tz, at, sizeof at);
		printf("  %-10s %s  %s%s%s", i ? "" : "history", at, h->from,
		       h->from[0] ? " -> " : "", h->to);
		if (h->by[0])
			printf("  by %s", h->by);
		if (h->reason[0])
			printf(": %s", h->reason);
		putchar('\n');
	}
	bookd_booking_free(&b);
	return 0;
}

void out_booking_table(struct ctx *x, const msgpack_object *list)
{
	if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY) {
		if (list)
			out_json(list);
		return;
	}
	printf("%8s  %-10s %-22s %7s  %-24s %s\n", "ID", "STATUS", "START",
	       "LENGTH", "RESOURCES", "BOOKER");
	for (uint32_t i = 0; i < list->via.array.size; i++) {
		struct bookd_booking b;
		char start[64], dur[32];

		if (bookd_booking_from_object(&list->via.array.ptr[i], &b) <
		    0) {
			out_json(&list->via.array.ptr[i]);
			continue;
		}
		when_format(b.start, x->tz, start, sizeof start);
		when_format_duration(b.end - b.start, dur, sizeof dur);
		printf("%8" PRIu64 "  %-10s %-22s %7s  ", b.id, b.status, start,
		       dur);
		print_items(&b);
		printf("  %s <%s>\n", b.name, b.email);
		bookd_booking_free(&b);
	}
}

int bookctl_fail(struct ctx *x, int rc)
{
	const msgpack_object *e = bookd_errobj(x->c);

	if (bookd_broken(x->c) || e == NULL) {
		fprintf(stderr, "bookctl: %s: %s\n", bookd_err_name(rc),
			bookd_errmsg(x->c));
		return bookd_broken(x->c) ? BOOKCTL_CONN : BOOKCTL_REFUSED;
	}
	fprintf(stderr, "bookctl: %s: %s", bookd_err_name(rc),
		bookd_errmsg(x->c));
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
			if (kv->key.type == MSGPACK_OBJECT_STR)
				fprintf(stderr,
					"%.*s: ", (int)kv->key.via.str.size,
					kv->key.via.str.ptr);
			if (kv->val.type == MSGPACK_OBJECT_STR)
				fprintf(stderr, "%.*s",
					(int)kv->val.via.str.size,
					kv->val.via.str.ptr);
			else
				json_print(stderr, &kv->val);
		}
		if (!first)
			fputc(')', stderr);
	}
	fputc('\n', stderr);
	return BOOKCTL_REFUSED;
}
