/*
 * walseg.c - the log's segment files as a directory: listing them in LSN
 * order and letting go of those a snapshot covers.  Used by the WAL (wal.c)
 * and by the checkpoint compactor, which trims the log itself after
 * installing its snapshot (compact.c); see wal_int.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal.h"
#include "wal_int.h"

int wal_seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;
	if (x->first_lsn != y->first_lsn)
		return x->first_lsn < y->first_lsn ? -1 : 1;
	/* The same segment in wal/ and in wal/archive/: wal/ sorts last. */
	return (int)y->archived - (int)x->archived;
}

/*
 * Append the segments of directory dfd to *v (n used, cap allocated);
 * archived marks them as wal/archive/'s.  Not sorted.
 */
int wal_add_segments(int dfd, bool archived, struct seg **v, size_t *n,
		     size_t *cap)
{
	int fd = dup(dfd);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long lsn;
		if (strlen(de->d_name) != 20 ||
		    strcmp(de->d_name + 16, ".wal") != 0)
			continue;
		lsn = strtoull(de->d_name, &end, 16);
		if (end != de->d_name + 16)
			continue;
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			struct seg *nv = reallocarray(*v, ncap, sizeof(**v));
			if (nv == NULL) {
				closedir(d);
				return -ENOMEM;
			}
			*v = nv;
			*cap = ncap;
		}
		(*v)[*n].first_lsn = lsn;
		(*v)[*n].dfd = dfd;
		(*v)[*n].archived = archived;
		memcpy((*v)[*n].name, de->d_name, 21); /* length checked: 20 */
		(*n)++;
	}
	closedir(d);
	return 0;
}

/* List wal/ segments sorted by first LSN. */
int wal_list_segments(int waldfd, struct seg **out, size_t *n)
{
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = wal_add_segments(waldfd, false, out, n, &cap);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(*out, *n, sizeof(**out), wal_seg_cmp);
	return 0;
}

int wal_fsync_dir(int fd)
{
	return fsync(fd) < 0 ? -errno : 0;
}

int wal_trim_dir(int waldfd, uint64_t upto_lsn, bool archive, uint64_t current)
{
	struct seg *segs = NULL;
	size_t nsegs = 0;
	int archfd = -1, rc, n = 0;

	rc = wal_list_segments(waldfd, &segs, &nsegs);
	if (rc < 0)
		return rc;
	/* Segment i holds LSNs below the next one's first LSN; the segment
	 * being appended to always stays. */
	for (size_t i = 0; i + 1 < nsegs; i++) {
		if (segs[i + 1].first_lsn > upto_lsn + 1 ||
		    segs[i].first_lsn == current)
			break;
		if (archive) {
			if (archfd < 0) {
				if (mkdirat(waldfd, "archive", 0750) < 0 &&
				    errno != EEXIST) {
					rc = -errno;
					goto out;
				}
				archfd =
				    openat(waldfd, "archive",
					   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (archfd < 0) {
					rc = -errno;
					goto out;
				}
			}
			if (renameat(waldfd, segs[i].name, archfd,
				     segs[i].name) < 0) {
				rc = -errno;
				goto out;
			}
		} else if (unlinkat(waldfd, segs[i].name, 0) < 0) {
			rc = -errno;
			goto out;
		}
		n++;
	}
	rc = 0;
out:
	if (n > 0) {
		/* Make the directory changes durable: the archive first, so
		 * a moved segment is never in neither place. */
		int e = archfd >= 0 ? wal_fsync_dir(archfd) : 0;
		int e2 = wal_fsync_dir(waldfd);
		if (rc == 0)
			rc = e < 0 ? e : e2;
	}
	if (archfd >= 0)
		close(archfd);
	free(segs);
	return rc < 0 ? rc : n;
}
