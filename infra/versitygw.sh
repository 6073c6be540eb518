#!/usr/bin/env bash
# Starts and stops a throwaway S3 server (versitygw over a local directory) for
# development and tests.
#
#   infra/versitygw.sh start DIR   # prints the endpoint (http://127.0.0.1:PORT) on stdout
#   infra/versitygw.sh stop DIR
#
# Objects live under DIR/data (one directory per bucket), the log in DIR/log,
# the pid in DIR/pid. Credentials are fixed dev ones, region us-east-1:
#
#   access key  switchboard
#   secret key  switchboard-secret
#
# VERSITYGW_ACCESS_KEY / VERSITYGW_SECRET_KEY override them, VERSITYGW_PORT
# asks for a port (tests restart a server where its clients expect it), and
# VERSITYGW_WATCH_PID makes the server exit when that process does (a test
# binary that panics or is killed leaves no server behind). Works as root and
# as any other user: versitygw needs no privileges, only a writable DIR.
set -euo pipefail

cmd=${1:?usage: versitygw.sh start|stop DIR}
dir=${2:?usage: versitygw.sh start|stop DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
access=${VERSITYGW_ACCESS_KEY:-switchboard}
secret=${VERSITYGW_SECRET_KEY:-switchboard-secret}

free_port() {
	python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}

# answers reports whether anything speaks HTTP on the port (an unsigned
# request gets a 403, which is enough).
answers() {
	if command -v curl >/dev/null; then
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# watch kills server pid $2 once process $1 is gone.
watch() {
	while kill -0 "$1" 2>/dev/null; do
		kill -0 "$2" 2>/dev/null || return 0
		sleep 1
	done
	kill "$2" 2>/dev/null || true
}

stop() {
	[ -f "$dir/pid" ] || return 0
	local pid
	pid=$(cat "$dir/pid")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 10); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/pid"
}

case "$cmd" in
start)
	bin="$root/.bin/versitygw"
	if [ ! -x "$bin" ]; then
		"$root/infra/tools.sh" >&2
	fi
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	stop
	detach=nohup
	if command -v setsid >/dev/null; then detach=setsid; fi
	# A free port can be taken between choosing and binding it (parallel test
	# binaries): retry with another.
	for attempt in 1 2 3 4 5; do
		if [ "$attempt" = 1 ] && [ -n "${VERSITYGW_PORT:-}" ]; then
			port=$VERSITYGW_PORT
		else
			port=$(free_port)
		fi
		# Detached, with its own fds: the server outlives this script and does
		# not hold the caller's stdout open (callers read it to EOF).
		$detach "$bin" --quiet --access "$access" --secret "$secret" --region us-east-1 \
			--port "127.0.0.1:$port" posix "$dir/data" \
			</dev/null >"$dir/log" 2>&1 &
		pid=$!
		echo "$pid" >"$dir/pid"
		for _ in $(seq 100); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if answers "$port"; then
				if [ -n "${VERSITYGW_WATCH_PID:-}" ]; then
					watch "$VERSITYGW_WATCH_PID" "$pid" </dev/null >/dev/null 2>&1 &
				fi
				echo "$port" >"$dir/PORT"
				echo "http://127.0.0.1:$port"
				exit 0
			fi
			sleep 0.05
		done
		echo "versitygw attempt $attempt on port $port failed:" >&2
		tail -5 "$dir/log" >&2 || true
		stop
	done
	exit 1
	;;
stop)
	[ -d "$dir" ] || exit 0
	dir=$(cd "$dir" && pwd)
	stop
	;;
*)
	echo "usage: versitygw.sh start|stop DIR" >&2
	exit 2
	;;
esac
