/*
 * util.c - clock, random numbers, samples and small process helpers for
 * bookd-bench.  See util.h.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"

static void (*die_fn)(void *);
static void *die_arg;

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void bench_rng_seed(struct bench_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t bench_rng_next(struct bench_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint32_t bench_rng_below(struct bench_rng *r, uint32_t n)
{
	return (uint32_t)(((bench_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

void bench_samples_add(struct bench_samples *s, uint64_t x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		s->v = bench_reallocarray(s->v, cap, sizeof *s->v);
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

void bench_samples_merge(struct bench_samples *dst,
			 const struct bench_samples *src)
{
	if (src->n == 0)
		return;
	if (dst->cap - dst->n < src->n) {
		size_t cap = dst->n + src->n;
		dst->v = bench_reallocarray(dst->v, cap, sizeof *dst->v);
		dst->cap = cap;
	}
	memcpy(dst->v + dst->n, src->v, src->n * sizeof *src->v);
	dst->n += src->n;
}

void bench_samples_free(struct bench_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

uint64_t bench_samples_quantile(struct bench_samples *s, double q)
{
	size_t rank;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof *s->v, cmp_u64);
	/* Nearest rank: the smallest sample with at least q of all samples
	 * at or below it. */
	rank = (size_t)(q * (double)s->n + 0.999999);
	if (rank == 0)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_double);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		bench_die("internal: '%s' does not fit %zu bytes", fmt, len);
}

int bench_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set);
}

void bench_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bookd-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bookd-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (die_fn)
		die_fn(die_arg);
	exit(1);
}

void bench_on_die(void (*fn)(void *), void *arg)
{
	die_fn = fn;
	die_arg = arg;
}

void *bench_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		bench_die("out of memory");
	return p;
}

void *bench_reallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size ? size : 1);

	if (q == NULL)
		bench_die("out of memory");
	return q;
}

int bench_send_all(int fd, const char *buf, size_t len, const char *who)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			bench_log("%s send: %s", who, strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

int bench_recv_need(int fd, struct bench_rbuf *r, size_t n, const char *who)
{
	while (r->len - r->pos < n) {
		ssize_t got;
		if (r->pos > 0) {
			memmove(r->b, r->b + r->pos, r->len - r->pos);
			r->len -= r->pos;
			r->pos = 0;
		}
		if (r->cap - r->len < 4096 || r->cap < n) {
			size_t cap = r->cap ? r->cap * 2 : 65536;
			while (cap < n)
				cap *= 2;
			r->b = bench_reallocarray(r->b, cap, 1);
			r->cap = cap;
		}
		got = recv(fd, r->b + r->len, r->cap - r->len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			bench_log("%s recv: %s", who,
				  got == 0 ? "connection closed"
					   : strerror(errno));
			return -1;
		}
		r->len += (size_t)got;
	}
	return 0;
}
