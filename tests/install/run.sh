#!/usr/bin/env bash
# The installed library, as its users see it: `make install DESTDIR=$tmp`,
# then a program (prog.c) compiled with nothing but
# `pkg-config --cflags --libs bookd` (PKG_CONFIG_PATH and
# PKG_CONFIG_SYSROOT_DIR pointed at the staged tree), as C and as C++,
# linked dynamically and statically, run against a real bookd from the
# staged tree.  Also checks what the shared object exports and needs, and
# that `make uninstall` removes every installed file.
#
# Uses the normal build (O=build, built if needed): the sanitizer build's
# library would need the sanitizer runtime in every program linked to it.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${BOOKD_INSTALL_O:-build}
CC=${CC:-cc}
CXX=${CXX:-c++}
tmp=$(mktemp -d /tmp/bookd-install-XXXXXX)
stage=$tmp/stage
prefix=/usr/local
engine=
cleanup() {
	[ -n "$engine" ] && kill "$engine" 2>/dev/null && wait "$engine" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "install test: $*" >&2
	exit 1
}

make -s -C "$top" --no-print-directory O="$O" install \
	DESTDIR="$stage" PREFIX="$prefix" >"$tmp/make.log" 2>&1 ||
	{ cat "$tmp/make.log"; fail "make install failed"; }

lib=$stage$prefix/lib
for f in bin/bookd bin/bookctl bin/bookd-replay include/bookd.h \
	include/bookd_reader.h include/bookd_errors.h lib/libbookd.a \
	lib/libbookd.so.1.0.0 lib/pkgconfig/bookd.pc; do
	[ -f "$stage$prefix/$f" ] || fail "missing $prefix/$f"
done
[ "$(readlink "$lib/libbookd.so")" = libbookd.so.1 ] || fail "libbookd.so link"
[ "$(readlink "$lib/libbookd.so.1")" = libbookd.so.1.0.0 ] || fail "libbookd.so.1 link"
readelf -d "$lib/libbookd.so.1.0.0" | grep -q 'SONAME.*\[libbookd.so.1\]' ||
	fail "SONAME is not libbookd.so.1"

# Only bookd_* is exported; no libcrypto or libbsd, no abort or exit.
extra=$(nm -D --defined-only "$lib/libbookd.so.1.0.0" |
	awk '$3 !~ /^bookd_/ && $3 != "LIBBOOKD_1" {print $3}')
[ -z "$extra" ] || fail "exports other than bookd_*: $extra"
needed=$(readelf -d "$lib/libbookd.so.1.0.0" | grep NEEDED)
if echo "$needed" | grep -Eq 'libcrypto|libssl|libbsd|liburing'; then
	fail "needs more than it should: $needed"
fi
undef=$(nm -D -u "$lib/libbookd.so.1.0.0" | awk '{print $2}')
aundef=$(nm -u "$lib/libbookd.a" 2>/dev/null | awk 'NF == 2 {print $2}')
for bad in abort exit _exit __assert_fail; do
	if echo "$undef" | grep -Eq "^$bad(@|$)"; then
		fail "libbookd.so calls $bad"
	fi
	if echo "$aundef" | grep -Eq "^$bad$"; then
		fail "libbookd.a calls $bad"
	fi
done

export PKG_CONFIG_PATH=$lib/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$stage
flags=$(pkg-config --cflags --libs bookd) || fail "pkg-config bookd"
sflags=$(pkg-config --static --cflags --libs bookd) || fail "pkg-config --static"
cd "$tmp" || exit 1
cp "$top/tests/install/prog.c" prog.c
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror prog.c $flags -o prog-dyn ||
	fail "cc prog.c \$(pkg-config --cflags --libs bookd)"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror -static prog.c $sflags -o prog-static ||
	fail "cc -static prog.c \$(pkg-config --static --cflags --libs bookd)"
# shellcheck disable=SC2086
$CXX -x c++ -Wall -Wextra -Werror prog.c -x none $flags -o prog-cxx ||
	fail "c++ prog.c \$(pkg-config --cflags --libs bookd)"
readelf -d prog-dyn | grep -q 'NEEDED.*\[libbookd.so.1\]' ||
	fail "prog-dyn does not need libbookd.so.1"
if readelf -d prog-static 2>/dev/null | grep -q NEEDED; then
	fail "prog-static is not static"
fi

"$stage$prefix/bin/bookd" --data "$tmp/data" --socket "$tmp/sock" \
	>"$tmp/bookd.log" 2>&1 &
engine=$!
for _ in $(seq 1 200); do
	[ -S "$tmp/sock" ] && break
	sleep 0.05
done
[ -S "$tmp/sock" ] || { cat "$tmp/bookd.log"; fail "bookd did not start"; }

LD_LIBRARY_PATH=$lib ./prog-dyn "$tmp/sock" "$tmp/data" dyn-room ||
	fail "the dynamic program failed"
./prog-static "$tmp/sock" "$tmp/data" static-room ||
	fail "the static program failed"
LD_LIBRARY_PATH=$lib ./prog-cxx "$tmp/sock" "$tmp/data" cxx-room ||
	fail "the C++ program failed"

make -s -C "$top" --no-print-directory O="$O" uninstall \
	DESTDIR="$stage" PREFIX="$prefix" >"$tmp/make.log" 2>&1 ||
	{ cat "$tmp/make.log"; fail "make uninstall failed"; }
left=$(find "$stage" \( -type f -o -type l \) | sed "s|^$stage||")
[ -z "$left" ] || fail "left after uninstall: $left"
echo "install test: ok"
