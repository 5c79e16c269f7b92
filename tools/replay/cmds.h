/*
 * cmds.h - bookd-replay: inspect a bookd data directory and recover it to a
 * point in time (SPEC section 5).
 *
 *   bookd-replay verify DIR
 *   bookd-replay dump DIR [--from LSN] [--to LSN] [--json]
 *   bookd-replay replay DIR --into NEWDIR [--until LSN | --until-time T]
 *   bookd-replay stats DIR
 *
 * Every command reads DIR with the engine's own code (snapshot.c, wal.c,
 * state.c through rlog.h) and never modifies it: a running engine's
 * directory can be read, its newest group possibly showing as a torn tail.
 * `replay` writes only NEWDIR, which must not exist or be empty.
 *
 * Exit status: 0 success; 1 damage found, an invariant broken, or the
 * command could not do its work (each says why on stderr, naming the LSN
 * where it can); 2 bad usage.
 *
 * One file per command (verify.c, dump.c, pitr.c, stats.c); main.c parses
 * the command line into struct cmd_args.
 */
#ifndef BOOKD_REPLAY_CMDS_H
#define BOOKD_REPLAY_CMDS_H

#include <stdbool.h>
#include <stdint.h>

#define EXIT_DAMAGED 1
#define EXIT_USAGE   2

struct cmd_args {
	const char *dir;
	const char *into;  /* replay: the new data directory */
	uint64_t from_lsn; /* dump: first LSN (0: the first there is) */
	uint64_t to_lsn;   /* dump: last LSN; replay: --until (0: none) */
	bool have_until_ms;
	int64_t until_ms; /* replay: --until-time */
	bool json;	  /* dump: JSON Lines */
};

int cmd_verify(const struct cmd_args *a);
int cmd_dump(const struct cmd_args *a);
int cmd_replay(const struct cmd_args *a);
int cmd_stats(const struct cmd_args *a);

#endif
