#!/usr/bin/env bash
# make test: starts a throwaway Postgres (unless TEST_DATABASE_URL is set),
# runs every Go test with the race detector, and stops what it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ -z "${TEST_DATABASE_URL:-}" ]; then
	pgdir=$(mktemp -d /tmp/switchboard-test-pg.XXXXXX)
	chmod 755 "$pgdir"
	trap 'infra/postgres.sh stop "$pgdir/data"; rm -rf "$pgdir"' EXIT
	TEST_DATABASE_URL=$(infra/postgres.sh start "$pgdir/data")
fi
export TEST_DATABASE_URL

# Most e2e tests wait on other processes, so run more of them at once than
# there are cores.
go test -race -count=1 -parallel 6 -timeout 30m "$@" ./...
