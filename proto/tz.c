/*
 * tz.c - TZif parsing and time-zone arithmetic for tz.h.
 *
 * A loaded zone is a sorted table of explicit transitions (instant, offset
 * from then on), the offset before the first of them (time type 0, as RFC
 * 8536 says), and the footer's POSIX TZ rule that takes over at the last
 * transition.  Slim files (zic -b slim) list no future transitions and fat
 * ones stop at 2037, so the footer rule answers for the years after.
 *
 * Local-to-UTC conversion walks the constant-offset segments of the window
 * [L - 26h, L + 26h] around the wall time L: every instant whose wall time
 * is L lies in that window because offsets are bounded by 26 hours.  The
 * walk stops at the first segment holding a solution (so folds give the
 * earlier instant) or at the first segment that starts beyond L (a gap).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quanta.h"
#include "tz.h"

/* Larger than any real zone file (the biggest TZif in tzdata is ~4 KiB). */
#define TZ_MAX_FILE (256 * 1024)
/* Exclusive bound on |UTC offset|: RFC 8536 recommends -89999..93599. */
#define TZ_MAX_OFF 93600
/* Instants are clamped to +-TZ_CLAMP so that year and day arithmetic on
 * them, and on wall times derived from them, cannot overflow. */
#define TZ_CLAMP ((int64_t)1 << 52)
/* Local days are clamped so that day * 86400 plus any int32 stays well
 * inside +-TZ_CLAMP. */
#define TZ_DAY_CLAMP (((int64_t)1 << 50) / DAY_SECONDS)
#define TZ_HDR_LEN   44
#define TZ_BUCKETS   64

enum rule_kind {
	RULE_JULIAN1, /* Jn: day 1..365, February 29 never counted */
	RULE_JULIAN0, /* n: day 0..365, February 29 counted in leap years */
	RULE_MONTH,   /* Mm.w.d: day d (0 = Sunday) of week w (5 = last) */
};

struct tz_rule {
	enum rule_kind kind;
	int day;
	int mon, week, wday;
	int32_t time; /* seconds after local midnight, -167h..167h */
};

/* A footer TZ string.  Offsets are seconds east of UTC. */
struct tz_posix {
	bool present;
	bool dst;
	int32_t std_off, dst_off;
	struct tz_rule start, end; /* start: in standard time; end: in DST */
};

struct tz {
	struct tz *next; /* cache chain; fixed once the zone is published */
	char name[TZ_NAME_MAX + 1];
	size_t ntrans;
	int64_t *trans;	    /* strictly ascending */
	int32_t *trans_off; /* offset from trans[i] on */
	int32_t first_off;  /* offset before trans[0] */
	struct tz_posix posix;
};

static const struct tz tz_utc = {.name = "UTC"};
static const struct tz tz_etc_utc = {.name = "Etc/UTC"};

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz *tz_cache[TZ_BUCKETS];

static int64_t clamp(int64_t v, int64_t lim)
{
	return v < -lim ? -lim : v > lim ? lim : v;
}

/* Names. */

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-';
}

bool tz_name_valid(const char *name)
{
	size_t n = strnlen(name, TZ_NAME_MAX + 1), seg = 0;

	if (n == 0 || n > TZ_NAME_MAX)
		return false;
	/* The character set has no '.', so ".." cannot occur; empty segments
	 * would allow a leading '/' or "a//b". */
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '/') {
			if (seg == 0)
				return false;
			seg = 0;
		} else if (name_char(name[i])) {
			seg++;
		} else {
			return false;
		}
	}
	return seg > 0;
}

/* The POSIX TZ footer. */

struct pcur {
	const char *p, *e;
};

static bool pc_at(struct pcur *c, char ch)
{
	if (c->p < c->e && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool pc_digit(const struct pcur *c)
{
	return c->p < c->e && *c->p >= '0' && *c->p <= '9';
}

/* One to maxdig decimal digits whose value is at most maxval. */
static int pc_num(struct pcur *c, int maxdig, int maxval, int *v)
{
	int n = 0, val = 0;

	while (n < maxdig && pc_digit(c)) {
		val = val * 10 + (*c->p - '0');
		c->p++;
		n++;
	}
	if (n == 0 || val > maxval)
		return -1;
	*v = val;
	return 0;
}

/* A zone abbreviation: three or more letters, or <...> of [A-Za-z0-9+-]. */
static int pc_name(struct pcur *c)
{
	const char *s;

	if (pc_at(c, '<')) {
		s = c->p;
		while (c->p < c->e && *c->p != '>' && *c->p != '_' &&
		       name_char(*c->p))
			c->p++;
		if (c->p - s < 3 || !pc_at(c, '>'))
			return -1;
		return 0;
	}
	s = c->p;
	while (c->p < c->e && ((*c->p >= 'A' && *c->p <= 'Z') ||
			       (*c->p >= 'a' && *c->p <= 'z')))
		c->p++;
	return c->p - s >= 3 ? 0 : -1;
}

/* [+-]h[h[h]][:mm[:ss]] with at most hmax hours, as signed seconds. */
static int pc_hms(struct pcur *c, int hmax, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;

	if (pc_at(c, '-'))
		sign = -1;
	else
		pc_at(c, '+');
	if (pc_num(c, 3, hmax, &h))
		return -1;
	if (pc_at(c, ':')) {
		if (pc_num(c, 2, 59, &m))
			return -1;
		if (pc_at(c, ':') && pc_num(c, 2, 59, &s))
			return -1;
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return 0;
}

/*
 * A rule date and optional time.  Times may be negative or exceed 24 hours
 * (up to 167), the RFC 8536 extension that Jerusalem (M3.4.4/26) and
 * Nuuk (M3.5.0/-1) use.
 */
static int pc_rule(struct pcur *c, struct tz_rule *r)
{
	if (pc_at(c, 'J')) {
		r->kind = RULE_JULIAN1;
		if (pc_num(c, 3, 365, &r->day) || r->day < 1)
			return -1;
	} else if (pc_at(c, 'M')) {
		r->kind = RULE_MONTH;
		if (pc_num(c, 2, 12, &r->mon) || r->mon < 1 || !pc_at(c, '.') ||
		    pc_num(c, 1, 5, &r->week) || r->week < 1 ||
		    !pc_at(c, '.') || pc_num(c, 1, 6, &r->wday))
			return -1;
	} else {
		r->kind = RULE_JULIAN0;
		if (pc_num(c, 3, 365, &r->day))
			return -1;
	}
	r->time = 2 * 3600;
	if (pc_at(c, '/') && pc_hms(c, 167, &r->time))
		return -1;
	return 0;
}

/*
 * Parse "std offset [dst [offset] ,rule,rule]".  An empty string means no
 * footer.  A DST name without rules is refused: POSIX leaves its meaning to
 * the implementation and zic never writes one.
 */
static int parse_posix(const char *s, size_t n, struct tz_posix *tp)
{
	struct pcur c = {s, s + n};
	int32_t off;

	memset(tp, 0, sizeof(*tp));
	if (n == 0)
		return 0;
	if (pc_name(&c) || pc_hms(&c, 24, &off))
		return -EBADMSG;
	tp->present = true;
	tp->std_off = -off; /* POSIX offsets count west of Greenwich */
	if (c.p == c.e)
		return 0;
	if (pc_name(&c))
		return -EBADMSG;
	tp->dst = true;
	tp->dst_off = tp->std_off + 3600;
	if (c.p < c.e && *c.p != ',') {
		if (pc_hms(&c, 24, &off))
			return -EBADMSG;
		tp->dst_off = -off;
	}
	if (!pc_at(&c, ',') || pc_rule(&c, &tp->start) || !pc_at(&c, ',') ||
	    pc_rule(&c, &tp->end) || c.p != c.e)
		return -EBADMSG;
	return 0;
}

static bool is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* The local date (day number) a rule names in year y. */
static int64_t rule_day(const struct tz_rule *r, int64_t y)
{
	int64_t first, d;
	int mdays, wd;

	if (r->kind == RULE_JULIAN1)
		return q_days_from_civil(y, 1, 1) + r->day - 1 +
		       (is_leap(y) && r->day >= 60);
	if (r->kind == RULE_JULIAN0)
		return q_days_from_civil(y, 1, 1) + r->day;
	first = q_days_from_civil(y, (unsigned)r->mon, 1);
	mdays = (int)(q_days_from_civil(r->mon == 12 ? y + 1 : y,
					r->mon == 12 ? 1 : (unsigned)r->mon + 1,
					1) -
		      first);
	wd = q_weekday(first) % 7; /* Sunday = 0, as POSIX counts */
	d = (r->wday - wd + 7) % 7 + 7 * (r->week - 1);
	/* Week 5 means the last such weekday: one step back at most, since a
	 * month has at least 28 days. */
	if (d >= mdays)
		d -= 7;
	return first + d;
}

struct ptrans {
	int64_t at;
	bool dst;
};

#define PT_YEARS 5
#define PT_N	 (2 * PT_YEARS)

/*
 * The footer's transitions of the UTC year of t and the two years either
 * side, in time order.  Rule times move a transition at most a week and a
 * day from its date, so the latest transition at or before t and the
 * earliest after t are among them.  Equal instants keep generation order:
 * with an all-year-DST rule ("EST5EDT4,0/0,J365/25") one year's end meets
 * the next year's start, and the later year's start must win.
 */
static void posix_window(const struct tz_posix *tp, int64_t t,
			 struct ptrans tr[PT_N])
{
	int64_t y;
	unsigned m, d;

	q_civil_from_days(q_day_of(t), &y, &m, &d);
	for (int i = 0; i < PT_YEARS; i++) {
		int64_t yy = y - 2 + i;
		tr[2 * i].at = rule_day(&tp->start, yy) * DAY_SECONDS +
			       tp->start.time - tp->std_off;
		tr[2 * i].dst = true;
		tr[2 * i + 1].at = rule_day(&tp->end, yy) * DAY_SECONDS +
				   tp->end.time - tp->dst_off;
		tr[2 * i + 1].dst = false;
	}
	for (int i = 1; i < PT_N; i++) {
		struct ptrans x = tr[i];
		int j = i;
		while (j > 0 && tr[j - 1].at > x.at) {
			tr[j] = tr[j - 1];
			j--;
		}
		tr[j] = x;
	}
}

/* The footer's offset at t, and in *next the first transition after t
 * (INT64_MAX when the footer has no DST). */
static int32_t posix_segment(const struct tz_posix *tp, int64_t t,
			     int64_t *next)
{
	struct ptrans tr[PT_N];
	int32_t off = tp->std_off;

	*next = INT64_MAX;
	if (!tp->dst)
		return off;
	posix_window(tp, t, tr);
	for (int i = 0; i < PT_N; i++) {
		if (tr[i].at > t) {
			*next = tr[i].at;
			break;
		}
		off = tr[i].dst ? tp->dst_off : tp->std_off;
	}
	return off;
}

/* TZif. */

struct tzif_hdr {
	unsigned char version;
	uint32_t isut, isstd, leap, time, type, chars;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
	int64_t v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

static int read_hdr(const unsigned char *p, size_t left, struct tzif_hdr *h)
{
	if (left < TZ_HDR_LEN || memcmp(p, "TZif", 4) != 0)
		return -EBADMSG;
	h->version = p[4];
	/* Version '\0' is v1; '2', '3', '4' and later share the v2 layout. */
	if (h->version != 0 && h->version < '2')
		return -EBADMSG;
	h->isut = be32(p + 20);
	h->isstd = be32(p + 24);
	h->leap = be32(p + 28);
	h->time = be32(p + 32);
	h->type = be32(p + 36);
	h->chars = be32(p + 40);
	return 0;
}

/* Bytes of the data block after a header; tsize is 4 (v1) or 8 (v2+).
 * Counts are below 2^32, so this cannot overflow 64 bits. */
static uint64_t block_len(const struct tzif_hdr *h, unsigned tsize)
{
	return (uint64_t)h->time * (tsize + 1) + (uint64_t)h->type * 6 +
	       h->chars + (uint64_t)h->leap * (tsize + 4) + h->isstd + h->isut;
}

/*
 * Validate a data block (already known to fit in the file) and fill z's
 * transition table.  Every index is checked against its count before use.
 */
static int parse_block(struct tz *z, const struct tzif_hdr *h,
		       const unsigned char *p, unsigned tsize)
{
	const unsigned char *idx = p + (size_t)h->time * tsize;
	const unsigned char *types = idx + h->time;
	const unsigned char *chars = types + (size_t)h->type * 6;
	const unsigned char *isstd = chars + h->chars; /* no leap records */
	const unsigned char *isut = isstd + h->isstd;
	int32_t offs[256];

	if (h->type == 0 || h->type > 256 || h->chars == 0 || h->leap != 0 ||
	    (h->isstd != 0 && h->isstd != h->type) ||
	    (h->isut != 0 && h->isut != h->type))
		return -EBADMSG;
	for (uint32_t i = 0; i < h->type; i++) {
		const unsigned char *tt = types + (size_t)i * 6;
		int32_t off = (int32_t)be32(tt);
		unsigned desig = tt[5];

		if (off <= -TZ_MAX_OFF || off >= TZ_MAX_OFF || tt[4] > 1 ||
		    desig >= h->chars ||
		    memchr(chars + desig, 0, h->chars - desig) == NULL)
			return -EBADMSG;
		/* A UT indicator implies a standard-time indicator. */
		if ((h->isstd && isstd[i] > 1) ||
		    (h->isut && (isut[i] > 1 || (isut[i] && !isstd[i]))))
			return -EBADMSG;
		offs[i] = off;
	}
	z->first_off = offs[0];
	if (h->time == 0)
		return 0;
	z->trans = reallocarray(NULL, h->time, sizeof(*z->trans));
	z->trans_off = reallocarray(NULL, h->time, sizeof(*z->trans_off));
	if (z->trans == NULL || z->trans_off == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->time; i++) {
		int64_t t = tsize == 8 ? be64(p + (size_t)i * 8)
				       : (int32_t)be32(p + (size_t)i * 4);
		if ((i > 0 && t <= z->trans[i - 1]) || idx[i] >= h->type)
			return -EBADMSG;
		z->trans[i] = t;
		z->trans_off[i] = offs[idx[i]];
	}
	z->ntrans = h->time;
	return 0;
}

void tz_free(struct tz *z)
{
	if (z == NULL)
		return;
	free(z->trans);
	free(z->trans_off);
	free(z);
}

int tz_parse(const char *name, const void *data, size_t len, struct tz **out)
{
	const unsigned char *p = data, *f;
	struct tzif_hdr h;
	struct tz *z;
	uint64_t blen;
	size_t left = len, flen;
	int rc;

	*out = NULL;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return -ENOMEM;
	snprintf(z->name, sizeof(z->name), "%s", name);
	rc = read_hdr(p, left, &h);
	if (rc)
		goto fail;
	blen = block_len(&h, 4);
	rc = -EBADMSG;
	if (blen > left - TZ_HDR_LEN)
		goto fail;
	if (h.version == 0) {
		/* A v1 file: 32-bit times, no footer, nothing after. */
		if (blen != left - TZ_HDR_LEN)
			goto fail;
		rc = parse_block(z, &h, p + TZ_HDR_LEN, 4);
		if (rc)
			goto fail;
		*out = z;
		return 0;
	}
	/* Skip the v1 block; the 64-bit block after it is authoritative. */
	p += TZ_HDR_LEN + blen;
	left -= TZ_HDR_LEN + blen;
	rc = read_hdr(p, left, &h);
	if (rc)
		goto fail;
	rc = -EBADMSG;
	if (h.version == 0)
		goto fail;
	blen = block_len(&h, 8);
	if (blen > left - TZ_HDR_LEN)
		goto fail;
	rc = parse_block(z, &h, p + TZ_HDR_LEN, 8);
	if (rc)
		goto fail;
	/* The footer: '\n', the TZ string, '\n', end of file. */
	f = p + TZ_HDR_LEN + blen;
	flen = left - TZ_HDR_LEN - blen;
	rc = -EBADMSG;
	if (flen < 2 || f[0] != '\n' || f[flen - 1] != '\n' ||
	    memchr(f + 1, '\n', flen - 2) != NULL)
		goto fail;
	rc = parse_posix((const char *)f + 1, flen - 2, &z->posix);
	if (rc)
		goto fail;
	*out = z;
	return 0;
fail:
	tz_free(z);
	return rc;
}

/* Loading and the cache. */

static int load_file(const char *name, struct tz **out)
{
	char path[sizeof(TZ_DIR) + 1 + TZ_NAME_MAX + 1];
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", TZ_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return (errno == ENOENT || errno == ENOTDIR) ? -ENOENT : -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	/* A directory ("Europe") or a device is not a zone. */
	rc = -ENOENT;
	if (!S_ISREG(st.st_mode))
		goto out;
	rc = -EBADMSG;
	if (st.st_size <= 0 || st.st_size > TZ_MAX_FILE)
		goto out;
	rc = -ENOMEM;
	buf = malloc((size_t)st.st_size);
	if (buf == NULL)
		goto out;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break; /* shrank under us: parse what is there */
		got += (size_t)n;
	}
	rc = tz_parse(name, buf, got, out);
out:
	free(buf);
	close(fd);
	return rc;
}

static unsigned name_hash(const char *s)
{
	unsigned h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % TZ_BUCKETS;
}

int tz_get(const char *name, const struct tz **out)
{
	struct tz *z;
	unsigned b;
	int rc = 0;

	*out = NULL;
	if (!tz_name_valid(name))
		return -EINVAL;
	if (strcmp(name, "UTC") == 0) {
		*out = &tz_utc;
		return 0;
	}
	if (strcmp(name, "Etc/UTC") == 0) {
		*out = &tz_etc_utc;
		return 0;
	}
	b = name_hash(name);
	pthread_mutex_lock(&tz_lock);
	for (z = tz_cache[b]; z != NULL; z = z->next)
		if (strcmp(z->name, name) == 0)
			break;
	if (z == NULL) {
		/* Loading under the lock keeps two threads from loading the
		 * same zone twice; it happens once per zone per process. */
		rc = load_file(name, &z);
		if (rc == 0) {
			z->next = tz_cache[b];
			tz_cache[b] = z;
		}
	}
	pthread_mutex_unlock(&tz_lock);
	if (rc == 0)
		*out = z;
	return rc;
}

const char *tz_strerror(int e)
{
	switch (e) {
	case 0:
		return "success";
	case -EINVAL:
		return "not a valid time zone name";
	case -ENOENT:
		return "unknown time zone";
	case -EBADMSG:
		return "corrupt or unsupported time zone file";
	case -ENOMEM:
		return "out of memory";
	default:
		return "cannot read time zone file";
	}
}

const char *tz_name(const struct tz *z)
{
	return z->name;
}

/* Conversions. */

/*
 * The offset at t, and in *next the first instant after t at which it may
 * change (INT64_MAX if never): the offset is constant on [t, *next).  The
 * footer takes over at the last explicit transition.
 */
static int32_t segment(const struct tz *z, int64_t t, int64_t *next)
{
	size_t lo, hi;

	if (z->ntrans == 0 || t >= z->trans[z->ntrans - 1]) {
		if (z->posix.present)
			return posix_segment(&z->posix, t, next);
		*next = INT64_MAX;
		return z->ntrans ? z->trans_off[z->ntrans - 1] : z->first_off;
	}
	if (t < z->trans[0]) {
		*next = z->trans[0];
		return z->first_off;
	}
	/* Find trans[lo] <= t < trans[hi], hi = lo + 1. */
	lo = 0;
	hi = z->ntrans - 1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	*next = z->trans[hi];
	return z->trans_off[lo];
}

int64_t tz_offset_at(const struct tz *z, int64_t utc)
{
	int64_t next;

	return segment(z, clamp(utc, TZ_CLAMP), &next);
}

int64_t tz_local_day_of(const struct tz *z, int64_t utc)
{
	int64_t t = clamp(utc, TZ_CLAMP);

	return q_day_of(t + tz_offset_at(z, t));
}

/*
 * Resolve wall time L (|L| well inside TZ_CLAMP).  Returns the earliest
 * instant whose wall time is L and sets *gap_end to INT64_MIN; when L falls
 * in a gap, returns L minus the offset before the gap and sets *gap_end to
 * the transition that ends the gap.
 */
static int64_t resolve(const struct tz *z, int64_t L, int64_t *gap_end)
{
	int64_t u = L - TZ_MAX_OFF, prev_off = 0;

	/* The walk ends: the wall time at L + TZ_MAX_OFF is beyond L, so the
	 * segment holding that instant either contains L's solution or starts
	 * past L, and each step moves u forward to the next transition. */
	for (;;) {
		int64_t next, o = segment(z, u, &next);
		/* The first segment starts at or before L (|o| < TZ_MAX_OFF),
		 * so prev_off is always set when this fires. */
		if (u + o > L) {
			*gap_end = u;
			return L - prev_off;
		}
		if (L - o < next) {
			*gap_end = INT64_MIN;
			return L - o;
		}
		prev_off = o;
		u = next;
	}
}

int64_t tz_local_to_utc(const struct tz *z, int64_t day, int32_t sec_of_day)
{
	int64_t gap_end;

	day = clamp(day, TZ_DAY_CLAMP);
	return resolve(z, day * DAY_SECONDS + sec_of_day, &gap_end);
}

static int64_t day_start(const struct tz *z, int64_t day)
{
	int64_t gap_end, u;

	u = resolve(z, day * DAY_SECONDS, &gap_end);
	/* In a gap over midnight the first instant of the day is the end of
	 * the gap, not midnight moved forward by the gap's length. */
	return gap_end != INT64_MIN ? gap_end : u;
}

void tz_local_day(const struct tz *z, int64_t day, int64_t *start, int64_t *end)
{
	day = clamp(day, TZ_DAY_CLAMP);
	*start = day_start(z, day);
	*end = day_start(z, day + 1);
}
