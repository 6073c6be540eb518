# Switchboard. `make run` starts the whole local stack; `make test` runs every test.
SHELL := bash
export PATH := $(CURDIR)/.bin:$(CURDIR)/tools/npm/node_modules/.bin:$(PATH)
export GONOSUMDB := github.com/superfly,github.com/anycable

.PHONY: run test tools generate checkgenerate lint build bench

run: tools ## Start Postgres, S3, localfly and `switchboard dev`; Ctrl-C stops it all.
	@infra/run.sh

test: tools ## Run every test against throwaway servers.
	@infra/test.sh

tools:
	@infra/tools.sh

build:
	go build -o .bin/ ./cmd/...

generate: tools ## Rebuild gen/ and the TypeScript SDK's generated code from proto/.
	rm -rf gen sdk/typescript/src/gen
	buf generate

checkgenerate: generate ## Fail when checked-in generated code is stale.
	@git diff --exit-code -- gen sdk/typescript/src/gen || { echo "generated code is stale: run make generate" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- gen sdk/typescript/src/gen)" || { git status --porcelain -- gen sdk/typescript/src/gen; echo "generated code is stale: run make generate" >&2; exit 1; }

lint: tools
	go vet ./...
	buf lint
	buf format -d --exit-code

bench: tools ## Run the benchmarks (bench/README.md); BENCH="cdn longpoll" picks some.
	@infra/bench.sh $(BENCH)
