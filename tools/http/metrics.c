/*
 * metrics.c - the gateway's own request counters and latency histograms,
 * in Prometheus text format.
 *
 * Owns: per route, a count per status class (2xx..5xx) and a cumulative
 * latency histogram with fixed buckets, all relaxed atomics (a scrape may
 * see one request counted in its status but not yet in its histogram; the
 * totals agree once requests stop).
 *
 * How it fails: it cannot; an allocation failure while printing leaves the
 * text short.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

static const double bucket_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
				  0.005,  0.01,	   0.025,  0.05,  0.1,
				  0.25,	  0.5,	   1,	   2.5,	  10};
#define NBUCKETS (sizeof bucket_s / sizeof bucket_s[0])

static const char *const route_name[] = {
#define X(a, b) b,
    GW_ROUTES(X)
#undef X
};

struct route_stats {
	_Atomic uint64_t by_class[6]; /* index status / 100 */
	_Atomic uint64_t hist[NBUCKETS + 1];
	_Atomic uint64_t sum_us;
};
static struct route_stats rs[GW_NROUTES];

void gw_metrics_record(int route, unsigned status, int64_t ns)
{
	struct route_stats *s;
	double sec = (double)ns / 1e9;
	size_t b = 0;

	if (route < 0 || route >= GW_NROUTES)
		route = GW_ROUTE_OTHER;
	s = &rs[route];
	atomic_fetch_add_explicit(
	    &s->by_class[status / 100 < 6 ? status / 100 : 5], 1,
	    memory_order_relaxed);
	while (b < NBUCKETS && sec > bucket_s[b])
		b++;
	atomic_fetch_add_explicit(&s->hist[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_us, (uint64_t)(ns / 1000),
				  memory_order_relaxed);
}

void gw_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = *cap - *len;
		va_start(ap, fmt);
		n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? room : 0, fmt,
			      ap);
		va_end(ap);
		if (n < 0)
			return;
		if (*buf && (size_t)n < room) {
			*len += (size_t)n;
			return;
		}
		size_t ncap = *cap ? *cap * 2 : 4096;
		while (ncap < *len + (size_t)n + 1)
			ncap *= 2;
		char *nb = realloc(*buf, ncap);
		if (nb == NULL)
			return;
		*buf = nb;
		*cap = ncap;
	}
}

void gw_metrics_text(char **buf, size_t *len, size_t *cap)
{
	gw_buf_printf(
	    buf, len, cap,
	    "# HELP bookd_http_requests_total HTTP requests answered, "
	    "by route and status class.\n"
	    "# TYPE bookd_http_requests_total counter\n");
	for (int r = 0; r < GW_NROUTES; r++)
		for (int c = 1; c < 6; c++) {
			uint64_t v = atomic_load_explicit(&rs[r].by_class[c],
							  memory_order_relaxed);
			if (v)
				gw_buf_printf(buf, len, cap,
					      "bookd_http_requests_total{route="
					      "\"%s\",code=\"%dxx\"} %llu\n",
					      route_name[r], c,
					      (unsigned long long)v);
		}
	gw_buf_printf(buf, len, cap,
		      "# HELP bookd_http_request_seconds Time from the "
		      "request's arrival to its answer being queued.\n"
		      "# TYPE bookd_http_request_seconds histogram\n");
	for (int r = 0; r < GW_NROUTES; r++) {
		uint64_t cum = 0;
		for (size_t b = 0; b <= NBUCKETS; b++)
			cum += atomic_load_explicit(&rs[r].hist[b],
						    memory_order_relaxed);
		if (cum == 0)
			continue;
		cum = 0;
		for (size_t b = 0; b < NBUCKETS; b++) {
			cum += atomic_load_explicit(&rs[r].hist[b],
						    memory_order_relaxed);
			gw_buf_printf(buf, len, cap,
				      "bookd_http_request_seconds_bucket{route="
				      "\"%s\",le=\"%g\"} %llu\n",
				      route_name[r], bucket_s[b],
				      (unsigned long long)cum);
		}
		cum += atomic_load_explicit(&rs[r].hist[NBUCKETS],
					    memory_order_relaxed);
		gw_buf_printf(
		    buf, len, cap,
		    "bookd_http_request_seconds_bucket{route=\"%s\",le=\"+"
		    "Inf\"} "
		    "%llu\nbookd_http_request_seconds_sum{route=\"%s\"} %.6f\n"
		    "bookd_http_request_seconds_count{route=\"%s\"} %llu\n",
		    route_name[r], (unsigned long long)cum, route_name[r],
		    (double)atomic_load_explicit(&rs[r].sum_us,
						 memory_order_relaxed) /
			1e6,
		    route_name[r], (unsigned long long)cum);
	}
	gw_buf_printf(
	    buf, len, cap,
	    "# HELP bookd_http_streams Open event streams.\n"
	    "# TYPE bookd_http_streams gauge\nbookd_http_streams %u\n",
	    gw_streams_open());
}
