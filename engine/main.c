/*
 * main.c - bookd's command line (SPEC section 1) and process setup.
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

#include "log.h"
#include "num.h"
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
	    "\n"
	    "What one caller may take (PROTOCOL.md section 5):\n" CALLER_USAGE,
	    f);
}

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
	    {"fail-sync-at", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    CALLER_LONGOPTS{NULL, 0, NULL, 0},
	};
	struct config cfg = {
	    .data_dir = "./var",
	    .hold_ttl_ms = 10000,
	    .horizon_days = 730,
	    .past_days = 7,
	    .max_resources = 1024,
	    .max_conns = 4096,
	    .sync = SYNC_URING,
	    .limits = CALLER_LIMITS_DEFAULT,
	};
	static char sockbuf[PATH_MAX];
	static struct server srv;
	bool sync_off = false;
	uint64_t v;
	int c, rc;

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
				return 2;
			cfg.hold_ttl_ms = (int64_t)v;
			break;
		case 'H':
			if (parse_u64("--horizon-days", optarg, 1, 3660, &v))
				return 2;
			cfg.horizon_days = (uint32_t)v;
			break;
		case 'm':
			if (parse_u64("--max-resources", optarg, 1, 1000000,
				      &v))
				return 2;
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
				return 2;
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
				return 2;
			}
			break;
		case 'g': {
			struct group *g = getgrnam(optarg);
			if (g == NULL) {
				fprintf(stderr,
					"bookd: --admin-group: no group '%s'\n",
					optarg);
				return 2;
			}
			cfg.admin_gid = g->gr_gid;
			cfg.have_admin_gid = true;
			break;
		}
		case 'K':
			if (parse_u64("--checkpoint-mb", optarg, 1, 1 << 20,
				      &v))
				return 2;
			cfg.checkpoint_bytes = v << 20;
			break;
		case 'A':
			cfg.archive = true;
			break;
		case 'C':
			if (parse_u64("--max-conns", optarg, 1, 1000000, &v))
				return 2;
			cfg.max_conns = (uint32_t)v;
			break;
		case 'S':
			if (parse_u64("--segment-mb", optarg, 1, 4096, &v))
				return 2;
			cfg.segment_size = v << 20;
			break;
		case 'F':
			/* Fault injection for the durability tests: the Nth
			 * fdatasync reports an I/O error. */
			if (parse_u64("--fail-sync-at", optarg, 1, UINT64_MAX,
				      &v))
				return 2;
			cfg.fail_sync_at = v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (c >= CALLER_OPT_FIRST && c < CALLER_OPT_LAST) {
				if (caller_option(&cfg.limits, c, optarg))
					return 2;
				break;
			}
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bookd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (sync_off)
		cfg.sync = SYNC_OFF;
	if (cfg.socket_path == NULL) {
		if (snprintf(sockbuf, sizeof(sockbuf), "%s/bookd.sock",
			     cfg.data_dir) >= (int)sizeof(sockbuf)) {
			fprintf(stderr, "bookd: --data: path too long\n");
			return 2;
		}
		cfg.socket_path = sockbuf;
	}
	rc = server_init(&srv, &cfg);
	if (rc == 0)
		rc = server_run(&srv);
	server_free(&srv);
	if (rc == 0)
		log_msg("stopped");
	return rc;
}
