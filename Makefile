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

generate: tools ## Rebuild gen/, the TypeScript SDK's generated code and docs/api from proto/.
	rm -rf gen sdk/typescript/src/gen
	buf generate

GENERATED := gen sdk/typescript/src/gen docs/api/switchboard.openapi.yaml

checkgenerate: generate ## Fail when checked-in generated code (Go, TypeScript, the OpenAPI reference) is stale.
	@git diff --exit-code -- $(GENERATED) || { echo "generated code is stale: run make generate" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- $(GENERATED))" || { git status --porcelain -- $(GENERATED); echo "generated code is stale: run make generate" >&2; exit 1; }

lint: tools
	go vet ./...
	buf lint
	buf format -d --exit-code
	@# The public API must not break between commits of main.
	@if git rev-parse -q --verify HEAD~1 >/dev/null; then buf breaking --against '.git#ref=HEAD~1'; fi

bench: tools ## Run the benchmarks (bench/README.md); BENCH="cdn longpoll" picks some.
	@infra/bench.sh $(BENCH)
