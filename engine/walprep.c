/*
 * walprep.c - the WAL's segment preparation thread; see walprep.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "walprep.h"

static const char zero_block[ZERO_CHUNK];

int prep_pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Write size bytes of zeros into fd from 0, syncing every few MiB (short
 * bursts for the disk) and at the end; stop (-ECANCELED) when *stop. */
int prep_zero_fill(int fd, uint64_t size, const bool *stop)
{
	int rc = 0;

	for (uint64_t off = 0; off < size && rc == 0; off += ZERO_CHUNK) {
		uint64_t n = size - off;
		if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED))
			return -ECANCELED;
		rc = prep_pwrite_all(fd, zero_block,
				     n < ZERO_CHUNK ? n : ZERO_CHUNK,
				     (off_t)off);
		if (rc == 0 && (off + ZERO_CHUNK) % ZERO_SYNC_EVERY == 0 &&
		    fdatasync(fd) < 0)
			rc = -errno;
	}
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	return rc;
}

/* Write and sync a whole zero-filled segment as wal/PREP_NAME. */
static int prep_next_file(struct prep *p)
{
	int fd = openat(p->waldfd, PREP_NAME,
			O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	int rc;

	if (fd < 0)
		return -errno;
	rc = prep_zero_fill(fd, p->next_size, &p->stop);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

static bool prep_wanted(const struct prep *p)
{
	return !p->failed && p->cur && p->next_fd < 0 && !p->next_busy &&
	       p->reserved >= p->cur_size / 4;
}

static void *prep_main(void *arg)
{
	struct prep *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		int fd;
		if (!prep_wanted(p)) {
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		p->next_busy = true;
		pthread_mutex_unlock(&p->mu);
		fd = prep_next_file(p);
		pthread_mutex_lock(&p->mu);
		p->next_busy = false;
		if (fd >= 0) {
			p->next_fd = fd;
		} else if (fd != -ECANCELED) {
			log_msg("WAL segment preparation stopped: %s: %s",
				PREP_NAME, strerror(-fd));
			p->failed = true;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The writer moved on to a new current segment of size bytes. */
void prep_set_current(struct prep *p, uint64_t size, uint64_t reserved)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->mu);
	p->cur = true;
	p->cur_size = size;
	p->next_size = size < p->seg_size / 4 ? size * 4 : p->seg_size;
	p->reserved = reserved;
	if (prep_wanted(p))
		pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void prep_reserve(struct prep *p, uint64_t end)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->mu);
	p->reserved = end;
	if (prep_wanted(p))
		pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/*
 * The prepared segment, if ready, renamed to name: its fd, else -1.  The
 * rename happens under mu, and the thread forgets the current segment, so
 * it cannot begin the next preparation (which recreates PREP_NAME) before
 * the file it made is out of the way.
 */
int prep_take_next(struct prep *p, const char *name, uint64_t *size)
{
	int fd = -1;

	if (!p->started)
		return -1;
	pthread_mutex_lock(&p->mu);
	if (p->next_fd >= 0) {
		fd = p->next_fd;
		p->next_fd = -1;
		if (renameat(p->waldfd, PREP_NAME, p->waldfd, name) < 0) {
			log_msg("WAL segment preparation: renaming %s: %s",
				PREP_NAME, strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0) {
		p->prepared++;
		*size = p->next_size;
	} else {
		p->fallbacks++;
	}
	p->cur = false;
	pthread_mutex_unlock(&p->mu);
	return fd;
}

void prep_start(struct prep *p, int waldfd, uint64_t seg_size)
{
	sigset_t all, old;
	int rc;

	p->waldfd = waldfd;
	p->seg_size = seg_size;
	p->next_fd = -1;
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		return;
	}
	/* The thread takes no signals: they belong to the loop (signalfd),
	 * and a signal delivered here would take its default action. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->th, NULL, prep_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_msg("WAL segment preparation not started: no thread");
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		return;
	}
	p->started = true;
}

void prep_stop(struct prep *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	if (p->next_fd >= 0)
		close(p->next_fd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	p->started = false;
}
