#!/bin/bash
# run.sh - bookd's standard benchmark, then Redis, then PostgreSQL, one
# after another, and the ratio tables in bench/RESULTS.md.
#
#   bench/peers/run.sh            (make bench-peers)
#
# Environment:
#   BENCH       the harness (default build/bookd-bench; its bookd is the
#               one next to it)
#   BENCH_ARGS  extra bookd-bench options for both bookd and Redis runs,
#               e.g. "--time 1 --repeats 1" for a quick look
#   OUT         where the JSON and text outputs go (default build/bench-peers)
#   RESULTS     the file whose generated section is replaced (default
#               bench/RESULTS.md); the rest of the file is kept
#   PG_*        see bench/peers/pg.sh
#
# Nothing runs concurrently with anything else: bookd's engines are
# stopped before Redis starts, Redis before PostgreSQL.  Each step is
# bounded by timeout(1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
cd "$here/../.."

BENCH=${BENCH:-build/bookd-bench}
BENCH_ARGS=${BENCH_ARGS:-}
OUT=${OUT:-build/bench-peers}
RESULTS=${RESULTS:-bench/RESULTS.md}
[ -x "$BENCH" ] || die "$BENCH not built (make all)"
mkdir -p "$OUT"

# BENCH_ARGS is a list of options: split it on spaces on purpose.
read -r -a bench_args <<<"$BENCH_ARGS"
pg_env=(PG_TIME="${PG_TIME:-3}" PG_REPEATS="${PG_REPEATS:-3}"
	PG_PAST="${PG_PAST:-1000000}")

cmd1="$BENCH $BENCH_ARGS --json-out $OUT/bookd.json standard"
say "$cmd1"
timeout 1800 "$BENCH" "${bench_args[@]}" --json-out "$OUT/bookd.json" \
	standard | tee "$OUT/bookd.txt"

cmd2="bench/peers/redis.sh $BENCH $OUT/redis.json $BENCH_ARGS"
say "$cmd2"
bench/peers/redis.sh "$BENCH" "$OUT/redis.json" "${bench_args[@]}" |
	tee "$OUT/redis.txt"

cmd3="${pg_env[*]} bench/peers/pg.sh $OUT/pg.json"
say "$cmd3"
env "${pg_env[@]}" bench/peers/pg.sh "$OUT/pg.json"

python3 "$here/tools.py" ratios --bookd "$OUT/bookd.json" \
	--redis "$OUT/redis.json" --pg "$OUT/pg.json" --results "$RESULTS" \
	--commands "$cmd1\n$cmd2\n$cmd3"
say "wrote the ratio tables to $RESULTS"
