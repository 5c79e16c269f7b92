#!/bin/bash
# pg.sh - measure PostgreSQL 15 with bookd's workload shape.
#
#   bench/peers/pg.sh OUT.json
#
# Installs postgresql and postgresql-contrib if missing, creates a cluster
# in a new temporary directory, starts it on a Unix socket only
# (listen_addresses='') with synchronous_commit=on and fsync=on (the rest
# at Debian's defaults), and drives it with pgbench and the custom scripts
# below, prepared statements:
#   - bookings: bench_book(resource, day, start slot, slots), a plpgsql
#     function that inserts into a table guarded by EXCLUDE USING gist
#     (resource_id WITH =, during WITH &&) and turns exclusion_violation
#     into "false" (a conflict) - at PG_BOOK_CLIENTS clients, each level on
#     a table emptied of the previous level's bookings;
#   - availability: bench_free(...), NOT EXISTS over the same index - at
#     PG_CHECK_CLIENTS clients, after PG_PRELOAD random bookings;
# first with no history, then again with PG_PAST past bookings (completed,
# before the 30 days, inside the exclusion index as history would be).
# Shape: resources 0-999, days 0-29 from tomorrow (UTC), 1-8 slots of 15
# minutes starting at a random slot inside the day.
#
# Each figure is the median of PG_REPEATS runs of PG_TIME seconds.  The
# JSON (bookd-bench's format) goes to OUT.json.  The server is stopped by
# its PID at the end; the whole script is bounded by PG_TIMEOUT seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

[ $# -eq 1 ] || die "usage: $0 OUT.json"
out=$1
PG_TIME=${PG_TIME:-3}
PG_REPEATS=${PG_REPEATS:-3}
PG_BOOK_CLIENTS=${PG_BOOK_CLIENTS:-1 8 32}
PG_CHECK_CLIENTS=${PG_CHECK_CLIENTS:-1 8}
PG_PRELOAD=${PG_PRELOAD:-10000}
PG_PAST=${PG_PAST:-1000000}

if [ -z "${PG_BOUNDED:-}" ]; then
	export PG_BOUNDED=1
	exec timeout "${PG_TIMEOUT:-1800}" "$0" "$@"
fi

need_pkgs postgresql postgresql-contrib
bindir=/usr/lib/postgresql/15/bin
[ -x "$bindir/postgres" ] || die "PostgreSQL 15 not found in $bindir"

dir=$(mktemp -d "${BENCH_PEER_DIR:-/var/tmp}/bookd-peer-pg.XXXXXX")
pid=""
cleanup() {
	# SIGINT is PostgreSQL's fast shutdown.
	[ -n "$pid" ] && stop_pid "$pid" INT
	rm -rf "$dir"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: run the server as postgres.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	else
		"$@"
	fi
}
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
chmod 755 "$dir"

as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync \
	>"$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log" >&2
	die "initdb failed"
}
as_pg "$bindir/postgres" -D "$dir/data" -c listen_addresses='' \
	-c unix_socket_directories="$dir" -c synchronous_commit=on \
	-c fsync=on -c max_connections=200 >"$dir/server.log" 2>&1 &
pid=$!
wait_for 30 "$bindir/pg_isready" -q -h "$dir" -U postgres || {
	cat "$dir/server.log" >&2
	die "postgres did not accept connections within 30 s"
}
# $! may be a shell between us and the server: the postmaster writes its
# own PID as the first line of postmaster.pid.
pid=$(head -n 1 "$dir/data/postmaster.pid")
say "$("$bindir/postgres" --version) on $dir (PID $pid)"

psql() {
	command psql -h "$dir" -U postgres -X -q -A -t -v ON_ERROR_STOP=1 \
		-d postgres "$@"
}

day0=$(date -u -d tomorrow +%Y-%m-%d)
psql <<SQL
CREATE EXTENSION btree_gist;
CREATE TABLE bookings (
	id bigserial PRIMARY KEY,
	resource_id int NOT NULL,
	during tstzrange NOT NULL,
	name text NOT NULL,
	email text NOT NULL,
	status text NOT NULL,
	EXCLUDE USING gist (resource_id WITH =, during WITH &&)
		WHERE (status <> 'cancelled')
);
CREATE FUNCTION bench_span(d int, s int, n int) RETURNS tstzrange
LANGUAGE sql IMMUTABLE AS \$\$
	SELECT tstzrange(
		'$day0 00:00+00'::timestamptz + d * interval '1 day'
			+ s * interval '15 minutes',
		'$day0 00:00+00'::timestamptz + d * interval '1 day'
			+ (s + n) * interval '15 minutes')
\$\$;
CREATE FUNCTION bench_book(r int, d int, s int, n int) RETURNS boolean
LANGUAGE plpgsql AS \$\$
BEGIN
	INSERT INTO bookings (resource_id, during, name, email, status)
	VALUES (r, bench_span(d, s, n), 'Bench', 'bench@example.org',
		'confirmed');
	RETURN true;
EXCEPTION WHEN exclusion_violation THEN
	RETURN false;
END
\$\$;
CREATE FUNCTION bench_free(r int, d int, s int, n int) RETURNS boolean
LANGUAGE sql STABLE AS \$\$
	SELECT NOT EXISTS (SELECT 1 FROM bookings WHERE resource_id = r
		AND during && bench_span(d, s, n) AND status <> 'cancelled')
\$\$;
SQL

cat >"$dir/book.sql" <<'EOF'
\set r random(0, 999)
\set d random(0, 29)
\set n random(1, 8)
\set s random(0, 96 - :n)
SELECT bench_book(:r, :d, :s, :n);
EOF
cat >"$dir/check.sql" <<'EOF'
\set r random(0, 999)
\set d random(0, 29)
\set n random(1, 8)
\set s random(0, 96 - :n)
SELECT bench_free(:r, :d, :s, :n);
EOF

values="$dir/values.tsv"
: >"$values"
add() { # key label unit value
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$values"
}

# pgbench NAME SCRIPT CLIENTS: sets tps, n (transactions) and p50 p99 p999
# (us, from the per-transaction logs).
run=0
bench() {
	run=$((run + 1))
	jobs=$(($3 < 2 ? 1 : 2))
	mkdir -p "$dir/log$run"
	res=$(cd "$dir/log$run" && timeout $((PG_TIME + 120)) pgbench -n \
		-h "$dir" -U postgres -M prepared -c "$3" -j "$jobs" \
		-T "$PG_TIME" -f "$2" -l --log-prefix=tx postgres 2>&1) || {
		echo "$res" >&2
		die "pgbench $1 failed"
	}
	tps=$(echo "$res" | sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p')
	n=$(echo "$res" |
		sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
	[ -n "$tps" ] && [ -n "$n" ] || {
		echo "$res" >&2
		die "pgbench $1: no tps in its output"
	}
	read -r p50 p99 p999 < <(python3 "$here/tools.py" percentiles \
		"$dir/log$run/tx")
	rm -rf "$dir/log$run"
}

# book_levels TAG BASE: bookings at each client count, each on a table
# holding only the rows up to id BASE.
book_levels() {
	for c in $PG_BOOK_CLIENTS; do
		psql -c "DELETE FROM bookings WHERE id > $2" \
			-c "VACUUM bookings" >/dev/null
		bench "book-$c" "$dir/book.sql" "$c"
		ok=$(psql -c "SELECT count(*) FROM bookings WHERE id > $2")
		add "pg.$1book.c$c.per_s" "$c clients: bookings/s" /s \
			"$(python3 -c "print($tps * $ok / max($n, 1))")"
		add "pg.$1book.c$c.tx_s" "$c clients: transactions/s" /s "$tps"
		add "pg.$1book.c$c.conflict_pct" "$c clients: conflicts" % \
			"$(python3 -c "print(100 * ($n - $ok) / max($n, 1))")"
		add "pg.$1book.c$c.p50_us" "$c clients: latency p50" us "$p50"
		add "pg.$1book.c$c.p99_us" "$c clients: latency p99" us "$p99"
		add "pg.$1book.c$c.p999_us" "$c clients: latency p999" us "$p999"
	done
}

# check_levels TAG BASE: availability after PG_PRELOAD random bookings.
check_levels() {
	psql -c "DELETE FROM bookings WHERE id > $2" >/dev/null
	psql >/dev/null <<SQL
SELECT count(*) FILTER (WHERE bench_book(r, d, s, n))
FROM (SELECT (random() * 999)::int AS r, (random() * 29)::int AS d, n,
	     (random() * (96 - n))::int AS s
      FROM (SELECT 1 + (random() * 7)::int AS n
	    FROM generate_series(1, $PG_PRELOAD)) a) b;
VACUUM ANALYZE bookings;
SQL
	for c in $PG_CHECK_CLIENTS; do
		bench "check-$c" "$dir/check.sql" "$c"
		add "pg.$1check.c$c.per_s" "$c clients: availability checks/s" \
			/s "$tps"
		add "pg.$1check.c$c.p50_us" "$c clients: check latency p50" us \
			"$p50"
	done
}

for r in $(seq "$PG_REPEATS"); do
	say "repeat $r of $PG_REPEATS, no history"
	book_levels "" 0
	check_levels "" 0
done

# Past bookings: 1,000 per resource, one hour each, back to back before
# day 0, so none conflict and all sit in the exclusion index.
say "loading $PG_PAST past bookings"
psql -c "TRUNCATE bookings" >/dev/null
psql >/dev/null <<SQL
INSERT INTO bookings (resource_id, during, name, email, status)
SELECT i % 1000,
       tstzrange('$day0 00:00+00'::timestamptz
		 - (i / 1000 + 1) * interval '1 hour',
		 '$day0 00:00+00'::timestamptz - (i / 1000) * interval '1 hour'),
       'Bench', 'bench@example.org', 'completed'
FROM generate_series(0, $PG_PAST - 1) AS i;
VACUUM ANALYZE bookings;
SQL
base=$(psql -c "SELECT coalesce(max(id), 0) FROM bookings")
add "pg.past.loaded" "past bookings loaded" "" \
	"$(psql -c "SELECT count(*) FROM bookings")"
for r in $(seq "$PG_REPEATS"); do
	say "repeat $r of $PG_REPEATS, with $PG_PAST past bookings"
	book_levels "past." "$base"
	check_levels "past." "$base"
done

python3 "$here/tools.py" figures "$values" "$out" pg
say "wrote $out"
