/*
 * main.c - bookd-bench's command line: options, the scenario table, the
 * watchdog that bounds a whole run, and the targets the issue sets, checked
 * against the figures of the run.
 *
 * Every scenario runs in turn, never two at once.  A signal (SIGINT,
 * SIGTERM, SIGHUP) or the --max-seconds bound ends the run at once through
 * bench_die(), which kills the engines the run started and removes their
 * directories.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "num.h"
#include "peer_redis.h"
#include "report.h"
#include "sc_ckpt.h"
#include "sc_read.h"
#include "sc_sys.h"
#include "sc_write.h"
#include "util.h"

struct scenario {
	const char *name;
	int (*fn)(struct bench_ctx *);
	bool standard; /* part of "standard" */
	const char *what;
};

static const struct scenario scenarios[] = {
    {"raw", sc_raw, true,
     "fdatasync of a 4 KiB append, Unix-socket ping-pong, bookd ping"},
    {"read-mmap", sc_read_mmap, true, "reader checks/s on one core"},
    {"read-socket", sc_read_socket, true,
     "check over the socket: 1 synchronous, N pipelined connections"},
    {"slots", sc_slots, true,
     "slots.day and slots.month (42 days), socket and reader"},
    {"book", sc_book, true,
     "durable bookings/s and latency at each client count"},
    {"hold", sc_hold, true,
     "heartbeats/s and hold -> push delay with many subscribers"},
    {"history", sc_history, true,
     "read-mmap and read-socket with 0 and --history past bookings"},
    {"recover", sc_recover, true, "restart time against log length"},
    {"memory", sc_memory, true,
     "bookd RSS and pages size, per resources and per bookings"},
    {"ckpt-latency", sc_ckpt_latency, true,
     "a booking client's worst latency while a checkpoint is written"},
    {"redis", sc_redis, false,
     "the peer: Redis (--redis SOCKET) with the same shape"},
};
#define NSCEN (sizeof scenarios / sizeof scenarios[0])

static void usage(FILE *f)
{
	fputs("usage: bookd-bench [options] SCENARIO...\n"
	      "\n"
	      "scenarios:\n"
	      "  standard       every scenario marked * below\n",
	      f);
	for (size_t i = 0; i < NSCEN; i++)
		fprintf(f, "  %-14s %s%s\n", scenarios[i].name,
			scenarios[i].standard ? "* " : "  ", scenarios[i].what);
	fputs(
	    "\n"
	    "options:\n"
	    "  --bookd PATH          engine binary (default: bookd next to\n"
	    "                        bookd-bench, else $BOOKD_BIN)\n"
	    "  --dir DIR             where engines' temporary directories go\n"
	    "                        (default: bookd-bench's directory)\n"
	    "  --socket PATH --data DIR   use a running engine instead\n"
	    "  --redis PATH          Redis socket for the redis scenario\n"
	    "  --engine-args ARGS    more arguments for every started engine\n"
	    "                        (e.g. \"--sync-mode plain\")\n"
	    "  --time S              timed phase of each run (default 2)\n"
	    "  --warmup S            warm-up before it (default 0.5)\n"
	    "  --repeats N           runs per figure, median reported "
	    "(default 3)\n"
	    "  --clients LIST        book's client counts (default "
	    "1,8,32,128)\n"
	    "  --conns N             pipelined connections (default 8)\n"
	    "  --pipeline N          requests in flight per pipelined\n"
	    "                        connection (default 32)\n"
	    "  --resources N         resources (default 1000)\n"
	    "  --days N              days from tomorrow (default 30)\n"
	    "  --preload N           active bookings before reads (default "
	    "10000)\n"
	    "  --history N           past bookings of history (default "
	    "1000000)\n"
	    "  --recover LIST        log lengths of recover (default "
	    "100000,1000000)\n"
	    "  --memory-bookings N   bookings loaded by memory (default "
	    "1000000)\n"
	    "  --ckpt-bookings N     bookings in ckpt-latency's checkpoint\n"
	    "                        (default 1000000)\n"
	    "  --subscribers N       holds subscribers (default 1000)\n"
	    "  --pushes N            holds timed per repeat (default 200)\n"
	    "  --cpu N               CPU for the reader figures (default 1)\n"
	    "  --json                JSON on stdout instead of the table\n"
	    "  --json-out FILE       also write the JSON to FILE\n"
	    "  --max-seconds N       end the whole run after N seconds "
	    "(default 3600)\n",
	    f);
}

static bool parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		      uint64_t *out)
{
	if (num_parse_u64(s, lo, hi, out) == 0)
		return true;
	fprintf(stderr,
		"bookd-bench: %s: a whole number from %llu to %llu, "
		"not '%s'\n",
		opt, (unsigned long long)lo, (unsigned long long)hi, s);
	return false;
}

static bool parse_secs(const char *opt, const char *s, uint64_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !(v >= 0.0 && v <= 3600.0)) {
		fprintf(stderr,
			"bookd-bench: %s: seconds from 0 to 3600, not "
			"'%s'\n",
			opt, s);
		return false;
	}
	*ms = (uint64_t)(v * 1000.0 + 0.5);
	return true;
}

/* "1,8,32" into out[]; at most max items, each in [lo, hi]. */
static bool parse_list(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		       uint64_t *out, size_t max, size_t *n)
{
	char buf[256], *save = NULL, *tok;

	if (strlcpy(buf, s, sizeof buf) >= sizeof buf) {
		fprintf(stderr, "bookd-bench: %s: list too long\n", opt);
		return false;
	}
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n == max) {
			fprintf(stderr, "bookd-bench: %s: at most %zu items\n",
				opt, max);
			return false;
		}
		if (!parse_u64(opt, tok, lo, hi, &out[*n]))
			return false;
		(*n)++;
	}
	if (*n == 0) {
		fprintf(stderr, "bookd-bench: %s: empty list\n", opt);
		return false;
	}
	return true;
}

/* ---- the watchdog ----------------------------------------------------- */

static uint64_t max_seconds = 3600;

static void *watchdog(void *arg)
{
	sigset_t *set = arg;
	struct timespec ts = {(time_t)max_seconds, 0};
	int sig;

	do
		sig = sigtimedwait(set, NULL, &ts);
	while (sig < 0 && errno == EINTR);
	if (sig < 0)
		bench_die("the run exceeded --max-seconds %llu; stopping",
			  (unsigned long long)max_seconds);
	bench_die("stopped by signal %d", sig);
}

/* ---- targets ---------------------------------------------------------- */

static double fig(const struct bench_report *r, const char *key)
{
	const struct bench_figure *f = bench_report_find(r, key);

	return f ? f->median : -1;
}

/* Add a target figure and say whether it is met. */
static void target(struct bench_report *r, const char *key, const char *label,
		   const char *unit, double v, bool met)
{
	bench_report_add1(r, "targets", key, label, unit, v);
	bench_report_note(r, "target %s: %s (%.3g)", label,
			  met ? "met" : "MISSED", v);
}

/* The targets that bookd's own figures settle; the peer ratios
 * come from bench/peers/run.sh, which has both sides. */
static void check_targets(struct bench_report *r, const struct bench_ctx *x)
{
	double fs = fig(r, "raw.fdatasync.us"), rt = fig(r, "raw.pingpong.us");
	double v;
	char k[BENCH_KEY_MAX], l[BENCH_LABEL_MAX];

	for (size_t i = 0; i < x->nclients; i++) {
		int c = x->clients[i];
		double per, p99;

		bench_fmt(k, sizeof k, "book.sync.c%d.per_s", c);
		per = fig(r, k);
		if (per >= 0 && fs > 0 && rt > 0) {
			double bound = c / ((fs + rt) / 1e6);
			bench_fmt(k, sizeof k, "target.book_bound.c%d", c);
			bench_fmt(l, sizeof l,
				  "%d clients: bookings/s / bound %.0f/s "
				  "(>= 0.8)",
				  c, bound);
			target(r, k, l, "x", per / bound, per / bound >= 0.8);
		}
		bench_fmt(k, sizeof k, "book.sync.c%d.p99_us", c);
		p99 = fig(r, k);
		if (c == 32 && p99 >= 0) {
			target(r, "target.book_p99.c32",
			       "32 clients: booking p99 < 2000 us", "us", p99,
			       p99 < 2000);
		}
	}
	if ((v = fig(r, "raw.ping_ratio")) >= 0)
		target(r, "target.ping_ratio",
		       "bookd ping / raw ping-pong (<= 1.5)", "x", v, v <= 1.5);
	if ((v = fig(r, "raw.ping_thin_ratio")) >= 0)
		target(r, "target.ping_thin_ratio",
		       "bookd ping, thin client / raw ping-pong (<= 1.2)", "x",
		       v, v <= 1.2);
	if ((v = fig(r, "read-mmap.per_s")) >= 0)
		target(r, "target.reader_checks",
		       "reader checks/s on one core (> 20M)", "/s", v, v > 2e7);
	if ((v = fig(r, "slots.reader.month.us")) >= 0)
		target(r, "target.reader_month", "reader month view (< 20 us)",
		       "us", v, v < 20);
	if ((v = fig(r, "history.ratio.read-mmap.per_s")) >= 0)
		target(r, "target.history_flat",
		       "reader checks/s with history / without (0.9 - 1.1)",
		       "x", v, v >= 0.9 && v <= 1.1);
}

/* ---- main ------------------------------------------------------------- */

/* bookd next to argv[0], else $BOOKD_BIN. */
static void default_bin(const char *argv0, char *buf, size_t len)
{
	char tmp[PATH_MAX];
	const char *env = getenv("BOOKD_BIN");

	strlcpy(tmp, argv0, sizeof tmp);
	snprintf(buf, len, "%s/bookd", dirname(tmp));
	if (access(buf, X_OK) != 0 && env && *env)
		strlcpy(buf, env, len);
}

int main(int argc, char **argv)
{
	enum {
		O_BOOKD = 256,
		O_DIR,
		O_EARGS,
		O_SOCKET,
		O_DATA,
		O_REDIS,
		O_TIME,
		O_WARMUP,
		O_REPEATS,
		O_CLIENTS,
		O_CONNS,
		O_PIPELINE,
		O_RES,
		O_DAYS,
		O_PRELOAD,
		O_HISTORY,
		O_RECOVER,
		O_MEMB,
		O_CKPTB,
		O_SUBS,
		O_PUSHES,
		O_CPU,
		O_JSON,
		O_JSON_OUT,
		O_MAXSEC,
		O_HELP,
	};
	static const struct option longopts[] = {
	    {"bookd", required_argument, NULL, O_BOOKD},
	    {"dir", required_argument, NULL, O_DIR},
	    {"engine-args", required_argument, NULL, O_EARGS},
	    {"socket", required_argument, NULL, O_SOCKET},
	    {"data", required_argument, NULL, O_DATA},
	    {"redis", required_argument, NULL, O_REDIS},
	    {"time", required_argument, NULL, O_TIME},
	    {"warmup", required_argument, NULL, O_WARMUP},
	    {"repeats", required_argument, NULL, O_REPEATS},
	    {"clients", required_argument, NULL, O_CLIENTS},
	    {"conns", required_argument, NULL, O_CONNS},
	    {"pipeline", required_argument, NULL, O_PIPELINE},
	    {"resources", required_argument, NULL, O_RES},
	    {"days", required_argument, NULL, O_DAYS},
	    {"preload", required_argument, NULL, O_PRELOAD},
	    {"history", required_argument, NULL, O_HISTORY},
	    {"recover", required_argument, NULL, O_RECOVER},
	    {"memory-bookings", required_argument, NULL, O_MEMB},
	    {"ckpt-bookings", required_argument, NULL, O_CKPTB},
	    {"subscribers", required_argument, NULL, O_SUBS},
	    {"pushes", required_argument, NULL, O_PUSHES},
	    {"cpu", required_argument, NULL, O_CPU},
	    {"json", no_argument, NULL, O_JSON},
	    {"json-out", required_argument, NULL, O_JSON_OUT},
	    {"max-seconds", required_argument, NULL, O_MAXSEC},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	static char bin[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX];
	struct bench_ctx x = {
	    .warm_ms = 500,
	    .run_ms = 2000,
	    .repeats = 3,
	    .nres = 1000,
	    .ndays = 30,
	    .preload = 10000,
	    .history = 1000000,
	    .recover = {100000, 1000000},
	    .nrecover = 2,
	    .memory_bookings = 1000000,
	    .ckpt_bookings = 1000000,
	    .clients = {1, 8, 32, 128},
	    .nclients = 4,
	    .pipeline = 32,
	    .pipe_conns = 8,
	    .subscribers = 1000,
	    .pushes = 200,
	    .cpu = 1,
	};
	bool run[NSCEN] = {false}, json = false, any = false;
	const char *json_out = NULL;
	struct bench_report rep;
	uint64_t v, list[BENCH_MAX_LEVELS];
	pthread_t wd;
	sigset_t sigs;
	size_t n;
	int c, failed = 0;
	char line[1024];

	default_bin(argv[0], bin, sizeof bin);
	strlcpy(tmp, argv[0], sizeof tmp);
	strlcpy(base, dirname(tmp), sizeof base);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case O_BOOKD:
			ok = strlcpy(bin, optarg, sizeof bin) < sizeof bin;
			break;
		case O_DIR:
			ok = strlcpy(base, optarg, sizeof base) < sizeof base;
			break;
		case O_EARGS:
			x.engine_args = optarg;
			break;
		case O_SOCKET:
			x.attach_sock = optarg;
			break;
		case O_DATA:
			x.attach_data = optarg;
			break;
		case O_REDIS:
			x.redis_sock = optarg;
			break;
		case O_TIME:
			ok = parse_secs("--time", optarg, &x.run_ms) &&
			     x.run_ms > 0;
			break;
		case O_WARMUP:
			ok = parse_secs("--warmup", optarg, &x.warm_ms);
			break;
		case O_REPEATS:
			ok = parse_u64("--repeats", optarg, 1,
				       BENCH_MAX_REPEATS, &v);
			x.repeats = (int)v;
			break;
		case O_CLIENTS:
			ok = parse_list("--clients", optarg, 1, 1000, list,
					BENCH_MAX_LEVELS, &n);
			for (size_t i = 0; ok && i < n; i++)
				x.clients[i] = (int)list[i];
			x.nclients = ok ? n : x.nclients;
			break;
		case O_CONNS:
			ok = parse_u64("--conns", optarg, 1, 1000, &v);
			x.pipe_conns = (int)v;
			break;
		case O_PIPELINE:
			ok = parse_u64("--pipeline", optarg, 1, 1024, &v);
			x.pipeline = (int)v;
			break;
		case O_RES:
			ok = parse_u64("--resources", optarg, 2, 100000, &v);
			x.nres = (uint32_t)v;
			break;
		case O_DAYS:
			ok = parse_u64("--days", optarg, 1, 600, &v);
			x.ndays = (uint32_t)v;
			break;
		case O_PRELOAD:
			ok = parse_u64("--preload", optarg, 0, 100000000,
				       &x.preload);
			break;
		case O_HISTORY:
			ok = parse_u64("--history", optarg, 1, 100000000,
				       &x.history);
			break;
		case O_RECOVER:
			ok = parse_list("--recover", optarg, 1, 200000000,
					x.recover, BENCH_MAX_LEVELS,
					&x.nrecover);
			break;
		case O_MEMB:
			ok = parse_u64("--memory-bookings", optarg, 1,
				       100000000, &x.memory_bookings);
			break;
		case O_CKPTB:
			ok = parse_u64("--ckpt-bookings", optarg, 1, 100000000,
				       &x.ckpt_bookings);
			break;
		case O_SUBS:
			ok = parse_u64("--subscribers", optarg, 1, 10000, &v);
			x.subscribers = (uint32_t)v;
			break;
		case O_PUSHES:
			ok = parse_u64("--pushes", optarg, 1, 100000, &v);
			x.pushes = (uint32_t)v;
			break;
		case O_CPU:
			ok = parse_u64("--cpu", optarg, 0, 4095, &v);
			x.cpu = (int)v;
			break;
		case O_JSON:
			json = true;
			break;
		case O_JSON_OUT:
			json_out = optarg;
			break;
		case O_MAXSEC:
			ok = parse_u64("--max-seconds", optarg, 1, 86400,
				       &max_seconds);
			break;
		case O_HELP:
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (!ok)
			return 2;
	}
	if ((x.attach_sock == NULL) != (x.attach_data == NULL)) {
		fputs("bookd-bench: --socket and --data go together\n", stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		bool found = false;
		for (size_t k = 0; k < NSCEN; k++) {
			if (strcmp(argv[i], scenarios[k].name) == 0 ||
			    (strcmp(argv[i], "standard") == 0 &&
			     scenarios[k].standard)) {
				run[k] = true;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "bookd-bench: unknown scenario '%s'\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
		any = true;
	}
	if (!any) {
		usage(stderr);
		return 2;
	}
	x.bin = bin;
	x.base = base;

	/* Signals go to the watchdog thread only; children get the default
	 * mask back before exec (engine.c). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&wd, NULL, watchdog, &sigs) != 0)
		bench_die("cannot start the watchdog thread");
	pthread_detach(wd);

	bench_report_init(&rep, argc, argv);
	x.rep = &rep;
	bench_machine_probe(&rep.machine, x.attach_data ? x.attach_data : base);
	bench_machine_line(&rep.machine, line, sizeof line);
	bench_log("%s", line);
	for (size_t k = 0; k < NSCEN; k++) {
		uint64_t t0;
		if (!run[k])
			continue;
		bench_log("scenario %s", scenarios[k].name);
		t0 = bench_now_ns();
		if (scenarios[k].fn(&x) < 0) {
			bench_report_note(&rep, "scenario %s failed",
					  scenarios[k].name);
			failed = 1;
		}
		bench_log("scenario %s took %.1f s", scenarios[k].name,
			  (double)(bench_now_ns() - t0) / 1e9);
	}
	check_targets(&rep, &x);
	bench_machine_end(&rep.machine);
	if (json)
		bench_report_json(&rep, stdout);
	else
		bench_report_table(&rep, stdout);
	if (json_out) {
		FILE *f = fopen(json_out, "we");
		if (f == NULL || bench_report_json(&rep, f) < 0) {
			fprintf(stderr, "bookd-bench: %s: %s\n", json_out,
				strerror(errno));
			failed = 1;
		}
		if (f && fclose(f) != 0)
			failed = 1;
	}
	bench_report_free(&rep);
	return failed;
}
