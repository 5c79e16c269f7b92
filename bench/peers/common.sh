# common.sh - helpers shared by the peer scripts (sourced, not run).
#
# Every wait here is bounded, every server is stopped by the PID the script
# recorded when it started it, and nothing is left behind in the temporary
# directory's parent.

# Print a message on stderr, prefixed with the script's name.
say() {
	echo "$(basename "$0"): $*" >&2
}

die() {
	say "$*"
	exit 1
}

# Install Debian packages that are missing (as root), after checking with
# apt-cache policy that the distribution has them.
need_pkgs() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" = 0 ] || die "missing packages:$missing (run: apt-get install -y$missing)"
	for p in $missing; do
		apt-cache policy "$p" | grep -q 'Candidate: [^(]' ||
			die "package $p has no install candidate"
	done
	say "installing$missing"
	timeout 900 env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q $missing >&2 || die "apt-get install failed"
}

# wait_for SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds,
# at most SECONDS.
wait_for() {
	limit=$(($1 * 10))
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.1
	done
	return 0
}

# stop_pid PID SIGNAL: send SIGNAL, wait up to 30 s for the process to go,
# then SIGKILL it.
stop_pid() {
	pid=$1
	sig=$2
	kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	i=0
	# A child that exited stays a zombie until reaped: count it as gone.
	while kill -0 "$pid" 2>/dev/null &&
		! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge 300 ]; then
			say "PID $pid did not exit after SIG$sig; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
}
