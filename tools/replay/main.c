/*
 * main.c - bookd-replay's command line; see cmds.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "num.h"
#include "rlog.h"

static void usage(FILE *f)
{
	fputs("usage: bookd-replay verify DIR\n"
	      "       bookd-replay dump DIR [--from LSN] [--to LSN] [--json]\n"
	      "       bookd-replay replay DIR --into NEWDIR [--until LSN | "
	      "--until-time T]\n"
	      "       bookd-replay stats DIR\n"
	      "\n"
	      "  verify   check every record and the snapshot, rebuild the "
	      "state and\n"
	      "           check its invariants (and the pages file when it is "
	      "current)\n"
	      "  dump     one line per log record; --json: JSON Lines with the "
	      "full payload\n"
	      "  replay   point-in-time recovery into a fresh data directory "
	      "that bookd\n"
	      "           can open; T is ISO 8601 (2026-11-24T10:00:00Z, "
	      "UTC unless\n"
	      "           an offset is given)\n"
	      "  stats    records by type, bookings by status, log size, LSN "
	      "range and\n"
	      "           time span\n"
	      "\n"
	      "DIR is never modified.  Exit status: 0 ok, 1 damaged or failed, "
	      "2 usage.\n",
	      f);
}

static int parse_lsn(const char *opt, const char *s, uint64_t *out)
{
	if (num_parse_u64(s, 0, UINT64_MAX, out) == 0)
		return 0;
	fprintf(stderr, "bookd-replay: %s: expected an LSN, got '%s'\n", opt,
		s);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"into", required_argument, NULL, 'i'},
	    {"until", required_argument, NULL, 'u'},
	    {"until-time", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cmd_args a;
	const char *cmd;
	bool have_until = false;
	int c;

	memset(&a, 0, sizeof(a));
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	a.dir = argv[2];
	optind = 3;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_lsn("--from", optarg, &a.from_lsn))
				return EXIT_USAGE;
			break;
		case 't':
			if (parse_lsn("--to", optarg, &a.to_lsn))
				return EXIT_USAGE;
			break;
		case 'j':
			a.json = true;
			break;
		case 'i':
			a.into = optarg;
			break;
		case 'u':
			if (parse_lsn("--until", optarg, &a.to_lsn))
				return EXIT_USAGE;
			have_until = true;
			break;
		case 'T':
			if (rlog_parse_time(optarg, &a.until_ms) < 0) {
				fprintf(
				    stderr,
				    "bookd-replay: --until-time: expected "
				    "ISO 8601 such as 2026-11-24T10:00:00Z, "
				    "got '%s'\n",
				    optarg);
				return EXIT_USAGE;
			}
			a.have_until_ms = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bookd-replay: unexpected argument '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "replay") == 0) {
		if (a.into == NULL || (have_until && a.have_until_ms) ||
		    a.from_lsn || a.json) {
			fprintf(stderr, "bookd-replay: replay takes --into "
					"NEWDIR and at most one of --until and "
					"--until-time\n");
			return EXIT_USAGE;
		}
		if (have_until && a.to_lsn == 0) {
			fprintf(stderr, "bookd-replay: --until: LSNs start "
					"at 1\n");
			return EXIT_USAGE;
		}
		return cmd_replay(&a);
	}
	if (a.into || have_until || a.have_until_ms) {
		fprintf(stderr,
			"bookd-replay: --into, --until and --until-time "
			"belong to replay\n");
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(&a);
	if (a.from_lsn || a.to_lsn || a.json) {
		fprintf(stderr, "bookd-replay: --from, --to and --json belong "
				"to dump\n");
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(&a);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(&a);
	fprintf(stderr, "bookd-replay: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
