/*
 * pagesdir.c - the pages file's directory on a memory file system; see
 * pagesdir.h.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pagesdir.h"

#define PAGES_FILE_MODE 0644

/* The data directory's absolute path, from /proc (empty when unknown). */
static void data_path(int datafd, char *out, size_t cap)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", datafd);
	n = readlink(link, out, cap - 1);
	out[n > 0 ? (size_t)n : 0] = '\0';
}

int pagesdir_create(const char *dir, int datafd, char *target, size_t cap)
{
	char path[4096], name[6 + 33], real[4096];
	unsigned char rnd[16];
	struct stat st;
	int dfd, fd, err;

	if (fstat(datafd, &st) < 0)
		return -errno;
	if ((size_t)snprintf(path, sizeof path,
			     "%s/" PAGESDIR_PREFIX "%llx.%llx.XXXXXX", dir,
			     (unsigned long long)st.st_dev,
			     (unsigned long long)st.st_ino) >= sizeof path)
		return -ENAMETOOLONG;
	if (mkdtemp(path) == NULL)
		return -errno;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		err = -errno;
		rmdir(path);
		return err;
	}
	/* Searchable by whoever may search the data directory. */
	if (fchmod(dfd, (st.st_mode & 0011) ? 0711 : 0700) < 0)
		goto fail;
	data_path(datafd, real, sizeof real);
	if (real[0] == '/' && symlinkat(real, dfd, "data") < 0)
		goto fail;
	arc4random_buf(rnd, sizeof rnd);
	memcpy(name, "pages.", 6);
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(name + 6 + 2 * i, 3, "%02x", rnd[i]);
	if ((size_t)snprintf(target, cap, "%s/%s", path, name) >= cap) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	fd = openat(dfd, name,
		    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    PAGES_FILE_MODE);
	if (fd < 0)
		goto fail;
	close(dfd);
	return fd;
fail:
	err = -errno;
	unlinkat(dfd, "data", 0);
	close(dfd);
	rmdir(path);
	return err;
}

/* A directory stream of at/path (never through a final link when
 * nofollow), with its descriptor's owner in *uid; NULL when it cannot be
 * read. */
static DIR *dir_open(int at, const char *path, bool nofollow, uid_t *uid)
{
	struct stat st;
	DIR *d;
	int fd = openat(at, path,
			O_RDONLY | O_DIRECTORY | O_CLOEXEC |
			    (nofollow ? O_NOFOLLOW : 0));

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (d = fdopendir(fd)) == NULL) {
		close(fd);
		return NULL;
	}
	*uid = st.st_uid;
	return d;
}

/* Empty and remove dir/name, a directory of this user (never a link). */
static void remove_gen(int parent, const char *name)
{
	struct dirent *e;
	uid_t uid;
	DIR *d = dir_open(parent, name, true, &uid);

	if (d == NULL)
		return;
	if (uid != geteuid()) {
		closedir(d);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	unlinkat(parent, name, AT_REMOVEDIR);
}

/*
 * Split target, a file pages.* in a directory bookd-pages.*, into that
 * directory's parent and name; 0, or -1 when target is no such file.
 */
static int gen_of(const char *target, char *parent, size_t pcap, char *gen,
		  size_t gcap)
{
	const char *file = strrchr(target, '/'), *g;
	size_t n;

	if (file == NULL || file == target ||
	    strncmp(file + 1, "pages.", 6) != 0)
		return -1;
	for (g = file - 1; g > target && *g != '/'; g--)
		;
	if (*g != '/' ||
	    strncmp(g + 1, PAGESDIR_PREFIX, strlen(PAGESDIR_PREFIX)) != 0)
		return -1;
	n = (size_t)(file - g - 1);
	if (n >= gcap || (size_t)(g - target) >= pcap)
		return -1;
	memcpy(gen, g + 1, n);
	gen[n] = '\0';
	n = g == target ? 1 : (size_t)(g - target);
	memcpy(parent, target, n);
	parent[n] = '\0';
	return 0;
}

bool pagesdir_ours(const char *target, int datafd)
{
	char parent[4096], gen[256];
	unsigned long long dev, ino;
	struct stat st;

	return gen_of(target, parent, sizeof parent, gen, sizeof gen) == 0 &&
	       sscanf(gen + strlen(PAGESDIR_PREFIX), "%llx.%llx.", &dev,
		      &ino) == 2 &&
	       fstat(datafd, &st) == 0 &&
	       dev == (unsigned long long)st.st_dev &&
	       ino == (unsigned long long)st.st_ino;
}

void pagesdir_remove(const char *target)
{
	char parent[4096], gen[256];
	int fd;

	if (gen_of(target, parent, sizeof parent, gen, sizeof gen) < 0)
		return;
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	remove_gen(fd, gen);
	close(fd);
}

void pagesdir_remove_link(const char *path)
{
	char target[4096];
	ssize_t n = readlink(path, target, sizeof target - 1);

	if (n > 0) {
		target[n] = '\0';
		pagesdir_remove(target);
	}
}

/* Whether generation directory name (of this user, in parent) still
 * belongs to a data directory of device dev, inode ino. */
static int data_alive(int parent, const char *name, unsigned long long dev,
		      unsigned long long ino)
{
	char path[4096];
	struct stat st;
	ssize_t n;
	int fd;

	fd = openat(parent, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = readlinkat(fd, "data", path, sizeof path - 1);
	close(fd);
	if (n <= 0)
		return 1; /* cannot tell: leave it */
	path[n] = '\0';
	if (stat(path, &st) < 0)
		return errno != ENOENT && errno != ENOTDIR;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void pagesdir_sweep(const char *dir, int datafd, const char *keep)
{
	char keepdir[4096], keepgen[256];
	const char *kg =
	    gen_of(keep, keepdir, sizeof keepdir, keepgen, sizeof keepgen) == 0
		? keepgen
		: NULL;
	unsigned long long dev, ino;
	struct stat ds, st;
	struct dirent *e;
	uid_t uid;
	DIR *d;
	int fd;

	if (fstat(datafd, &ds) < 0 ||
	    (d = dir_open(AT_FDCWD, dir, false, &uid)) == NULL)
		return;
	fd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		int stale;
		if (strncmp(n, PAGESDIR_PREFIX, strlen(PAGESDIR_PREFIX)) != 0 ||
		    sscanf(n + strlen(PAGESDIR_PREFIX), "%llx.%llx.", &dev,
			   &ino) != 2 ||
		    fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		if (dev == (unsigned long long)ds.st_dev &&
		    ino == (unsigned long long)ds.st_ino)
			stale = kg == NULL || strcmp(n, kg) != 0;
		else
			stale = !data_alive(fd, n, dev, ino);
		if (stale)
			remove_gen(fd, n);
	}
	closedir(d);
}
