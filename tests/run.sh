#!/usr/bin/env bash
# Run every test against the binaries in build directory $1 (default build).
# A second argument "soak" runs only the long crash storm.
#
# Each Check binary runs in its own process (CK_FORK stays on), with the
# engine under test started by the tests themselves from $BOOKD_BIN.
# The last line is the summary: "tests: N passed, N failed".
set -u
O=${1:-build}
MODE=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export BOOKD_BIN="$top/$O/bookd"
export BOOKD_TEST_BIN="$top/$O/bookd-test"
export BOOKCTL_BIN="$top/$O/bookctl"
export BOOKD_REPLAY_BIN="$top/$O/bookd-replay"
export BOOKD_NOTIFY_BIN="$top/$O/bookd-notify"
export BOOKD_HTTP_BIN="$top/$O/bookd-http"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}

pass=0
fail=0
failed=()
run_one() {
	local name=$1
	shift
	local log
	log=$(mktemp)
	if "$@" >"$log" 2>&1; then
		pass=$((pass + 1))
		echo "ok   $name  $(grep -E '^[0-9]+%: Checks' "$log" | tail -1)"
	else
		fail=$((fail + 1))
		failed+=("$name")
		echo "FAIL $name"
		sed 's/^/    /' "$log" | tail -60
	fi
	rm -f "$log"
}

if [ "$MODE" = soak ]; then
	export BOOKD_SOAK_CYCLES=${BOOKD_SOAK_CYCLES:-30}
	run_one crash-soak "$O/tests/blackbox/test_crash"
else
	for t in "$O"/tests/unit/test_* "$O"/tests/blackbox/test_* \
		"$O"/tests/abuse/test_*; do
		[ -x "$t" ] || continue
		run_one "$(basename "$t")" "$t"
	done
	# The installed library (make install DESTDIR=...) through pkg-config.
	run_one install tests/install/run.sh
	# README's "Running bookd for a website": users, groups and modes.
	run_one website tests/website/run.sh
	if [ -d clients/python/tests ]; then
		run_one python-client env PYTHONPATH=clients/python \
			/usr/bin/python3 -m pytest -q -p no:cacheprovider clients/python/tests
	fi
	run_one notify /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/notify
	run_one http-gateway /usr/bin/python3 -m pytest -q -p no:cacheprovider \
		tests/http
	# The booking page in headless Chromium against bookd and bookd-http.
	if [ -d tests/browser ]; then
		run_one browser timeout 240 /usr/bin/python3 -m pytest -q \
			-p no:cacheprovider tests/browser
	fi
fi
# The engines' pages directories in /dev/shm (engine/pagesdir.h) whose data
# directories the suites removed: the next engine start would sweep them,
# but none may follow.
for d in /dev/shm/bookd-pages.*; do
	[ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ] || continue
	l=$(readlink "$d/data") || continue
	[ -d "$l" ] || rm -rf "$d"
done
echo
if [ $fail -ne 0 ]; then
	echo "failed: ${failed[*]}"
fi
echo "tests: $pass passed, $fail failed"
[ $fail -eq 0 ]
