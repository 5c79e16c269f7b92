/*
 * util.h - the harness's small tools: a monotonic clock, a fast seeded
 * random generator, growable sample arrays with percentiles, CPU pinning
 * and a message-and-exit for setup failures.
 *
 * Invariants: every time is CLOCK_MONOTONIC nanoseconds, so samples taken
 * in different threads of the harness compare directly.  A sample array
 * only grows; percentiles sort it in place.
 *
 * Failure: allocation failure and impossible set-up (a clock that does not
 * work) end the process through bench_die(), which first runs the handler
 * registered with bench_on_die() so a started engine never outlives the
 * harness.  Measurement code itself never calls bench_die().
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);
/* Sleep for ms milliseconds (restarted after signals). */
void bench_sleep_ms(uint64_t ms);

/* xoshiro256** state, seeded with splitmix64. */
struct bench_rng {
	uint64_t s[4];
};
void bench_rng_seed(struct bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(struct bench_rng *r);
/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; the bias is
 * below 2^-32 for the ranges used here). */
uint32_t bench_rng_below(struct bench_rng *r, uint32_t n);

/* A growable array of samples (latencies in ns, or any other value). */
struct bench_samples {
	uint64_t *v;
	size_t n, cap;
};
void bench_samples_add(struct bench_samples *s, uint64_t x);
/* Append every sample of src to dst. */
void bench_samples_merge(struct bench_samples *dst,
			 const struct bench_samples *src);
void bench_samples_free(struct bench_samples *s);
/* Sorts s in place; q in [0, 1]; 0 for an empty array.  Nearest-rank. */
uint64_t bench_samples_quantile(struct bench_samples *s, double q);

/* Median of n doubles (the mean of the two middle ones for even n); the
 * array is sorted in place.  0 for n == 0. */
double bench_median(double *v, size_t n);

/* snprintf into buf that ends the process when the text does not fit:
 * the harness builds keys and labels from its own short strings, so a
 * truncation is a bug to see, not a figure to mislabel. */
void bench_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Pin the calling thread to one CPU; 0 or -1 (errno set). */
int bench_pin_cpu(int cpu);

/* Print "bookd-bench: <message>" and exit(1) after the die handler. */
void bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Print "bookd-bench: <message>" on stderr (progress and warnings). */
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Bytes received on a connection: [pos, len) of b not yet parsed. */
struct bench_rbuf {
	char *b;
	size_t pos, len, cap;
};
/* Receive on fd until at least n unparsed bytes are in r; on failure or
 * end of stream log "<who> recv: ..." and return -1. */
int bench_recv_need(int fd, struct bench_rbuf *r, size_t n, const char *who);
/* Send all of buf[0..len) on socket fd; on failure log "<who> send: ..."
 * and return -1. */
int bench_send_all(int fd, const char *buf, size_t len, const char *who);
/* Run fn(arg) before bench_die() exits (one handler; NULL clears it). */
void bench_on_die(void (*fn)(void *), void *arg);

/* calloc / reallocarray that die on failure. */
void *bench_calloc(size_t n, size_t size);
void *bench_reallocarray(void *p, size_t n, size_t size);

#endif
