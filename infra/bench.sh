#!/usr/bin/env bash
# Runs the benchmarks under bench/ (what `make bench` does; not part of
# `make test` or CI). Each prints name=value lines on stdout, progress on
# stderr, and compares against a reference measured in the same run; none
# fails on timing.
#
#   infra/bench.sh                  # every benchmark: cdn longpoll realtime provision
#   infra/bench.sh cdn longpoll     # some of them, by name
#   BENCH_ARGS_realtime="-clients 2000" infra/bench.sh realtime   # extra flags
#
# Installs what the references need when missing: nginx and wrk (Debian), and
# stock anycable-go built from the module cache into .bin/. provision starts
# a throwaway Postgres with infra/postgres.sh (or uses $DATABASE_URL).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export BENCH_ROOT=$root
all=(cdn longpoll realtime provision)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")
for n in "${names[@]}"; do
	case " ${all[*]} " in
	*" $n "*) ;;
	*) echo "unknown benchmark $n (have: ${all[*]})" >&2; exit 2 ;;
	esac
done

# Many sockets: 1,000 long-pollers, 5,000 WebSocket clients per server.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 16384 ]; then
	echo "warning: ulimit -n is $(ulimit -n); the realtime and longpoll benchmarks need more than twice their clients" >&2
fi

apt_install() {
	local sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "installing $* (Debian)..." >&2
	if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@" >&2; then
		$sudo apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@" >&2
	fi
}

want() { [[ " ${names[*]} " == *" $1 "* ]]; }

if want cdn; then
	missing=()
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
	command -v wrk >/dev/null || missing+=(wrk)
	[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
	export PATH=$PATH:/usr/sbin
fi
if want realtime && [ ! -x .bin/anycable-go ]; then
	echo "building stock anycable-go from the module cache..." >&2
	go build -o .bin/anycable-go github.com/anycable/anycable-go/cmd/anycable-go
fi

bindir=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bench.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		# Each benchmark runs in its own process group (setsid): its
		# children (CDN, nginx, servers) go with it. versitygw exits on
		# its own once the benchmark is gone (VERSITYGW_WATCH_PID).
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	rm -rf "$bindir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building benchmarks..." >&2
for n in "${names[@]}"; do
	go build -o "$bindir/$n" "./bench/$n"
done

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, $(go env GOVERSION), $(uname -sr)"
status=0
for n in "${names[@]}"; do
	echo "== $n" >&2
	echo "# $n"
	var="BENCH_ARGS_$n"
	# shellcheck disable=SC2086 # extra flags are meant to be split
	setsid "$bindir/$n" ${!var:-} &
	pid=$!
	pids+=("$pid")
	if ! wait "$pid"; then
		echo "benchmark $n failed" >&2
		status=1
	fi
done
exit $status
