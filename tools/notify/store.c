/*
 * store.c - bookd-notify's state directory.
 *
 * Files (all text, each opening with a line naming it and its version):
 *
 *   cursor      "bookd-notify cursor 1\n<lsn>\n": every job of every event
 *               up to lsn is settled (delivered, journaled or dead).
 *               Replaced whole: cursor.tmp, fsync, rename, fsync the dir.
 *   queue.log   "bookd-notify queue 1\n", then one record a line:
 *                 A <key> <kind> <target> <lsn> <attempts> <next_ms>
 *                   <first_ms> <msgid> <label> <api> <payload b64>
 *                   a job waiting for its next attempt (a later A of the
 *                   same key replaces it)
 *                 D <key>            the job is settled
 *                 S <key> <until_ms> a reminder went out (kept until the
 *                                    booking's start, so a replayed event
 *                                    cannot send it twice)
 *               Fields are tab-separated; strings that could hold a tab or
 *               newline are base64.  Appended and fdatasynced by
 *               store_sync(); a torn last line (a crash mid-append) is
 *               ignored, which at worst repeats a delivery.  Rewritten
 *               (queue.tmp, fsync, rename) when mostly dead records.
 *   dead.log    "bookd-notify dead 1\n", then A records (with the last
 *               error as a 13th field) and D records for replayed ones.
 *   requeue     keys (or "*") that `bookd-notify replay` asks to retry;
 *               appended under flock, taken and truncated by the notifier.
 *   status.json what `bookctl notify status` shows, rewritten each second.
 *   lock        flock: one notifier per state directory.
 *
 * How it fails: I/O errors are returned as negative errno; the caller
 * treats a failed sync as fatal.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "notify.h"

#define Q_MAGIC "bookd-notify queue 1\n"
#define D_MAGIC "bookd-notify dead 1\n"
#define C_MAGIC "bookd-notify cursor 1\n"
#define NBUCKET 65536u

struct kv {
	struct kv *next;
	int64_t until; /* sent reminders */
	struct job *job;
	char key[];
};

struct store {
	int dirfd, qfd, dfd, lockfd;
	char dir[512];
	uint64_t cursor;
	char *buf; /* pending queue.log appends */
	size_t len, cap;
	char *dbuf; /* pending dead.log appends */
	size_t dlen, dcap;
	uint64_t records; /* lines in queue.log */
	size_t ndead;
	struct kv *live[NBUCKET]; /* replay: key -> job */
	struct kv *sent[NBUCKET]; /* reminders sent */
	struct job **jobs;
	size_t njobs;
};

int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void notify_log(const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "bookd-notify: %s\n", buf);
}

char *b64_encode(const void *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	int len;

	if (n % 4 || n / 4 * 3 > cap)
		return -1;
	if (n == 0)
		return 0;
	len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (len < 0)
		return -1;
	if (s[n - 1] == '=')
		len--;
	if (s[n - 2] == '=')
		len--;
	return len;
}

void job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->payload);
	free(j->err);
	free(j);
}

static uint32_t hash(const char *k)
{
	uint32_t h = 2166136261u;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h % NBUCKET;
}

static struct kv **kv_find(struct kv **tab, const char *key)
{
	struct kv **p = &tab[hash(key)];
	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

static struct kv *kv_add(struct kv **tab, const char *key)
{
	struct kv **p = kv_find(tab, key), *k = *p;
	size_t n = strlen(key);

	if (k != NULL)
		return k;
	k = calloc(1, sizeof(*k) + n + 1);
	if (k == NULL)
		return NULL;
	memcpy(k->key, key, n + 1);
	*p = k;
	return k;
}

static void kv_del(struct kv **tab, const char *key)
{
	struct kv **p = kv_find(tab, key);
	if (*p) {
		struct kv *k = *p;
		*p = k->next;
		free(k);
	}
}

static void kv_clear(struct kv **tab, bool free_jobs)
{
	for (uint32_t i = 0; i < NBUCKET; i++)
		for (struct kv *k = tab[i], *n; k; k = n) {
			n = k->next;
			if (free_jobs)
				job_free(k->job);
			free(k);
		}
	memset(tab, 0, NBUCKET * sizeof(tab[0]));
}

static void grow_append(char **buf, size_t *len, size_t *cap, const char *p,
			size_t n)
{
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n)
			c *= 2;
		char *nb = realloc(*buf, c);
		if (nb == NULL) {
			notify_log("out of memory");
			exit(1);
		}
		*buf = nb;
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

/* One A record (with err as a 13th field when given). */
static char *format_job(const struct job *j, bool with_err, size_t *len)
{
	char *pl = b64_encode(j->payload ? j->payload : "", j->plen);
	char *tg = b64_encode(j->target, strlen(j->target));
	char *er = with_err ? b64_encode(j->err ? j->err : "",
					 j->err ? strlen(j->err) : 0)
			    : NULL;
	char *line = NULL;
	int n;

	if (pl == NULL || tg == NULL || (with_err && er == NULL)) {
		notify_log("out of memory");
		exit(1);
	}
	n = asprintf(&line,
		     "A\t%s\t%c\t%s\t%" PRIu64 "\t%" PRIu32 "\t%" PRId64
		     "\t%" PRId64 "\t%s\t%s\t%d\t%s%s%s\n",
		     j->key, j->kind, tg, j->lsn, j->attempts, j->next_ms,
		     j->first_ms, j->msgid, j->label, j->api ? 1 : 0, pl,
		     with_err ? "\t" : "", with_err ? er : "");
	free(pl);
	free(tg);
	free(er);
	if (n < 0) {
		notify_log("out of memory");
		exit(1);
	}
	*len = (size_t)n;
	return line;
}

static int split(char *line, char *f[], int max)
{
	int n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == '\t') {
			*p = 0;
			f[n++] = p + 1;
		}
	return n;
}

static int cpy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Parse an A record's fields (f[1..]); NULL when malformed. */
static struct job *parse_job(char *f[], int nf)
{
	struct job *j;
	size_t pn, tn;
	unsigned char tg[NOTIFY_TARGET_MAX * 2];
	long tl;

	if (nf < 12)
		return NULL; /* a damaged line: skipped */
	j = calloc(1, sizeof(*j));
	pn = strlen(f[11]);
	tn = strlen(f[3]);
	if (j == NULL || cpy(j->key, sizeof(j->key), f[1]) < 0 ||
	    strlen(f[2]) != 1 || cpy(j->msgid, sizeof(j->msgid), f[8]) < 0 ||
	    cpy(j->label, sizeof(j->label), f[9]) < 0)
		goto bad;
	j->kind = f[2][0];
	if (j->kind != JOB_HOOK && j->kind != JOB_MAIL && j->kind != JOB_REMIND)
		goto bad;
	tl = b64_decode(f[3], tn, tg, sizeof(tg));
	if (tl < 0 || (size_t)tl >= sizeof(j->target))
		goto bad;
	memcpy(j->target, tg, (size_t)tl);
	j->lsn = strtoull(f[4], NULL, 10);
	j->attempts = (uint32_t)strtoul(f[5], NULL, 10);
	j->next_ms = strtoll(f[6], NULL, 10);
	j->first_ms = strtoll(f[7], NULL, 10);
	j->api = f[10][0] == '1';
	j->payload = malloc(pn / 4 * 3 + 1);
	if (j->payload == NULL)
		goto bad;
	tl = b64_decode(f[11], pn, (unsigned char *)j->payload, pn / 4 * 3);
	if (tl < 0)
		goto bad;
	j->plen = (size_t)tl;
	j->payload[j->plen] = 0;
	if (nf > 12) {
		size_t en = strlen(f[12]);
		j->err = malloc(en / 4 * 3 + 1);
		tl = j->err ? b64_decode(f[12], en, (unsigned char *)j->err,
					 en / 4 * 3)
			    : -1;
		if (tl < 0)
			goto bad;
		j->err[tl] = 0;
	}
	j->journaled = true;
	return j;
bad:
	job_free(j);
	return NULL;
}

/* Read a journal; apply fn to each complete line. */
static int read_lines(int fd, const char *magic,
		      void (*fn)(struct store *, char *), struct store *s,
		      uint64_t *lines)
{
	struct stat sb;
	char *data, *p, *end;
	size_t ml = strlen(magic);

	if (fstat(fd, &sb) < 0)
		return -errno;
	if (sb.st_size == 0) {
		if (write(fd, magic, ml) != (ssize_t)ml || fdatasync(fd) < 0)
			return -EIO;
		return 0;
	}
	data = malloc((size_t)sb.st_size + 1);
	if (data == NULL)
		return -ENOMEM;
	if (pread(fd, data, (size_t)sb.st_size, 0) != sb.st_size) {
		free(data);
		return -EIO;
	}
	data[sb.st_size] = 0;
	if ((size_t)sb.st_size < ml || memcmp(data, magic, ml) != 0) {
		free(data);
		return -EPROTO;
	}
	end = data + sb.st_size;
	for (p = data + ml; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break; /* torn tail */
		*nl = 0;
		fn(s, p);
		(*lines)++;
		p = nl + 1;
	}
	free(data);
	return 0;
}

static void queue_line(struct store *s, char *line)
{
	char *f[14];
	int nf = split(line, f, 14);
	struct kv *k;

	if (f[0][0] == 'A') {
		struct job *j = parse_job(f, nf);
		if (j == NULL)
			return;
		k = kv_add(s->live, j->key);
		if (k == NULL)
			return;
		job_free(k->job);
		k->job = j;
	} else if (f[0][0] == 'D' && nf >= 2) {
		struct kv **p = kv_find(s->live, f[1]);
		if (*p) {
			job_free((*p)->job);
			kv_del(s->live, f[1]);
		}
	} else if (f[0][0] == 'S' && nf >= 3) {
		k = kv_add(s->sent, f[1]);
		if (k)
			k->until = strtoll(f[2], NULL, 10);
	}
}

static struct kv *dead_tab[NBUCKET];

static void dead_line(struct store *s, char *line)
{
	char *f[14];
	int nf = split(line, f, 14);

	(void)s;
	if (f[0][0] == 'A') {
		struct job *j = parse_job(f, nf);
		struct kv *k = j ? kv_add(dead_tab, j->key) : NULL;
		if (k == NULL) {
			job_free(j);
			return;
		}
		job_free(k->job);
		k->job = j;
	} else if (f[0][0] == 'D' && nf >= 2) {
		struct kv **p = kv_find(dead_tab, f[1]);
		if (*p) {
			job_free((*p)->job);
			kv_del(dead_tab, f[1]);
		}
	}
}

static int fsync_dir(int dirfd)
{
	return fsync(dirfd) < 0 ? -errno : 0;
}

static int read_cursor(struct store *s)
{
	char buf[128] = {0};
	int fd = openat(s->dirfd, "cursor", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < (ssize_t)strlen(C_MAGIC) ||
	    memcmp(buf, C_MAGIC, strlen(C_MAGIC)) != 0)
		return -EPROTO;
	s->cursor = strtoull(buf + strlen(C_MAGIC), NULL, 10);
	return 0;
}

static size_t count_dead(void)
{
	size_t n = 0;
	for (uint32_t i = 0; i < NBUCKET; i++)
		for (struct kv *k = dead_tab[i]; k; k = k->next)
			n++;
	return n;
}

int store_open(struct store **out, const char *dir, bool create)
{
	struct store *s = calloc(1, sizeof(*s));
	uint64_t dl = 0;
	int rc;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->qfd = s->dfd = s->lockfd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		free(s);
		return rc;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = -errno;
		free(s);
		return rc;
	}
	if (create) {
		s->lockfd = openat(s->dirfd, "lock",
				   O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
			rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
			goto fail;
		}
	}
	s->qfd = openat(s->dirfd, "queue.log",
			O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0),
			0600);
	s->dfd = openat(s->dirfd, "dead.log",
			O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0),
			0600);
	if (s->qfd < 0 || s->dfd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = read_cursor(s)) < 0 ||
	    (rc = read_lines(s->qfd, Q_MAGIC, queue_line, s, &s->records)) <
		0 ||
	    (rc = read_lines(s->dfd, D_MAGIC, dead_line, s, &dl)) < 0)
		goto fail;
	s->ndead = count_dead();
	if (create)
		fsync_dir(s->dirfd);
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	kv_clear(s->live, true);
	kv_clear(s->sent, false);
	kv_clear(dead_tab, true);
	for (size_t i = 0; i < s->njobs; i++)
		job_free(s->jobs[i]);
	free(s->jobs);
	free(s->buf);
	free(s->dbuf);
	if (s->qfd >= 0)
		close(s->qfd);
	if (s->dfd >= 0)
		close(s->dfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	close(s->dirfd);
	free(s);
}

uint64_t store_cursor(const struct store *s)
{
	return s->cursor;
}

static int write_file(int dirfd, const char *name, const char *data, size_t n,
		      bool durable)
{
	char tmp[64];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, data, n) != (ssize_t)n || (durable && fsync(fd) < 0))
		rc = -EIO;
	close(fd);
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc == 0 && durable)
		rc = fsync_dir(dirfd);
	return rc;
}

int store_set_cursor(struct store *s, uint64_t lsn)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%s%" PRIu64 "\n", C_MAGIC, lsn);
	int rc = write_file(s->dirfd, "cursor", buf, (size_t)n, true);

	if (rc == 0)
		s->cursor = lsn;
	return rc;
}

void store_put(struct store *s, const struct job *j)
{
	size_t n;
	char *line = format_job(j, false, &n);

	grow_append(&s->buf, &s->len, &s->cap, line, n);
	free(line);
	s->records++;
}

void store_done(struct store *s, const char *key)
{
	char line[NOTIFY_KEY_MAX + 8];
	int n = snprintf(line, sizeof(line), "D\t%s\n", key);

	grow_append(&s->buf, &s->len, &s->cap, line, (size_t)n);
	s->records++;
}

void store_sent(struct store *s, const char *key, int64_t until_ms)
{
	char line[NOTIFY_KEY_MAX + 32];
	int n =
	    snprintf(line, sizeof(line), "S\t%s\t%" PRId64 "\n", key, until_ms);
	struct kv *k = kv_add(s->sent, key);

	if (k)
		k->until = until_ms;
	grow_append(&s->buf, &s->len, &s->cap, line, (size_t)n);
	s->records++;
}

bool store_was_sent(const struct store *s, const char *key)
{
	return *kv_find((struct kv **)s->sent, key) != NULL;
}

static struct job *job_dup(const struct job *j)
{
	struct job *c = malloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	*c = *j;
	c->t = NULL;
	c->running = false;
	c->payload = malloc(j->plen + 1);
	c->err = j->err ? strdup(j->err) : NULL;
	if (c->payload == NULL) {
		free(c->err);
		free(c);
		return NULL;
	}
	memcpy(c->payload, j->payload, j->plen);
	c->payload[j->plen] = 0;
	return c;
}

void store_dead(struct store *s, const struct job *j)
{
	size_t n;
	char *line = format_job(j, true, &n);
	struct job *copy = job_dup(j);
	bool fresh = *kv_find(dead_tab, j->key) == NULL;
	struct kv *k = copy ? kv_add(dead_tab, j->key) : NULL;

	if (k) {
		job_free(k->job);
		k->job = copy;
	} else {
		job_free(copy);
	}

	grow_append(&s->dbuf, &s->dlen, &s->dcap, line, n);
	free(line);
	s->ndead += fresh;
}

size_t store_dead_count(const struct store *s)
{
	return s->ndead;
}

static int flush(int fd, char *buf, size_t *len)
{
	size_t off = 0;

	while (off < *len) {
		ssize_t w = write(fd, buf + off, *len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)w;
	}
	if (*len && fdatasync(fd) < 0)
		return -errno;
	*len = 0;
	return 0;
}

int store_sync(struct store *s)
{
	int rc = flush(s->dfd, s->dbuf, &s->dlen);
	if (rc == 0)
		rc = flush(s->qfd, s->buf, &s->len);
	return rc;
}

struct job **store_take_jobs(struct store *s, size_t *n)
{
	size_t cnt = 0, i = 0;
	struct job **v;

	for (uint32_t b = 0; b < NBUCKET; b++)
		for (struct kv *k = s->live[b]; k; k = k->next)
			cnt++;
	v = calloc(cnt ? cnt : 1, sizeof(*v));
	if (v == NULL) {
		notify_log("out of memory");
		exit(1);
	}
	for (uint32_t b = 0; b < NBUCKET; b++)
		for (struct kv *k = s->live[b]; k; k = k->next) {
			v[i++] = k->job;
			k->job = NULL;
		}
	kv_clear(s->live, false);
	*n = cnt;
	return v;
}

struct job **store_take_requeued(struct store *s, size_t *n)
{
	int fd = openat(s->dirfd, "requeue", O_RDWR | O_CLOEXEC);
	struct job **v = NULL;
	size_t cnt = 0, cap = 0;
	char buf[65536];
	ssize_t len;

	*n = 0;
	if (fd < 0)
		return NULL;
	if (flock(fd, LOCK_EX) < 0) {
		close(fd);
		return NULL;
	}
	len = pread(fd, buf, sizeof(buf) - 1, 0);
	if (len > 0) {
		buf[len] = 0;
		for (char *line = strtok(buf, "\n"); line;
		     line = strtok(NULL, "\n")) {
			bool all = strcmp(line, "*") == 0;
			for (uint32_t b = 0; b < NBUCKET; b++)
				for (struct kv *k = dead_tab[b]; k;
				     k = k->next) {
					if (k->job == NULL ||
					    (!all && strcmp(k->key, line)))
						continue;
					if (cnt == cap) {
						cap = cap ? cap * 2 : 16;
						v = reallocarray(v, cap,
								 sizeof(*v));
						if (v == NULL)
							exit(1);
					}
					k->job->journaled = false;
					k->job->attempts = 0;
					k->job->first_ms = 0;
					k->job->next_ms = 0;
					v[cnt++] = k->job;
					k->job = NULL;
				}
		}
		for (size_t i = 0; i < cnt; i++) {
			char l[NOTIFY_KEY_MAX + 8];
			int m = snprintf(l, sizeof(l), "D\t%s\n", v[i]->key);
			grow_append(&s->dbuf, &s->dlen, &s->dcap, l, (size_t)m);
			kv_del(dead_tab, v[i]->key);
		}
		s->ndead -= cnt <= s->ndead ? cnt : s->ndead;
	}
	if (ftruncate(fd, 0) < 0)
		notify_log("requeue: cannot truncate: %s", strerror(errno));
	flock(fd, LOCK_UN);
	close(fd);
	*n = cnt;
	return v;
}

int store_compact(struct store *s, struct job *const *jobs, size_t n)
{
	size_t live = 0, sent = 0;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int64_t now = wall_ms();
	int rc;

	for (size_t i = 0; i < n; i++)
		live += jobs[i]->journaled;
	for (uint32_t b = 0; b < NBUCKET; b++)
		for (struct kv *k = s->sent[b]; k; k = k->next)
			sent++;
	if (s->records < 4096 || s->records < 4 * (live + sent))
		return 0;
	grow_append(&buf, &len, &cap, Q_MAGIC, strlen(Q_MAGIC));
	for (size_t i = 0; i < n; i++) {
		if (!jobs[i]->journaled)
			continue;
		size_t m;
		char *line = format_job(jobs[i], false, &m);
		grow_append(&buf, &len, &cap, line, m);
		free(line);
	}
	for (uint32_t b = 0; b < NBUCKET; b++)
		for (struct kv **p = &s->sent[b]; *p;) {
			struct kv *k = *p;
			if (k->until < now) {
				*p = k->next;
				free(k);
				continue;
			}
			char l[NOTIFY_KEY_MAX + 32];
			int m = snprintf(l, sizeof(l), "S\t%s\t%" PRId64 "\n",
					 k->key, k->until);
			grow_append(&buf, &len, &cap, l, (size_t)m);
			p = &k->next;
		}
	/* Whatever is buffered for queue.log must reach the new file too. */
	grow_append(&buf, &len, &cap, s->buf ? s->buf : "", s->len);
	s->len = 0;
	rc = write_file(s->dirfd, "queue.log", buf, len, true);
	free(buf);
	if (rc < 0)
		return rc;
	close(s->qfd);
	s->qfd = openat(s->dirfd, "queue.log", O_RDWR | O_APPEND | O_CLOEXEC);
	if (s->qfd < 0)
		return -errno;
	s->records = live + sent;
	return 0;
}

int store_write_status(struct store *s, const char *json)
{
	return write_file(s->dirfd, "status.json", json, strlen(json), false);
}

/* ---- subcommands ------------------------------------------------------ */

int store_list_dead(const char *dir, bool json)
{
	struct store *s;
	int rc = store_open(&s, dir, false);
	size_t n = 0;

	if (rc < 0) {
		fprintf(stderr, "bookd-notify: %s: %s\n", dir, strerror(-rc));
		return 1;
	}
	if (json)
		printf("[");
	for (uint32_t b = 0; b < NBUCKET; b++)
		for (struct kv *k = dead_tab[b]; k; k = k->next) {
			const struct job *j = k->job;
			if (j == NULL)
				continue;
			if (json)
				printf("%s{\"key\":\"%s\",\"kind\":\"%c\","
				       "\"lsn\":%" PRIu64
				       ",\"attempts\":%" PRIu32
				       ",\"first_ms\":%" PRId64 "}",
				       n ? "," : "", j->key, j->kind, j->lsn,
				       j->attempts, j->first_ms);
			else
				printf("%s  %s  lsn %" PRIu64 "  %" PRIu32
				       " attempts  last error: %s\n",
				       j->key, j->label, j->lsn, j->attempts,
				       j->err ? j->err : "");
			n++;
		}
	if (json)
		printf("]\n");
	else
		printf("%zu dead letter%s\n", n, n == 1 ? "" : "s");
	store_close(s);
	return 0;
}

int store_request_replay(const char *dir, const char *key)
{
	char path[600], line[NOTIFY_KEY_MAX + 2];
	int fd, n;

	if (strlen(key) >= NOTIFY_KEY_MAX || strchr(key, '\n') ||
	    strchr(key, '\t')) {
		fprintf(stderr, "bookd-notify: replay: not a key: %s\n", key);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/requeue", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		fprintf(stderr, "bookd-notify: %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	n = snprintf(line, sizeof(line), "%s\n", key);
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0) {
		fprintf(stderr, "bookd-notify: %s: %s\n", path,
			strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("requested: %s (the running notifier retries it within a "
	       "second)\n",
	       key);
	return 0;
}
