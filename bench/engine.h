/*
 * engine.h - the bookd process a benchmark measures: start one on a fresh
 * temporary directory, or attach to one that is already running.
 *
 * A started engine lives in its own directory (mkdtemp under the chosen
 * base, by default the current directory's file system so the figures are
 * those of the disk the user cares about): DIR/data is its --data, DIR/s is
 * its --socket and DIR/bookd.log collects its stderr.  The harness waits for
 * "bookd: ready" on that stderr (bounded by BENCH_READY_MS, or the caller's
 * bound for a restart that replays a long log) and then a small thread keeps
 * copying the stderr to the log so the engine never blocks on a full pipe.
 *
 * An attached engine is someone else's: the harness never stops, restarts
 * or deletes it; it only connects to its socket and maps its pages.  Its PID
 * (for RSS) comes from the socket's peer credentials.
 *
 * Invariants: every engine this module started is killed (SIGKILL) and its
 * directory removed if the harness dies through bench_die(); engines started
 * by the main thread also die with it (PR_SET_PDEATHSIG).  Every wait is
 * bounded.
 *
 * Failure: functions return 0 or -1 after printing one line saying why (and,
 * for an engine that would not start, the tail of its log).
 */
#ifndef BENCH_ENGINE_H
#define BENCH_ENGINE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bookd.h"

#define BENCH_READY_MS 60000 /* bound on a fresh start's "bookd: ready" */
#define BENCH_STOP_MS  30000 /* bound on exit after SIGTERM */
#define BENCH_CALL_MS  60000 /* bound on any reply during a benchmark */

struct bench_copier;

struct bench_engine {
	char dir[PATH_MAX];  /* the temporary directory, "" when attached */
	char data[PATH_MAX]; /* the data directory */
	char sock[108];	     /* the socket path (sun_path's size) */
	char log[PATH_MAX];  /* the engine's stderr, "" when attached */
	char bin[PATH_MAX];  /* the bookd binary, "" when attached */
	char extra[256];     /* extra arguments, split on spaces */
	pid_t pid;	     /* our child, or -1 (attached, or not running) */
	pid_t peer_pid;	     /* the engine's PID, from SO_PEERCRED */
	bool attached;
	/* private: the thread copying stderr to the log */
	struct bench_copier *copier;
};

/*
 * Start bin on a new directory under base with "--data DIR/data --socket
 * DIR/s" and the extra arguments (NULL for none, e.g. "--sync off").
 */
int bench_engine_start(struct bench_engine *e, const char *bin,
		       const char *base, const char *extra);
/* Use the engine serving sock with data directory data. */
int bench_engine_attach(struct bench_engine *e, const char *sock,
			const char *data);
/*
 * Start the engine again on its directory (after stop or kill9) and wait at
 * most ready_ms for it to be ready; *ready_ns (may be NULL) receives the
 * time from exec to "bookd: ready".
 */
int bench_engine_restart(struct bench_engine *e, int ready_ms,
			 uint64_t *ready_ns);
/* SIGTERM and wait (bounded, then SIGKILL).  0 when it exited 0. */
int bench_engine_stop(struct bench_engine *e);
/* SIGKILL and reap, as a crash would. */
void bench_engine_kill9(struct bench_engine *e);
/* Stop a started engine and remove its directory; detach otherwise. */
void bench_engine_cleanup(struct bench_engine *e);

/* A connection with the harness's reply bound; NULL after a message. */
bookd_conn *bench_engine_connect(const struct bench_engine *e);

/* The counters of the engine's "stats" op that the scenarios use. */
struct bench_stats {
	int64_t commits, fsyncs, records, bookings, lsn, log_bytes;
};
int bench_engine_stats(bookd_conn *c, struct bench_stats *out);

/* VmRSS and VmHWM of the engine in KiB (from /proc/PID/status). */
int bench_engine_rss(const struct bench_engine *e, int64_t *rss_kib,
		     int64_t *hwm_kib);

#endif
