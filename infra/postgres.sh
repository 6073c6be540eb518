#!/usr/bin/env bash
# Starts and stops a throwaway Postgres 15 cluster for development and tests.
#
#   infra/postgres.sh start DIR   # prints a DATABASE_URL on stdout
#   infra/postgres.sh stop DIR
#
# Installs Debian's postgresql when it is missing. Postgres refuses to run as
# root, so as root the cluster belongs to the postgres OS user.
set -euo pipefail

cmd=${1:?usage: postgres.sh start|stop DIR}
dir=${2:?usage: postgres.sh start|stop DIR}
bin=/usr/lib/postgresql/15/bin

as_owner() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_postgres() {
	[ -x "$bin/postgres" ] && return
	echo "installing Debian's postgresql 15..." >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql-15 >&2
	# The package starts a cluster of its own; we never use it.
	service postgresql stop >/dev/null 2>&1 || true
}

free_port() {
	python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}

case "$cmd" in
start)
	install_postgres
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
	if [ ! -f "$dir/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
			{ cat "$dir.initdb.log" >&2; exit 1; }
	fi
	port=$(free_port)
	# Tuned for throwaway data: durability off, many connections for parallel tests.
	as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=256MB" \
		start >&2
	echo "$port" >"$dir/PORT"
	echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	;;
stop)
	[ -f "$dir/PG_VERSION" ] || exit 0
	as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >&2 || true
	;;
*)
	echo "usage: postgres.sh start|stop DIR" >&2
	exit 2
	;;
esac
