#!/usr/bin/env bash
# Installs the pinned tools into .bin/ and tools/npm/node_modules: protoc-gen-go,
# protoc-gen-connect-go and versitygw from tools/go.mod; buf and protoc-gen-es
# from tools/npm/package-lock.json. Idempotent and quick when up to date.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .bin
stamp=.bin/.tools-stamp
want=$(cat tools/go.mod tools/go.sum tools/npm/package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .bin/versitygw ] && [ -x tools/npm/node_modules/.bin/buf ]; then
	exit 0
fi
echo "installing pinned tools..." >&2
(cd tools && GOBIN="$root/.bin" GOFLAGS=-mod=mod go install tool)
(cd tools/npm && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$want" >"$stamp"
