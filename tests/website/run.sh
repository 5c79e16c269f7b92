#!/usr/bin/env bash
# The permissions of README.md's "Running bookd for a website", for real:
# bookd runs as one user (daemon here, "bookd" in the README), its data
# directory is owned by that user with the web server's group (nogroup
# here, the group of "nobody") and mode 0710.  Then:
#   - the web server's user (nobody) connects as public, books, and reads
#     the booking from the shared pages (webuser.c), but can read none of
#     lock, wal/, auth.key;
#   - a user outside that group cannot even reach the socket;
#   - bookd-http runs as the web server's user with a gateway token and
#     reports the engine up and the pages mapped;
#   - root is admin; the engine leaves the directory's mode alone and sets
#     pages 0644 (in /dev/shm, in a directory that cannot be listed, linked
#     from the data directory), the socket 0666, auth.key 0600.
# Needs root (to run processes as other users); make test runs as root.
# Uses the normal build (O=build) like tests/install.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${BOOKD_WEBSITE_O:-build}
bin="$top/$O"
fail() {
	echo "website: $*" >&2
	[ -f "$tmp/bookd.log" ] && sed 's/^/    bookd: /' "$tmp/bookd.log" >&2
	exit 1
}
if [ "$(id -u)" != 0 ]; then
	echo "website: needs root to run bookd and the web server as other users" >&2
	exit 1
fi
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	# The pages file's directory in /dev/shm (engine/pagesdir.h).
	t=$(readlink "$tmp/data/pages" 2>/dev/null) &&
		case $t in /dev/shm/bookd-pages.*/pages.*) rm -rf "${t%/*}" ;; esac
	rm -rf "$tmp"
}
trap cleanup EXIT
chmod 0755 "$tmp"

make -s -C "$top" --no-print-directory O="$O" "$O/bookd" "$O/bookctl" \
	"$O/libbookd.a" >/dev/null || fail "build failed"
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top/clients/c" \
	-I"$top/proto" "$top/tests/website/webuser.c" "$bin/libbookd.a" \
	$(pkg-config --libs msgpack) -o "$tmp/webuser" || fail "cc webuser.c"

# The README's commands, with daemon for bookd and nogroup for www-data.
install -d -o daemon -g nogroup -m 0710 "$tmp/data"
setpriv --reuid=daemon --regid=daemon --init-groups \
	"$bin/bookd" --data "$tmp/data" 2>"$tmp/bookd.log" &
pid=$!
for _ in $(seq 100); do
	grep -q 'bookd: ready' "$tmp/bookd.log" && break
	sleep 0.1
done
grep -q 'bookd: ready' "$tmp/bookd.log" || fail "bookd did not start"
sock="$tmp/data/bookd.sock"

[ "$(stat -c %a "$tmp/data")" = 710 ] || fail "data dir mode changed: $(stat -c %a "$tmp/data")"
[ "$(stat -L -c %a "$tmp/data/pages")" = 644 ] || fail "pages mode $(stat -L -c %a "$tmp/data/pages")"
# The pages live in /dev/shm, DATA/pages linking there (--pages-dir): the
# generation's directory cannot be listed, only searched.
pages=$(readlink "$tmp/data/pages") || fail "pages is not a link"
case $pages in /dev/shm/bookd-pages.*/pages.*) ;; *) fail "pages link: $pages" ;; esac
[ "$(stat -c %a "${pages%/*}")" = 711 ] || fail "pages dir mode $(stat -c %a "${pages%/*}")"
[ "$(stat -c %a "$sock")" = 666 ] || fail "socket mode $(stat -c %a "$sock")"
[ "$(stat -c %a "$tmp/data/auth.key")" = 600 ] || fail "auth.key mode"
[ "$(stat -L -c %U "$tmp/data/pages")" = daemon ] || fail "pages not owned by the engine's user"

# Root is admin and creates the studio.
"$bin/bookctl" --socket "$sock" resource add studio-a >/dev/null ||
	fail "root could not create a resource"
start=$(( ($(date +%s) / 86400 + 7) * 86400 + 36000 ))

# The web server's user.
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$tmp/webuser" "$sock" "$tmp/data" studio-a "$start" 2>&1) ||
	fail "as nobody: $out"
for want in "role public" "booked" "pages say booked" \
	"lock: Permission denied" "wal: Permission denied" \
	"auth.key: Permission denied"; do
	grep -qx "$want" <<<"$out" || fail "as nobody: no '$want' in: $out"
done
# Public may not do admin things.
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$bin/bookctl" --socket "$sock" resource add studio-x 2>&1) &&
	fail "nobody created a resource"
grep -q FORBIDDEN <<<"$out" || fail "nobody's resource add: $out"

# Someone outside the web server's group cannot reach the socket.
out=$(setpriv --reuid=4242 --regid=4242 --clear-groups \
	"$bin/bookctl" --socket "$sock" ping 2>&1) &&
	fail "uid 4242 reached the socket"
grep -q "Permission denied" <<<"$out" || fail "uid 4242: $out"
grep -q "engine's" <<<"$out" || fail "uid 4242 got no hint: $out"
# Nor the pages: not through the data directory, and the directory in
# /dev/shm does not list the file's name.
setpriv --reuid=4242 --regid=4242 --clear-groups cat "$tmp/data/pages" \
	>/dev/null 2>&1 && fail "uid 4242 read the pages"
setpriv --reuid=4242 --regid=4242 --clear-groups ls "${pages%/*}" \
	>/dev/null 2>&1 && fail "uid 4242 listed the pages directory"

# bookctl token reads auth.key as the engine's user (and root).
tok=$("$bin/bookctl" token "$tmp/data" --role public --subject web) ||
	fail "bookctl token"
[ -n "$tok" ] || fail "empty token"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$bin/bookctl" token "$tmp/data" --subject web >/dev/null 2>&1 &&
	fail "nobody minted a token"

# bookd-http as the web server's user with a gateway token kept where only
# its group can read it (tools/bookd-http.service).
if [ -x "$bin/bookd-http" ]; then
	install -d -m 0750 -g nogroup "$tmp/etc"
	"$bin/bookctl" token "$tmp/data" --role gateway --subject web \
		>"$tmp/etc/web.token" || fail "gateway token"
	chgrp nogroup "$tmp/etc/web.token" && chmod 0640 "$tmp/etc/web.token"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$bin/bookd-http" --data "$tmp/data" --listen 127.0.0.1:0 \
		--token-file "$tmp/etc/web.token" >"$tmp/http.out" 2>"$tmp/http.log" &
	hpid=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$tmp/http.out")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { kill $hpid; fail "bookd-http did not start: $(cat "$tmp/http.log")"; }
	health=$(/usr/bin/python3 -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/healthz" % sys.argv[1], timeout=10).read().decode())' "$port" 2>&1)
	kill $hpid; wait $hpid 2>/dev/null
	grep -q '"engine":"up"' <<<"$health" && grep -q '"pages":true' <<<"$health" ||
		fail "bookd-http as nobody: $health $(cat "$tmp/http.log")"
fi

kill "$pid"
wait "$pid" || fail "bookd did not stop cleanly"
pid=
echo "website: ok (nobody: public, books, reads pages, no secrets; uid 4242 shut out)"
