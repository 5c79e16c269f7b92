/*
 * pagesdir.h - where the pages file lives when it is kept in memory.
 *
 * The pages file (proto/pages.h) is a cache that bookd rebuilds at every
 * start and never syncs.  On the data directory's disk the kernel still
 * writes it back: hundreds of MiB after each start and every page a booking
 * touched every 30 s, and the log's fdatasync waits behind those writes.  So
 * by default the file lives on a memory file system (--pages-dir, default
 * /dev/shm) and DATA/pages is a symbolic link to it; readers open DATA/pages
 * as before.
 *
 * Layout, in DIR (the --pages-dir):
 *
 *   DIR/bookd-pages.<dev>.<ino>.XXXXXX/       one per generation (mkdtemp)
 *       pages.<32 random hex digits>           the file readers map
 *       data -> /absolute/path/of/DATA         who it belongs to
 *
 * <dev> and <ino> (hex) name the data directory.  Access: the directory is
 * 0711 when the data directory lets its group or others search it, else
 * 0700; it cannot be listed, so the file's random name is learnt only by
 * reading the link DATA/pages, which needs search permission on the data
 * directory: the data directory's mode decides who reads the pages, as when
 * the file was in it.
 *
 * Clean-up: bookd removes the previous generation's directory when it
 * installs a new one, and at each start sweeps DIR for directories of its
 * own user whose data directory is gone (the "data" link no longer leads to
 * a directory of that device and inode) or that belong to its own data
 * directory without being the one DATA/pages names (left by a crash between
 * creating one and installing it).  Only directories owned by the caller's
 * user are touched, never followed through a symbolic link.  A copy of a
 * data directory carries a link to the original's file: its engine
 * replaces the link without retiring or removing that file (pagesdir_ours).
 * Readers of a stopped engine keep the last published state, as before;
 * that file's memory is held until the next start (or the sweep after its
 * data directory is removed).
 */
#ifndef BOOKD_PAGESDIR_H
#define BOOKD_PAGESDIR_H

#include <stdbool.h>
#include <stddef.h>

#define PAGESDIR_PREFIX "bookd-pages."

/*
 * Make a new generation's directory in dir for the data directory datafd
 * and create its file (O_EXCL, mode 0644 less the umask).  target receives
 * the file's absolute path.  Returns the open file or -errno.
 */
int pagesdir_create(const char *dir, int datafd, char *target, size_t cap);

/*
 * Remove the generation directory holding target, when target is the file
 * of one (a file pages.* in a directory bookd-pages.*) and it is owned by this
 * user; otherwise nothing.
 */
void pagesdir_remove(const char *target);

/* Whether target is the file of a generation made for the data directory
 * datafd (its name carries that directory's device and inode). */
bool pagesdir_ours(const char *target, int datafd);

/* pagesdir_remove of the file the link at path names (a data directory's
 * "pages" being removed). */
void pagesdir_remove_link(const char *path);

/* The sweep described above; keep is the target DATA/pages names ("" when
 * none). */
void pagesdir_sweep(const char *dir, int datafd, const char *keep);

#endif
