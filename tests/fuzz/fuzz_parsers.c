/*
 * fuzz_parsers.c - a libFuzzer target for every parser that reads bytes
 * from outside: the MessagePack structure check and request argument
 * validation (wire, ops), schedules (schedule.c), TZif files (tz.c) and
 * dates (quanta.c).  The first input byte picks the parser.
 *
 * Built and run by `make fuzz-parsers` (clang, -fsanitize=fuzzer,address,
 * undefined), bounded by FUZZ_SECONDS.  A crash, a leak or a sanitizer
 * report is a failure.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ops.h"
#include "quanta.h"
#include "schedule.h"
#include "tz.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Unpack data as the engine does: checked first, then msgpack-c. */
static int unpack(const uint8_t *data, size_t size, msgpack_unpacked *u)
{
	size_t used = 0;

	if (wire_msgpack_check(data, size, &used) < 0 || used != size)
		return -1;
	used = 0;
	return msgpack_unpack_next(u, (const char *)data, size, &used) ==
		       MSGPACK_UNPACK_SUCCESS
		   ? 0
		   : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked u;
	char msg[256];

	if (size < 1)
		return 0;
	msgpack_unpacked_init(&u);
	switch (data[0] % 4) {
	case 0: { /* request arguments for every op */
		const msgpack_object *a[ARG__COUNT];
		struct proto_error e;
		if (unpack(data + 1, size - 1, &u) == 0)
			for (int op = 0; op < OP__COUNT; op++)
				proto_validate_args(op, &u.data, a, &e);
		break;
	}
	case 1: { /* schedules and holiday calendars, packed again */
		struct sched *sc = NULL;
		struct hcal *hc = NULL;
		bool ok = unpack(data + 1, size - 1, &u) == 0;
		if (ok && hcal_parse(&u.data, &hc, msg, sizeof(msg)) == 0) {
			msgpack_sbuffer sb;
			msgpack_packer pk;
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			hcal_pack(hc, &pk);
			msgpack_sbuffer_destroy(&sb);
			hcal_free(hc);
		}
		if (ok && sched_parse(&u.data, &sc, msg, sizeof(msg)) == 0) {
			uint64_t open[2];
			int64_t st[SCHED_DAY_MAX], en[SCHED_DAY_MAX];
			msgpack_sbuffer sb;
			msgpack_packer pk;
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			sched_pack(sc, &pk);
			sched_open_bits(sc, 20000, open);
			sched_local_windows(sc, 20000, st, en, SCHED_DAY_MAX);
			msgpack_sbuffer_destroy(&sb);
			sched_free(sc);
		}
		break;
	}
	case 2: { /* TZif files */
		struct tz *z = NULL;
		if (tz_parse("fuzz", data + 1, size - 1, &z) == 0) {
			int64_t s, e;
			tz_offset_at(z, 1700000000);
			tz_local_day(z, 20000, &s, &e);
			tz_local_to_utc(z, 20000, 3600);
			tz_free(z);
		}
		break;
	}
	default: { /* dates and frames */
		int64_t day;
		const char *body;
		size_t blen, used;
		q_parse_date((const char *)data + 1, size - 1, &day);
		wire_frame_next((const char *)data + 1, size - 1, &body, &blen,
				&used);
		break;
	}
	}
	msgpack_unpacked_destroy(&u);
	return 0;
}
