#!/bin/bash
# redis.sh - measure Redis with bookd's workload shape.
#
#   bench/peers/redis.sh BENCH OUT.json [bookd-bench options...]
#
# Installs redis-server if missing, starts it in a new temporary directory
# listening on a Unix socket only (port 0), with appendonly yes and
# appendfsync always, runs "BENCH --redis SOCKET redis" (the model and the
# Lua script are in bench/peer_redis.h), writes that run's JSON to OUT.json,
# and stops the server by its PID.  The whole run is bounded by
# REDIS_TIMEOUT seconds (default 1200).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

[ $# -ge 2 ] || die "usage: $0 BENCH OUT.json [bookd-bench options...]"
bench=$1
out=$2
shift 2

need_pkgs redis-server redis-tools

dir=$(mktemp -d "${BENCH_PEER_DIR:-/var/tmp}/bookd-peer-redis.XXXXXX")
pid=""
cleanup() {
	[ -n "$pid" ] && stop_pid "$pid" TERM
	rm -rf "$dir"
}
trap cleanup EXIT

sock="$dir/redis.sock"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
	--dir "$dir" --appendonly yes --appendfsync always --save '' \
	--daemonize no --logfile "$dir/redis.log" &
pid=$!
wait_for 20 redis-cli -s "$sock" ping || {
	cat "$dir/redis.log" >&2 || true
	die "redis-server did not answer within 20 s"
}
say "redis-server $(redis-server --version | awk '{print $3}') on $sock" \
	"(PID $pid, appendonly yes, appendfsync always)"
timeout "${REDIS_TIMEOUT:-1200}" "$bench" --redis "$sock" \
	--json-out "$out" "$@" redis
