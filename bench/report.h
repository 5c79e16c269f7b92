/*
 * report.h - the figures a run produced, the machine they were measured
 * on, and their two renderings: a human table and JSON.
 *
 * A figure is one number per repeat (throughput of one timed run, a
 * percentile of one run's latencies, ...), reported as the median over the
 * repeats with the minimum and the maximum.  Each figure has a stable key
 * ("book.sync.c32.per_s") that bench/peers/run.sh uses to pair bookd's
 * figures with the peers' in the ratio table, a human label and a unit.
 *
 * The machine line names the CPU model, the online cores, the kernel and the
 * file system of the data directory, plus the load averages at the start
 * and the end of the run (other work on the machine skews figures; the
 * reader of the results must be able to see it).
 *
 * Failure: output functions return 0 or -1 (errno from stdio); adding a
 * figure cannot fail (allocation failure ends the process, util.h).
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

#define BENCH_KEY_MAX	96
#define BENCH_LABEL_MAX 96

struct bench_figure {
	char scenario[24];
	char key[BENCH_KEY_MAX];
	char label[BENCH_LABEL_MAX];
	char unit[16];
	double median, min, max;
	size_t n; /* repeats */
};

struct bench_machine {
	char cpu[128];
	int cores;
	char kernel[160];
	char fs[32];	  /* file system type of the data directory */
	char fs_dir[256]; /* the directory it was looked up for */
	double load_start[3];
	double load_end[3];
	/* CPU time of the whole machine and of this run (the harness and the
	 * engines it started and reaped), to tell how much other processes
	 * took: other_pct of the run's wall time times the cores, or -1 when
	 * not measured. */
	double busy_start, wall_start; /* seconds */
	double other_pct;
	char date[32];	    /* UTC, ISO 8601 */
	char command[1024]; /* the command line */
};

struct bench_report {
	struct bench_machine machine;
	struct bench_figure *fig;
	size_t nfig, cap;
	char **notes; /* free-form lines: conflicts seen, skipped parts, ... */
	size_t nnotes, notes_cap;
};

void bench_report_init(struct bench_report *r, int argc, char **argv);
void bench_report_free(struct bench_report *r);

/* Fill the machine fields; dir is a directory on the file system the
 * engine writes to. */
void bench_machine_probe(struct bench_machine *m, const char *dir);
/* Record the load averages (at the start or at the end). */
void bench_machine_load(double out[3]);
/* At the end of the run: load averages and other processes' CPU share. */
void bench_machine_end(struct bench_machine *m);

/* Add a figure from n per-repeat values (the array is sorted in place). */
void bench_report_add(struct bench_report *r, const char *scenario,
		      const char *key, const char *label, const char *unit,
		      double *values, size_t n);
/* The same for a single value. */
void bench_report_add1(struct bench_report *r, const char *scenario,
		       const char *key, const char *label, const char *unit,
		       double value);
/* A line of context printed under the table and kept in the JSON. */
void bench_report_note(struct bench_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The figure with this key, or NULL. */
const struct bench_figure *bench_report_find(const struct bench_report *r,
					     const char *key);

/* One line: "machine: CPU, N cores, Linux X, data on FS (DIR); load ...". */
void bench_machine_line(const struct bench_machine *m, char *buf, size_t len);

int bench_report_table(const struct bench_report *r, FILE *f);
int bench_report_json(const struct bench_report *r, FILE *f);

#endif
