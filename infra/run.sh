#!/usr/bin/env bash
# make run: starts the local stack with embedded defaults and stops all of it
# on Ctrl-C. Data lives under .data/. DATABASE_URL overrides the embedded Postgres.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .data
chmod 755 .data

pids=()
cleanup() {
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	[ -n "${own_s3:-}" ] && infra/versitygw.sh stop "$root/.data/s3"
	[ -n "${own_pg:-}" ] && infra/postgres.sh stop "$root/.data/postgres"
	echo "stopped." >&2
}
trap cleanup EXIT INT TERM

if [ -z "${DATABASE_URL:-}" ]; then
	echo "starting Postgres in .data/postgres..." >&2
	DATABASE_URL=$(infra/postgres.sh start "$root/.data/postgres")
	own_pg=1
fi
export DATABASE_URL

if [ -z "${S3_ENDPOINT:-}" ]; then
	echo "starting versitygw (S3) in .data/s3..." >&2
	S3_ENDPOINT=$(infra/versitygw.sh start "$root/.data/s3")
	own_s3=1
	export S3_ACCESS_KEY_ID=switchboard S3_SECRET_ACCESS_KEY=switchboard-secret S3_REGION=us-east-1
fi
export S3_ENDPOINT

go build -o .bin/ ./cmd/...
export FLY_API_TOKEN=${FLY_API_TOKEN:-localfly}
if [ -z "${FLY_FLAPS_BASE_URL:-}" ]; then
	.bin/localfly --addr 127.0.0.1:4280 --token "$FLY_API_TOKEN" --data-dir "$root/.data/machines" \
		--image switchboard/breaker="$root/.bin/breaker" --image switchboard/realtime="$root/.bin/realtime" &
	pids+=($!)
	export FLY_FLAPS_BASE_URL=http://127.0.0.1:4280 LOCALFLY=1
fi
.bin/switchboard dev &
pids+=($!)
wait -n "${pids[@]}"
