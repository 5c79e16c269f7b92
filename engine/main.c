/*
 * main.c - bookd's command line (SPEC section 1) and process setup.  With
 * --write-snapshot as its first argument the binary is the checkpoint
 * compactor the engine spawns (compact.h), not an engine.
 *
 * Bad arguments, an unusable data directory, a corrupt log or a held lock
 * end the process at once with a one-line reason and a non-zero status,
 * before anything is modified.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compact.h"
#include "log.h"
#include "num.h"
#include "quanta.h"
#include "server.h"

static void usage(FILE *f)
{
	fputs(
	    "usage: bookd [--data DIR] [--socket PATH] [--hold-ttl-ms N]\n"
	    "             [--horizon-days N] [--max-resources N]\n"
	    "             [--sync on|off] [--sync-mode uring|plain]\n"
	    "             [--admin-group NAME] [--segment-mb N] [--max-conns "
	    "N]\n"
	    "             [--checkpoint-mb N] [--archive-wal]\n"
	    "             [--pages-dir DIR | --pages-on-disk]\n"
	    "\n"
	    "  --data DIR          data directory (default ./var)\n"
	    "  --socket PATH       Unix socket (default DIR/bookd.sock)\n"
	    "  --hold-ttl-ms N     hold lifetime after renewal (default "
	    "10000)\n"
	    "  --horizon-days N    bookable days ahead (default 730)\n"
	    "  --max-resources N   resource slots in the pages (default "
	    "1024)\n"
	    "  --sync on|off       fdatasync every commit group (default "
	    "on;\n"
	    "                      off is for benchmarks only)\n"
	    "  --sync-mode M       uring (default) or plain fdatasync\n"
	    "  --admin-group NAME  members connect as admin\n"
	    "  --segment-mb N      WAL segment size (default 64)\n"
	    "  --max-conns N       connections at once (default 4096)\n"
	    "  --checkpoint-mb N   log written between snapshots (default "
	    "64)\n"
	    "  --archive-wal       keep trimmed log segments in wal/archive/\n"
	    "  --checkpoint-foreground  write snapshots in the engine's loop,\n"
	    "                      stalling it, instead of by a spawned\n"
	    "                      compactor process\n"
	    "  --pages-dir DIR     keep the shared pages file in DIR, on a\n"
	    "                      memory file system, DATA/pages linking to "
	    "it\n"
	    "                      (default /dev/shm)\n"
	    "  --pages-on-disk     keep it in DATA itself (the kernel writes "
	    "it\n"
	    "                      back to the log's disk)\n"
	    "\n"
	    "limits (proto/PROTOCOL.md section 5):\n"
	    "  --admin-reserve N        connections kept for admins\n"
	    "                           (max-conns / 8, at most 16)\n"
	    "  --max-conns-per-uid N    per non-admin user (max-conns / 4)\n"
	    "  --max-conn-output-mb N   unread output pausing a connection "
	    "(8)\n"
	    "  --max-output-mb N        unread output of all connections "
	    "(256)\n"
	    "  --max-input-mb N         incomplete frames of all connections "
	    "(256)\n"
	    "  --frame-timeout-ms N     an incomplete frame, at most (10000)\n"
	    "  --idle-timeout-ms N      idle public connections, 0 never "
	    "(300000)\n"
	    "  --frames-per-turn N      of one connection per loop turn (64)\n"
	    "  --bytes-per-turn N       of one connection per loop turn "
	    "(65536)\n"
	    "  --max-frame-items N      MessagePack objects in a request "
	    "(65536)\n"
	    "  --max-subs-per-caller N  subscriptions of one token subject "
	    "or uid (4096)\n"
	    "  --max-subs N             subscriptions in all (65536)\n"
	    "\n"
	    "What one caller may take (PROTOCOL.md section 5):\n" CALLER_USAGE,
	    f);
}

/* Long options without a short letter. */
enum {
	OPT_ADMIN_RESERVE = 256,
	OPT_PER_UID,
	OPT_CONN_OUT,
	OPT_OUT_BUDGET,
	OPT_IN_BUDGET,
	OPT_FRAME_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_FRAMES_PER_TURN,
	OPT_BYTES_PER_TURN,
	OPT_FRAME_ITEMS,
	OPT_SUBS_CALLER,
	OPT_SUBS,
	OPT_CKPT_FG,
	OPT_PAGES_DIR,
	OPT_PAGES_ON_DISK,
	OPT_CKPT_FAIL,
	OPT_CKPT_DELAY,
	OPT_CKPT_KB,
};

static int parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		     uint64_t *out)
{
	if (num_parse_u64(s, lo, hi, out) < 0) {
		fprintf(stderr,
			"bookd: %s: expected a whole number from %llu to "
			"%llu, got '%s'\n",
			opt, (unsigned long long)lo, (unsigned long long)hi, s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"socket", required_argument, NULL, 's'},
	    {"hold-ttl-ms", required_argument, NULL, 't'},
	    {"horizon-days", required_argument, NULL, 'H'},
	    {"max-resources", required_argument, NULL, 'm'},
	    {"sync", required_argument, NULL, 'y'},
	    {"sync-mode", required_argument, NULL, 'Y'},
	    {"admin-group", required_argument, NULL, 'g'},
	    {"segment-mb", required_argument, NULL, 'S'},
	    {"max-conns", required_argument, NULL, 'C'},
	    {"checkpoint-mb", required_argument, NULL, 'K'},
	    {"archive-wal", no_argument, NULL, 'A'},
	    {"checkpoint-foreground", no_argument, NULL, OPT_CKPT_FG},
	    {"pages-dir", required_argument, NULL, OPT_PAGES_DIR},
	    {"pages-on-disk", no_argument, NULL, OPT_PAGES_ON_DISK},
	    {"admin-reserve", required_argument, NULL, OPT_ADMIN_RESERVE},
	    {"max-conns-per-uid", required_argument, NULL, OPT_PER_UID},
	    {"max-conn-output-mb", required_argument, NULL, OPT_CONN_OUT},
	    {"max-output-mb", required_argument, NULL, OPT_OUT_BUDGET},
	    {"max-input-mb", required_argument, NULL, OPT_IN_BUDGET},
	    {"frame-timeout-ms", required_argument, NULL, OPT_FRAME_TIMEOUT},
	    {"idle-timeout-ms", required_argument, NULL, OPT_IDLE_TIMEOUT},
	    {"frames-per-turn", required_argument, NULL, OPT_FRAMES_PER_TURN},
	    {"bytes-per-turn", required_argument, NULL, OPT_BYTES_PER_TURN},
	    {"max-frame-items", required_argument, NULL, OPT_FRAME_ITEMS},
	    {"max-subs-per-caller", required_argument, NULL, OPT_SUBS_CALLER},
	    {"max-subs", required_argument, NULL, OPT_SUBS},
#ifdef BOOKD_TEST_HOOKS
	    {"fail-sync-at", required_argument, NULL, 'F'},
	    {"test-sync-delay-ms", required_argument, NULL, 'D'},
	    {"test-wal-max-payload", required_argument, NULL, 'W'},
	    {"test-nofile", required_argument, NULL, 'N'},
	    {"test-checkpoint-fail", required_argument, NULL, OPT_CKPT_FAIL},
	    {"test-checkpoint-delay-ms", required_argument, NULL,
	     OPT_CKPT_DELAY},
	    {"test-checkpoint-kb", required_argument, NULL, OPT_CKPT_KB},
#endif
	    {"help", no_argument, NULL, 'h'},
	    CALLER_LONGOPTS{NULL, 0, NULL, 0},
	};
	struct config cfg = {
	    .data_dir = "./var",
	    .hold_ttl_ms = 10000,
	    .horizon_days = 730,
	    .past_days = 7,
	    .max_resources = 1024,
	    .pages_dir = "/dev/shm",
	    .max_conns = 4096,
	    .sync = SYNC_URING,
	    .admin_reserve = UINT32_MAX, /* min(16, max_conns / 8) */
	    .conn_out_max = 8u << 20,
	    .out_budget = 256u << 20,
	    .in_budget = 256u << 20,
	    .frame_timeout_ms = 10000,
	    .idle_timeout_ms = 300000,
	    .frames_per_turn = 64,
	    .bytes_per_turn = 65536,
	    .max_frame_items = 65536,
	    .max_subs_per_caller = 4096,
	    .max_subs = 65536,
	    .limits = CALLER_LIMITS_DEFAULT,
	};
	static char sockbuf[PATH_MAX];
	static struct server srv;
	bool sync_off = false;
	uint64_t v;
	int c, rc;

	/* The checkpoint compactor the engine spawns (compact.h). */
	if (argc > 1 && strcmp(argv[1], COMPACT_MODE) == 0)
		return compact_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			cfg.data_dir = optarg;
			break;
		case 's':
			cfg.socket_path = optarg;
			break;
		case 't':
			if (parse_u64("--hold-ttl-ms", optarg, 100, 3600000,
				      &v))
				return BOOKD_EXIT_START;
			cfg.hold_ttl_ms = (int64_t)v;
			break;
		case 'H':
			if (parse_u64("--horizon-days", optarg, 1, 3660, &v))
				return BOOKD_EXIT_START;
			cfg.horizon_days = (uint32_t)v;
			break;
		case 'm':
			if (parse_u64("--max-resources", optarg, 1, 1000000,
				      &v))
				return BOOKD_EXIT_START;
			cfg.max_resources = (uint32_t)v;
			break;
		case 'y':
			if (strcmp(optarg, "on") == 0)
				sync_off = false;
			else if (strcmp(optarg, "off") == 0)
				sync_off = true;
			else {
				fprintf(stderr,
					"bookd: --sync: 'on' or 'off', "
					"got '%s'\n",
					optarg);
				return BOOKD_EXIT_START;
			}
			break;
		case 'Y':
			if (strcmp(optarg, "uring") == 0)
				cfg.sync = SYNC_URING;
			else if (strcmp(optarg, "plain") == 0)
				cfg.sync = SYNC_PLAIN;
			else {
				fprintf(stderr,
					"bookd: --sync-mode: 'uring' or "
					"'plain', got '%s'\n",
					optarg);
				return BOOKD_EXIT_START;
			}
			break;
		case 'g': {
			struct group *g = getgrnam(optarg);
			if (g == NULL) {
				fprintf(stderr,
					"bookd: --admin-group: no group '%s'\n",
					optarg);
				return BOOKD_EXIT_START;
			}
			cfg.admin_gid = g->gr_gid;
			cfg.have_admin_gid = true;
			break;
		}
		case 'K':
			if (parse_u64("--checkpoint-mb", optarg, 1, 1 << 20,
				      &v))
				return BOOKD_EXIT_START;
			cfg.checkpoint_bytes = v << 20;
			break;
		case 'A':
			cfg.archive = true;
			break;
		case OPT_CKPT_FG:
			cfg.checkpoint_foreground = true;
			break;
		case OPT_PAGES_DIR:
			if (optarg[0] != '/') {
				fprintf(stderr,
					"bookd: --pages-dir needs an "
					"absolute path: %s\n",
					optarg);
				return BOOKD_EXIT_START;
			}
			cfg.pages_dir = optarg;
			break;
		case OPT_PAGES_ON_DISK:
			cfg.pages_dir = NULL;
			break;
		case 'C':
			if (parse_u64("--max-conns", optarg, 1, 1000000, &v))
				return BOOKD_EXIT_START;
			cfg.max_conns = (uint32_t)v;
			break;
		case 'S':
			if (parse_u64("--segment-mb", optarg, 1, 4096, &v))
				return BOOKD_EXIT_START;
			cfg.segment_size = v << 20;
			break;
#ifdef BOOKD_TEST_HOOKS
		case OPT_CKPT_FAIL:
			/* The first N checkpoint children fail. */
			if (parse_u64("--test-checkpoint-fail", optarg, 1, 1000,
				      &v))
				return BOOKD_EXIT_START;
			cfg.ckpt_fail = (uint32_t)v;
			break;
		case OPT_CKPT_DELAY:
			/* A checkpoint child waits this long after writing,
			 * so a test can kill it or the engine meanwhile. */
			if (parse_u64("--test-checkpoint-delay-ms", optarg, 1,
				      600000, &v))
				return BOOKD_EXIT_START;
			cfg.ckpt_delay_ms = (uint32_t)v;
			break;
		case OPT_CKPT_KB:
			/* Checkpoints after less log than --checkpoint-mb
			 * allows, so a short test sees many. */
			if (parse_u64("--test-checkpoint-kb", optarg, 1,
				      1 << 20, &v))
				return BOOKD_EXIT_START;
			cfg.checkpoint_bytes = v << 10;
			break;
		case 'F':
			/* Fault injection for the durability tests: the Nth
			 * fdatasync reports an I/O error. */
			if (parse_u64("--fail-sync-at", optarg, 1, UINT64_MAX,
				      &v))
				return BOOKD_EXIT_START;
			cfg.fail_sync_at = v;
			break;
		case 'D':
			/* A slow disk for the ordering tests: each plain
			 * fdatasync starts this much later; with io_uring,
			 * that of each group begun with none in flight, so
			 * that the next group's completes first. */
			if (parse_u64("--test-sync-delay-ms", optarg, 1, 10000,
				      &v))
				return BOOKD_EXIT_START;
			cfg.sync_delay_ms = (uint32_t)v;
			break;
		case 'W':
			/* A low record limit for the TOO_LARGE tests. */
			if (parse_u64("--test-wal-max-payload", optarg, 64,
				      UINT32_MAX, &v))
				return BOOKD_EXIT_START;
			cfg.wal_max_payload = (uint32_t)v;
			break;
		case 'N':
			/* Few descriptors after start-up: accept hits EMFILE.
			 */
			if (parse_u64("--test-nofile", optarg, 16, 1 << 20, &v))
				return BOOKD_EXIT_START;
			cfg.nofile = (uint32_t)v;
			break;
#endif
		case OPT_ADMIN_RESERVE:
			if (parse_u64("--admin-reserve", optarg, 0, 100000, &v))
				return BOOKD_EXIT_START;
			cfg.admin_reserve = (uint32_t)v;
			break;
		case OPT_PER_UID:
			if (parse_u64("--max-conns-per-uid", optarg, 1, 1000000,
				      &v))
				return BOOKD_EXIT_START;
			cfg.max_conns_per_uid = (uint32_t)v;
			break;
		case OPT_CONN_OUT:
			if (parse_u64("--max-conn-output-mb", optarg, 1, 4096,
				      &v))
				return BOOKD_EXIT_START;
			cfg.conn_out_max = v << 20;
			break;
		case OPT_OUT_BUDGET:
			if (parse_u64("--max-output-mb", optarg, 1, 1 << 20,
				      &v))
				return BOOKD_EXIT_START;
			cfg.out_budget = v << 20;
			break;
		case OPT_IN_BUDGET:
			if (parse_u64("--max-input-mb", optarg, 1, 1 << 20, &v))
				return BOOKD_EXIT_START;
			cfg.in_budget = v << 20;
			break;
		case OPT_FRAME_TIMEOUT:
			if (parse_u64("--frame-timeout-ms", optarg, 100,
				      DAY_SECONDS * 1000, &v))
				return BOOKD_EXIT_START;
			cfg.frame_timeout_ms = (int64_t)v;
			break;
		case OPT_IDLE_TIMEOUT:
			if (parse_u64("--idle-timeout-ms", optarg, 0,
				      DAY_SECONDS * 1000, &v))
				return BOOKD_EXIT_START;
			cfg.idle_timeout_ms = (int64_t)v;
			break;
		case OPT_FRAMES_PER_TURN:
			if (parse_u64("--frames-per-turn", optarg, 1, 1000000,
				      &v))
				return BOOKD_EXIT_START;
			cfg.frames_per_turn = (uint32_t)v;
			break;
		case OPT_BYTES_PER_TURN:
			if (parse_u64("--bytes-per-turn", optarg, 4096, 1 << 30,
				      &v))
				return BOOKD_EXIT_START;
			cfg.bytes_per_turn = v;
			break;
		case OPT_SUBS_CALLER:
			if (parse_u64("--max-subs-per-caller", optarg, 1,
				      1 << 24, &v))
				return BOOKD_EXIT_START;
			cfg.max_subs_per_caller = (uint32_t)v;
			break;
		case OPT_SUBS:
			if (parse_u64("--max-subs", optarg, 1, 1 << 24, &v))
				return BOOKD_EXIT_START;
			cfg.max_subs = v;
			break;
		case OPT_FRAME_ITEMS:
			if (parse_u64("--max-frame-items", optarg, 64, 1 << 20,
				      &v))
				return BOOKD_EXIT_START;
			cfg.max_frame_items = (uint32_t)v;
			break;
		case 'h':
			usage(stdout);
			return BOOKD_EXIT_OK;
		default:
			if (c >= CALLER_OPT_FIRST && c < CALLER_OPT_LAST) {
				if (caller_option(&cfg.limits, c, optarg))
					return BOOKD_EXIT_START;
				break;
			}
			usage(stderr);
			return BOOKD_EXIT_START;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bookd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return BOOKD_EXIT_START;
	}
	if (sync_off)
		cfg.sync = SYNC_OFF;
	if (cfg.admin_reserve == UINT32_MAX)
		cfg.admin_reserve =
		    cfg.max_conns / 8 < 16 ? cfg.max_conns / 8 : 16;
	if (cfg.socket_path == NULL) {
		if (snprintf(sockbuf, sizeof(sockbuf), "%s/bookd.sock",
			     cfg.data_dir) >= (int)sizeof(sockbuf)) {
			fprintf(stderr, "bookd: --data: path too long\n");
			return BOOKD_EXIT_START;
		}
		cfg.socket_path = sockbuf;
	}
	rc = server_init(&srv, &cfg);
	if (rc == BOOKD_EXIT_OK)
		rc = server_run(&srv);
	server_free(&srv);
	if (rc == BOOKD_EXIT_OK)
		log_msg("stopped");
	return rc;
}
