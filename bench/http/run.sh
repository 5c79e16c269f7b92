#!/usr/bin/env bash
# bookd-http's day view under wrk, side by side with nginx serving a static
# JSON file of the same size (the practical ceiling of HTTP on this
# machine) and with the same view answered by a socket call per request
# (bookd-http --reads engine).  Keep-alive, 8 and 64 connections, DUR
# seconds each (default 10).  Prints a Markdown table.
#
#   bench/http/run.sh            # binaries from build/
#   O=build DUR=20 bench/http/run.sh
#
# Needs wrk and nginx-light (Debian) and the Python client for the set-up.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
DUR=${DUR:-10}
THREADS=${THREADS:-2}
cd "$top"
for t in wrk nginx; do
	command -v $t >/dev/null || { echo "needs $t (apt-get install wrk nginx-light)" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/bookd-http-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"$O/bookd" --data "$tmp/data" --socket "$tmp/s.sock" 2>"$tmp/bookd.log" &
pids+=($!)
for _ in $(seq 200); do grep -q 'bookd: ready' "$tmp/bookd.log" && break; sleep 0.05; done
day=$(date -u -d '+14 days' +%F)
PYTHONPATH=clients/python /usr/bin/python3 - "$tmp/s.sock" "$day" <<'PY'
import sys, datetime as dt, bookd
sock, day = sys.argv[1], dt.date.fromisoformat(sys.argv[2])
c = bookd.connect(sock)
c.resource_create("studio", name="Studio", timezone="Europe/Berlin")
c.schedule_put("studio", "Europe/Berlin",
               weekly=[{"day": d, "start": "08:00", "end": "20:00"} for d in range(1, 8)])
# A few bookings so the view is not trivial.
for h in (9, 13, 16):
    s = int(dt.datetime(day.year, day.month, day.day, h, 0, tzinfo=dt.timezone.utc).timestamp())
    c.book(resource="studio", start=s, end=s + 3600,
           booker={"name": "B", "email": "b@example.org"})
PY

gateway() {
	"$O/bookd-http" --data "$tmp/data" --socket "$tmp/s.sock" --listen 127.0.0.1:0 \
		--rate-per-ip 0 --threads "$THREADS" --max-conns-per-ip 4096 "$@" \
		>"$tmp/gw.$#.port" 2>>"$tmp/gw.log" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$tmp/gw.$#.port" ] && break; sleep 0.05; done
	awk '{print $2}' "$tmp/gw.$#.port"
}
pport=$(gateway)
eport=$(gateway --reads engine)
path="/v1/resources/studio/days/$day?duration=60&interval=30"
cookie="Cookie: bookd_sid=0123456789abcdef0123456789abcdef"
mkdir -p "$tmp/www"
chmod 755 "$tmp" "$tmp/www"
curl -s -H "$cookie" "http://127.0.0.1:$pport$path" >"$tmp/www/day.json"
curl -s -H "$cookie" "http://127.0.0.1:$eport$path" >"$tmp/engine.json"
chmod 644 "$tmp/www/day.json"
size=$(stat -c %s "$tmp/www/day.json")
grep -q '"source":"pages"' "$tmp/www/day.json"
grep -q '"source":"engine"' "$tmp/engine.json"

nport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/nginx.conf" <<NG
worker_processes $THREADS;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err;
daemon off;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000000;
	server {
		listen 127.0.0.1:$nport reuseport;
		root $tmp/www;
		location / { default_type application/json; }
	}
}
NG
nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
sleep 0.5

run() { # name url conns
	local out
	out=$(wrk -t2 -c"$3" -d"${DUR}s" --latency -H "$cookie" "$2")
	rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$3" "$rps" "$p50" "$p99" "${errs:--}"
	eval "R_${4}_$3=$rps"
}
echo "day view body: $size bytes ($(date -u '+%F %H:%M UTC'), $(nproc) vCPUs, ${DUR}s per run, wrk -t2)"
echo
echo "| server | conns | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|---|"
for c in 8 64; do
	run "nginx, static file" "http://127.0.0.1:$nport/day.json" $c nginx
	run "bookd-http, pages" "http://127.0.0.1:$pport$path" $c pages
	run "bookd-http, socket call" "http://127.0.0.1:$eport$path" $c engine
done
echo
# Time inside the gateway, from a request's arrival to its answer being
# queued (the gateway's own histogram), over every request above.
for p in "$pport day" "$eport day_engine"; do
	set -- $p
	curl -s "http://127.0.0.1:$1/metrics" | awk -v r="$2" '
		$1 == "bookd_http_request_seconds_sum{route=\"" r "\"}" { s = $2 }
		$1 == "bookd_http_request_seconds_count{route=\"" r "\"}" { n = $2 }
		END { if (n) printf "in-gateway time per day view (%s): %.1f us mean over %d requests\n", r, 1e6 * s / n, n }'
done
echo
for c in 8 64; do
	eval "n=\$R_nginx_$c p=\$R_pages_$c e=\$R_engine_$c"
	awk -v n="$n" -v p="$p" -v e="$e" -v c="$c" 'BEGIN {
		printf "%d connections: pages / nginx = %.0f%%, pages / socket call = %.1fx\n", c, 100 * p / n, p / e }'
done
