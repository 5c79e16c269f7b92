/*
 * compact.h - the checkpoint compactor: `bookd --write-snapshot`, a hidden
 * mode of the engine's own binary that the engine spawns (checkpoint.c) to
 * write a snapshot without copying its own address space.
 *
 * What it owns: DATA/snapshot.tmp, which it writes, and with --install
 * the snapshot's installation and the log trim that follows.  It rebuilds
 * the state the way recovery does -- DATA/snapshot, then the log records
 * after it up to and including the LSN it is given, applied with
 * state_apply() -- and writes snapshot.tmp with the same writer as every
 * other checkpoint, then fsyncs it.  With --install it then renames it to
 * DATA/snapshot, fsyncs the directory and lets go of the segments the
 * snapshot covers (wal_trim_dir; --archive-wal moves them to wal/archive/),
 * so the engine's loop does none of that.
 *
 * Invariants:
 *  - Read-only on everything else until --install: the snapshot and the
 *    log segments are
 *    opened O_RDONLY and mapped read-only (wal_scan), no torn tail is cut,
 *    the lock, the socket and the pages file are never touched, so it runs
 *    beside the engine that owns the directory.  The engine's current
 *    segment is appended to meanwhile: the scan stops at the record with
 *    the LSN asked for and never looks past it.
 *  - It is given only an LSN that is durable in the log (so installing
 *    at once keeps the rename-after-durable rule), and nothing else lets a
 *    segment go while it runs, so every record it needs is there.
 *  - With --parent it dies with that process (PR_SET_PDEATHSIG) and runs
 *    at nice CHECKPOINT_CHILD_NICE.
 *
 * How it fails: exit status 0 when snapshot.tmp is complete and fsynced
 * (and, with --install, installed; a failed trim is logged, and the
 * segments go at the next checkpoint); 1 with a one-line reason on stderr
 * otherwise (bad arguments, a snapshot
 * or a record that does not load, a log that ends before the LSN, I/O).
 */
#ifndef BOOKD_COMPACT_H
#define BOOKD_COMPACT_H

#define COMPACT_MODE "--write-snapshot"

/* argv[0] is COMPACT_MODE; the options follow:
 *   --data DIR | --data-fd N   the data directory
 *   --upto LSN                 the snapshot's LSN (>= 1)
 *   --max-resources N --first-day D --last-day D --window-days N
 *                              the engine's state's shape (state_init);
 *                              default: a fresh engine's of today
 *   --parent PID               die with it; nice CHECKPOINT_CHILD_NICE
 *   --install [--archive-wal]  install the snapshot and trim the log
 * Returns the process's exit status. */
int compact_main(int argc, char **argv);

#endif
