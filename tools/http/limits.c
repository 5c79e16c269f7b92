/*
 * limits.c - per-address token buckets and stream counts.
 *
 * Owns: two fixed tables keyed by client address (IPv4, or the /64 of an
 * IPv6 address), each guarded by its own mutex.  The rate table holds
 * RATE_SLOTS buckets; a new address takes a free slot or evicts the least
 * recently seen of its probe run, so memory never grows with the number of
 * addresses (an evicted address simply starts with a full bucket again).
 * The stream table counts open streams per address and in total.
 *
 * Invariants: a bucket holds at most gw_cfg.rate_per_ip tokens and refills
 * at gw_cfg.rate_per_ip per second; open streams never exceed
 * gw_cfg.max_streams in total or gw_cfg.max_streams_per_ip per address.
 *
 * How it fails: it cannot; a full stream table refuses the stream.
 */
#include <pthread.h>
#include <string.h>

#include "gw.h"

#define RATE_SLOTS   8192
#define STREAM_SLOTS 1024
#define PROBE	     8

struct bucket {
	unsigned char key[16];
	double tokens;
	int64_t last_ns;
	bool used;
};

struct scount {
	unsigned char key[16];
	unsigned n;
};

static struct bucket buckets[RATE_SLOTS];
static pthread_mutex_t rate_mu = PTHREAD_MUTEX_INITIALIZER;
static struct scount scounts[STREAM_SLOTS];
static unsigned streams_total;
static pthread_mutex_t stream_mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash16(const unsigned char k[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

unsigned gw_rate_take(const unsigned char key[16])
{
	uint32_t h = hash16(key);
	int64_t now = gw_now_ns();
	double rate = gw_cfg.rate_per_ip;
	struct bucket *b = NULL, *oldest = NULL;
	unsigned wait = 0;

	pthread_mutex_lock(&rate_mu);
	for (int i = 0; i < PROBE; i++) {
		struct bucket *x = &buckets[(h + (uint32_t)i) % RATE_SLOTS];
		if (x->used && memcmp(x->key, key, 16) == 0) {
			b = x;
			break;
		}
		if (!x->used) {
			if (oldest == NULL || oldest->used)
				oldest = x;
		} else if (oldest == NULL ||
			   (oldest->used && x->last_ns < oldest->last_ns)) {
			oldest = x;
		}
	}
	if (b == NULL) {
		b = oldest;
		memcpy(b->key, key, 16);
		b->used = true;
		b->tokens = rate;
		b->last_ns = now;
	}
	b->tokens += (double)(now - b->last_ns) / 1e9 * rate;
	if (b->tokens > rate)
		b->tokens = rate;
	b->last_ns = now;
	if (b->tokens >= 1.0)
		b->tokens -= 1.0;
	else
		wait = (unsigned)((1.0 - b->tokens) / rate) + 1;
	pthread_mutex_unlock(&rate_mu);
	return wait;
}

int gw_streams_acquire(const unsigned char key[16])
{
	uint32_t h = hash16(key);
	struct scount *c = NULL, *empty = NULL;
	int rc = -1;

	pthread_mutex_lock(&stream_mu);
	if (streams_total >= gw_cfg.max_streams)
		goto out;
	for (int i = 0; i < STREAM_SLOTS; i++) {
		struct scount *x = &scounts[(h + (uint32_t)i) % STREAM_SLOTS];
		if (x->n && memcmp(x->key, key, 16) == 0) {
			c = x;
			break;
		}
		if (x->n == 0 && empty == NULL)
			empty = x;
	}
	if (c == NULL) {
		if (empty == NULL)
			goto out;
		c = empty;
		memcpy(c->key, key, 16);
	}
	if (c->n >= gw_cfg.max_streams_per_ip)
		goto out;
	c->n++;
	streams_total++;
	rc = 0;
out:
	pthread_mutex_unlock(&stream_mu);
	return rc;
}

void gw_streams_release(const unsigned char key[16])
{
	uint32_t h = hash16(key);

	pthread_mutex_lock(&stream_mu);
	for (int i = 0; i < STREAM_SLOTS; i++) {
		struct scount *x = &scounts[(h + (uint32_t)i) % STREAM_SLOTS];
		if (x->n && memcmp(x->key, key, 16) == 0) {
			x->n--;
			streams_total--;
			break;
		}
	}
	pthread_mutex_unlock(&stream_mu);
}

unsigned gw_streams_open(void)
{
	unsigned n;

	pthread_mutex_lock(&stream_mu);
	n = streams_total;
	pthread_mutex_unlock(&stream_mu);
	return n;
}
