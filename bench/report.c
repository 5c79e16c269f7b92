/*
 * report.c - figures, the machine line, and the table and JSON output.
 * See report.h.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "util.h"

void bench_report_init(struct bench_report *r, int argc, char **argv)
{
	size_t off = 0;

	memset(r, 0, sizeof *r);
	for (int i = 0; i < argc && off < sizeof r->machine.command - 1; i++) {
		int n = snprintf(r->machine.command + off,
				 sizeof r->machine.command - off, "%s%s",
				 i ? " " : "", argv[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

void bench_report_free(struct bench_report *r)
{
	for (size_t i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	free(r->notes);
	free(r->fig);
	memset(r, 0, sizeof *r);
}

static void read_cpu_model(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "re");

	strlcpy(buf, "unknown CPU", len);
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f)) {
		char *colon;
		if (strncmp(line, "model name", 10) != 0)
			continue;
		colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		colon[strcspn(colon, "\n")] = 0;
		strlcpy(buf, colon, len);
		break;
	}
	fclose(f);
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' &&
		    p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 +
				      (p[3] - '0'));
			p += 3;
		} else {
			*w++ = *p;
		}
	}
	*w = 0;
}

/* The type of the mount holding path: the longest mount point that is a
 * prefix of it at a component boundary. */
static void read_fs_type(const char *path, char *buf, size_t len)
{
	char line[4096];
	size_t best = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	strlcpy(buf, "unknown", len);
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f)) {
		char *save = NULL, *tok, *mnt = NULL, *sep;
		size_t mlen;
		int i = 0;

		sep = strstr(line, " - ");
		if (sep == NULL)
			continue;
		*sep = 0;
		for (tok = strtok_r(line, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save), i++)
			if (i == 4)
				mnt = tok;
		if (mnt == NULL)
			continue;
		unescape_octal(mnt);
		mlen = strlen(mnt);
		if (strncmp(path, mnt, mlen) != 0 ||
		    (mlen > 1 && path[mlen] != '/' && path[mlen] != 0))
			continue;
		if (mlen >= best) {
			char *fstype = sep + 3;
			best = mlen;
			fstype[strcspn(fstype, " \n")] = 0;
			strlcpy(buf, fstype, len);
		}
	}
	fclose(f);
}

void bench_machine_load(double out[3])
{
	FILE *f = fopen("/proc/loadavg", "re");

	out[0] = out[1] = out[2] = -1;
	if (f == NULL)
		return;
	if (fscanf(f, "%lf %lf %lf", &out[0], &out[1], &out[2]) != 3)
		out[0] = out[1] = out[2] = -1;
	fclose(f);
}

/* Seconds of CPU time the machine spent busy since boot (/proc/stat: user,
 * nice, system, irq, softirq, steal), or -1. */
static double machine_busy(void)
{
	unsigned long long v[8] = {0};
	double hz = (double)sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8 || hz <= 0)
		return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz;
}

static double tv_secs(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void bench_machine_end(struct bench_machine *m)
{
	struct rusage self, kids;
	double busy = machine_busy(), wall, ours;

	bench_machine_load(m->load_end);
	m->other_pct = -1;
	if (busy < 0 || m->busy_start < 0 ||
	    getrusage(RUSAGE_SELF, &self) < 0 ||
	    getrusage(RUSAGE_CHILDREN, &kids) < 0)
		return;
	wall = (double)bench_now_ns() / 1e9 - m->wall_start;
	ours = tv_secs(self.ru_utime) + tv_secs(self.ru_stime) +
	       tv_secs(kids.ru_utime) + tv_secs(kids.ru_stime);
	if (wall > 0 && m->cores > 0) {
		m->other_pct =
		    100.0 * (busy - m->busy_start - ours) / (wall * m->cores);
		if (m->other_pct < 0)
			m->other_pct = 0;
	}
}

void bench_machine_probe(struct bench_machine *m, const char *dir)
{
	char real[PATH_MAX];
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;

	read_cpu_model(m->cpu, sizeof m->cpu);
	m->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof m->kernel, "%s %s", u.sysname,
			 u.release);
	else
		strlcpy(m->kernel, "unknown kernel", sizeof m->kernel);
	if (realpath(dir, real) == NULL)
		strlcpy(real, dir, sizeof real);
	strlcpy(m->fs_dir, real, sizeof m->fs_dir);
	read_fs_type(real, m->fs, sizeof m->fs);
	gmtime_r(&now, &tm);
	strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
	bench_machine_load(m->load_start);
	m->load_end[0] = m->load_end[1] = m->load_end[2] = -1;
	m->busy_start = machine_busy();
	m->wall_start = (double)bench_now_ns() / 1e9;
	m->other_pct = -1;
}

void bench_machine_line(const struct bench_machine *m, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "machine: %s, %d cores, %s, data on %s (%s); load "
			 "%.2f %.2f %.2f at start",
			 m->cpu, m->cores, m->kernel, m->fs, m->fs_dir,
			 m->load_start[0], m->load_start[1], m->load_start[2]);

	if (n >= 0 && (size_t)n < len && m->load_end[0] >= 0)
		n += snprintf(buf + n, len - (size_t)n,
			      ", %.2f %.2f %.2f at end", m->load_end[0],
			      m->load_end[1], m->load_end[2]);
	if (n >= 0 && (size_t)n < len && m->other_pct >= 0)
		snprintf(buf + n, len - (size_t)n,
			 "; other processes used %.0f%% of the CPUs",
			 m->other_pct);
}

static struct bench_figure *new_figure(struct bench_report *r,
				       const char *scenario, const char *key,
				       const char *label, const char *unit)
{
	struct bench_figure *f;

	if (r->nfig == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->fig = bench_reallocarray(r->fig, r->cap, sizeof *r->fig);
	}
	f = &r->fig[r->nfig++];
	memset(f, 0, sizeof *f);
	strlcpy(f->scenario, scenario, sizeof f->scenario);
	strlcpy(f->key, key, sizeof f->key);
	strlcpy(f->label, label, sizeof f->label);
	strlcpy(f->unit, unit, sizeof f->unit);
	return f;
}

void bench_report_add(struct bench_report *r, const char *scenario,
		      const char *key, const char *label, const char *unit,
		      double *values, size_t n)
{
	struct bench_figure *f = new_figure(r, scenario, key, label, unit);

	f->n = n;
	f->median = bench_median(values, n);
	f->min = n ? values[0] : 0;
	f->max = n ? values[n - 1] : 0;
}

void bench_report_add1(struct bench_report *r, const char *scenario,
		       const char *key, const char *label, const char *unit,
		       double value)
{
	bench_report_add(r, scenario, key, label, unit, &value, 1);
}

void bench_report_note(struct bench_report *r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (r->nnotes == r->notes_cap) {
		r->notes_cap = r->notes_cap ? r->notes_cap * 2 : 16;
		r->notes = bench_reallocarray(r->notes, r->notes_cap,
					      sizeof *r->notes);
	}
	r->notes[r->nnotes] = strdup(buf);
	if (r->notes[r->nnotes] == NULL)
		bench_die("out of memory");
	r->nnotes++;
	bench_log("note: %s", buf);
}

const struct bench_figure *bench_report_find(const struct bench_report *r,
					     const char *key)
{
	for (size_t i = 0; i < r->nfig; i++)
		if (strcmp(r->fig[i].key, key) == 0)
			return &r->fig[i];
	return NULL;
}

/* Three significant digits, with k/M/G for large numbers. */
static void fmt_num(double v, char *buf, size_t len)
{
	double a = v < 0 ? -v : v;

	if (a >= 1e9)
		snprintf(buf, len, "%.3gG", v / 1e9);
	else if (a >= 1e6)
		snprintf(buf, len, "%.3gM", v / 1e6);
	else if (a >= 1e4)
		snprintf(buf, len, "%.3gk", v / 1e3);
	else if (a >= 100)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.3g", v);
}

int bench_report_table(const struct bench_report *r, FILE *f)
{
	char line[1024];
	const char *last = "";

	bench_machine_line(&r->machine, line, sizeof line);
	fprintf(f, "%s\ndate: %s\ncommand: %s\n\n", line, r->machine.date,
		r->machine.command);
	fprintf(f, "%-12s %-60s %9s %9s %9s  %s\n", "scenario", "figure",
		"median", "min", "max", "unit");
	for (size_t i = 0; i < r->nfig; i++) {
		const struct bench_figure *g = &r->fig[i];
		char med[32], lo[32], hi[32];

		fmt_num(g->median, med, sizeof med);
		fmt_num(g->min, lo, sizeof lo);
		fmt_num(g->max, hi, sizeof hi);
		fprintf(f, "%-12s %-60s %9s %9s %9s  %s\n",
			strcmp(last, g->scenario) ? g->scenario : "", g->label,
			med, lo, hi, g->unit);
		last = g->scenario;
	}
	if (r->nnotes)
		fputs("\nnotes:\n", f);
	for (size_t i = 0; i < r->nnotes; i++)
		fprintf(f, "  - %s\n", r->notes[i]);
	return ferror(f) ? -1 : 0;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	/* %.17g round-trips; JSON has no NaN or infinity. */
	if (v != v || v > 1e300 || v < -1e300)
		fputs("null", f);
	else
		fprintf(f, "%.17g", v);
}

int bench_report_json(const struct bench_report *r, FILE *f)
{
	const struct bench_machine *m = &r->machine;
	char line[1024];

	bench_machine_line(m, line, sizeof line);
	fputs("{\"machine\": {\"cpu\": ", f);
	json_str(f, m->cpu);
	fprintf(f, ", \"cores\": %d, \"kernel\": ", m->cores);
	json_str(f, m->kernel);
	fputs(", \"fs\": ", f);
	json_str(f, m->fs);
	fputs(", \"fs_dir\": ", f);
	json_str(f, m->fs_dir);
	fprintf(f, ", \"load_start\": [%.2f, %.2f, %.2f]", m->load_start[0],
		m->load_start[1], m->load_start[2]);
	fprintf(f, ", \"load_end\": [%.2f, %.2f, %.2f]", m->load_end[0],
		m->load_end[1], m->load_end[2]);
	fputs(", \"other_cpu_pct\": ", f);
	json_num(f, m->other_pct);
	fputs(", \"line\": ", f);
	json_str(f, line);
	fputs("},\n \"date\": ", f);
	json_str(f, m->date);
	fputs(",\n \"command\": ", f);
	json_str(f, m->command);
	fputs(",\n \"figures\": [", f);
	for (size_t i = 0; i < r->nfig; i++) {
		const struct bench_figure *g = &r->fig[i];
		fputs(i ? ",\n  {" : "\n  {", f);
		fputs("\"scenario\": ", f);
		json_str(f, g->scenario);
		fputs(", \"key\": ", f);
		json_str(f, g->key);
		fputs(", \"label\": ", f);
		json_str(f, g->label);
		fputs(", \"unit\": ", f);
		json_str(f, g->unit);
		fputs(", \"median\": ", f);
		json_num(f, g->median);
		fputs(", \"min\": ", f);
		json_num(f, g->min);
		fputs(", \"max\": ", f);
		json_num(f, g->max);
		fprintf(f, ", \"repeats\": %zu}", g->n);
	}
	fputs("],\n \"notes\": [", f);
	for (size_t i = 0; i < r->nnotes; i++) {
		fputs(i ? ", " : "", f);
		json_str(f, r->notes[i]);
	}
	fputs("]}\n", f);
	return ferror(f) ? -1 : 0;
}
