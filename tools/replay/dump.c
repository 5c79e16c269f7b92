/*
 * dump.c - `bookd-replay dump`: one line per log record, for people (LSN,
 * commit time, type, a summary) or as JSON Lines (the full payload).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "json.h"
#include "rlog.h"
#include "wire.h"

struct dump {
	bool json;
	uint64_t n;
};

static int64_t oint(const msgpack_object *m, const char *key)
{
	int64_t v;
	return wire_int(wire_get(m, key), &v) ? v : 0;
}

/* Print a string field, or '-' when absent. */
static void ostr(const msgpack_object *m, const char *key)
{
	const msgpack_object *o = wire_get(m, key);
	if (o && o->type == MSGPACK_OBJECT_STR)
		printf("%.*s", (int)o->via.str.size, o->via.str.ptr);
	else
		fputc('-', stdout);
}

static void summary_booking(const msgpack_object *m)
{
	const msgpack_object *items = wire_get(m, "items");
	const msgpack_object *ev = wire_get(m, "event");
	char a[32], z[32];

	rlog_fmt_s(oint(m, "start"), a);
	rlog_fmt_s(oint(m, "end"), z);
	printf("#%" PRId64 " ", oint(m, "id"));
	ostr(m, "status");
	printf(" %s..%s ", a, z);
	if (items && items->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < items->via.array.size; i++) {
			const msgpack_object *it = &items->via.array.ptr[i];
			int64_t q = oint(it, "quantity");
			if (i)
				fputc(',', stdout);
			ostr(it, "resource");
			if (q > 1)
				printf(" x%" PRId64, q);
		}
	}
	if (ev && ev->type == MSGPACK_OBJECT_STR)
		printf(" %.*s", (int)ev->via.str.size, ev->via.str.ptr);
}

static void summary(uint16_t type, const msgpack_object *m)
{
	switch (type) {
	case WAL_BOOKING:
		summary_booking(m);
		break;
	case WAL_RESOURCE:
		ostr(m, "id");
		printf(" quantity %" PRId64,
		       oint(m, "quantity") ? oint(m, "quantity") : 1);
		{
			const msgpack_object *act = wire_get(m, "active");
			if (act && act->type == MSGPACK_OBJECT_BOOLEAN &&
			    !act->via.boolean)
				fputs(" inactive", stdout);
		}
		break;
	case WAL_EVENT_TYPE:
		ostr(m, "id");
		break;
	case WAL_HOLIDAYS: {
		const msgpack_object *dates = wire_get(m, "dates");
		ostr(m, "id");
		if (dates && dates->type == MSGPACK_OBJECT_ARRAY)
			printf(" %u date%s", dates->via.array.size,
			       dates->via.array.size == 1 ? "" : "s");
		else
			fputs(" deleted", stdout);
		break;
	}
	default:
		break;
	}
}

static int dump_fn(void *ctx, const struct wal_rec *r)
{
	struct dump *d = ctx;
	msgpack_unpacked u;
	size_t off = 0;
	bool ok;
	char t[32];

	msgpack_unpacked_init(&u);
	ok = msgpack_unpack_next(&u, r->payload, r->len, &off) ==
		 MSGPACK_UNPACK_SUCCESS &&
	     u.data.type == MSGPACK_OBJECT_MAP;
	rlog_fmt_ms(r->at_ms, t);
	if (d->json) {
		printf("{\"lsn\":%" PRIu64 ",\"at_ms\":%" PRId64
		       ",\"time\":\"%s\",\"type\":\"%s\",\"type_code\":%u,"
		       "\"synced\":%" PRIu64 ",\"payload\":",
		       r->lsn, r->at_ms, t, rlog_type_name(r->type), r->type,
		       r->synced);
		if (ok)
			json_print(stdout, &u.data);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
	} else {
		printf("%8" PRIu64 "  %s  %-10s  ", r->lsn, t,
		       rlog_type_name(r->type));
		if (ok)
			summary(r->type, &u.data);
		else
			printf("(%u bytes that are not a MessagePack map)",
			       r->len);
		fputc('\n', stdout);
	}
	msgpack_unpacked_destroy(&u);
	d->n++;
	return ferror(stdout) ? 1 : 0;
}

int cmd_dump(const struct cmd_args *a)
{
	struct rlog rl;
	struct dump d = {a->json, 0};
	struct wal_scan sc;
	char err[512];
	FILE *notes = a->json ? stderr : stdout;
	int rc;

	if (rlog_open(&rl, a->dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "bookd-replay: %s\n", err);
		return EXIT_DAMAGED;
	}
	if (rl.snap.present)
		fprintf(notes,
			"# snapshot at LSN %" PRIu64
			": records up to it may have left the log\n",
			rl.snap.lsn);
	rc = rlog_records(&rl, a->from_lsn, a->to_lsn, dump_fn, &d, &sc, err,
			  sizeof(err));
	rlog_close(&rl);
	if (rc < 0) {
		fprintf(stderr, "bookd-replay: %s\n", err);
		return EXIT_DAMAGED;
	}
	if (rc > 0) {
		fprintf(stderr, "bookd-replay: writing the dump failed\n");
		return EXIT_DAMAGED;
	}
	if (sc.verdict == WAL_CORRUPT) {
		fprintf(notes,
			"# CORRUPT at LSN %" PRIu64 ": %s; valid records end "
			"at LSN %" PRIu64 "\n",
			sc.bad_lsn, sc.detail, sc.last_lsn);
		return EXIT_DAMAGED;
	}
	if (sc.verdict == WAL_TORN)
		fprintf(notes,
			"# torn tail at LSN %" PRIu64
			" (%s): never acknowledged, cut at the next start\n",
			sc.bad_lsn, sc.detail);
	fprintf(notes, "# %" PRIu64 " records shown\n", d.n);
	return 0;
}
