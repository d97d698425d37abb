# Parley: `make run` serves on 127.0.0.1:8080 against the local PostgreSQL; `make test` runs
# every test. Generators are pinned as tool lines in go.mod.

GO ?= go
# Node.js is for the TypeScript client and the demo page only: generate, test-ts, test-browser.
NPM ?= npm
NPM_QUIET := --no-audit --no-fund --loglevel=error
ADDR ?= 127.0.0.1:8080

# What `parley version` prints: stamped by the linker in run and build.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: run test vet fmt-check generate check-generated build bench fmt soak fuzz faults lint-spec \
	test-ts test-browser test-image

## run: the server in development mode (creates and migrates the database when missing). Built,
## then exec'd rather than go run: go run exits 1 when interrupted, whatever parley's status, so
## Ctrl-C ended in "make: *** Error 1"; parley itself exits 0 after a clean stop.
run:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/parley ./cmd/parley && exec bin/parley serve --dev --addr $(ADDR)

# How make test builds, so that no process of it (compiler, linker, vet or a test binary) needs
# more than 512 MB, on a cold build cache too. go-redis is one 57,000-line package: compiling it
# with inlining and DWARF takes 1.2 GB, and tests need neither, so it is compiled without both;
# GOMEMLIMIT makes the toolchain's own heaps collect before they grow past it. vet builds with the
# same flags as the tests, so a cold run compiles each dependency once.
TEST_BUILD_FLAGS := -race -gcflags='github.com/redis/go-redis/v9=-l -dwarf=false'
TEST_ENV := GOMEMLIMIT=400MiB

## test: formatting and vet, then all tests with the race detector
test: fmt-check vet
	$(TEST_ENV) $(GO) test $(TEST_BUILD_FLAGS) -count=1 -timeout 6m ./...

FUZZTIME ?= 30s

## fuzz: each fuzz target in turn for FUZZTIME (default 30s); crashers are saved under testdata/fuzz/
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz

## faults: the fault tests (PostgreSQL sessions terminated, Redis killed, Redis down at start, a
## node SIGKILLed, a consumer restarted with pending entries), then a table of their runs (5xx: 503s with Retry-After)
faults:
	@log=$$(mktemp); trap 'rm -f "$$log" "$$log.rc"' EXIT; \
	{ $(GO) test -race -count=1 -v -run TestFault ./server 2>&1; echo $$? >"$$log.rc"; } | tee "$$log"; \
	echo; printf 'FAULT | %-32s | %4s | %4s | %7s | %4s | %4s | %5s | %10s | %8s\n' \
		fault sent 5xx 'net err' lost dup order reconnects duration; \
	grep -o 'FAULT |.*' "$$log"; \
	exit "$$(cat "$$log.rc")"

vet:
	$(TEST_ENV) $(GO) vet $(TEST_BUILD_FLAGS) ./...

fmt-check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi

## generate: regenerate gen/api and gen/apiserver (oapi-codegen), gen/db (sqlc) and api/openapi.json
## from the schemas, then the TypeScript client's types and the demo page's built files (these two
## through npm: only generate and the test-ts/test-browser targets need Node.js)
generate:
	$(GO) generate ./...
	$(NPM) --prefix clients/ts ci $(NPM_QUIET)
	$(NPM) --prefix clients/ts run generate
	$(NPM) --prefix web/demo ci $(NPM_QUIET)
	$(NPM) --prefix web/demo run build

GENERATED := gen api/openapi.json clients/ts/src/gen web/demo/dist

## check-generated: fail when regenerating would change what is generated (CI runs it)
check-generated: generate
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "generated files are out of date with api/, db/, clients/ts or web/demo: run 'make generate' and commit the result"; \
		git status --porcelain -- $(GENERATED); git diff --stat -- $(GENERATED); exit 1; \
	fi

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/parley ./cmd/parley

# Spectral, pinned, run through npm: only this target needs Node.js, never build, run or test.
SPECTRAL ?= npx --yes @stoplight/spectral-cli@6.16.3

## lint-spec: Spectral's OpenAPI ruleset (spectral:oas) over api/openapi.yaml; fails on any error
lint-spec:
	$(SPECTRAL) lint --ruleset api/.spectral.yaml --fail-severity error api/openapi.yaml

## bench: the load tool, bin/parley-bench (see BENCHMARKS.md)
bench:
	$(GO) build -o bin/parley-bench ./cmd/parley-bench

SOAK_CONNS ?= 200
SOAK_CONVS ?= 20
SOAK_RATE ?= 50
SOAK_DURATION ?= 2m
SOAK_WARMUP ?= 15s
SOAK_INTERVAL ?= 5s
SOAK_ADDR ?= 127.0.0.1:18090
SOAK_REDIS ?= 0

## soak: a server with rate limits off on database parley_soak (SOAK_REDIS=1: with Redis), held
## under steady load; prints its RSS, goroutines, fds and outbox backlog, and whether they stay flat
soak: build bench
	SOAK_CONNS=$(SOAK_CONNS) SOAK_CONVS=$(SOAK_CONVS) SOAK_RATE=$(SOAK_RATE) \
	SOAK_DURATION=$(SOAK_DURATION) SOAK_WARMUP=$(SOAK_WARMUP) SOAK_INTERVAL=$(SOAK_INTERVAL) \
	SOAK_ADDR=$(SOAK_ADDR) SOAK_REDIS=$(SOAK_REDIS) SOAK_BIN=bin/parley SOAK_BENCH_BIN=bin/parley-bench \
	bash scripts/soak

## test-ts: the TypeScript client's tests (Node's test runner) against a Parley they start
test-ts:
	$(NPM) --prefix clients/ts ci $(NPM_QUIET)
	$(NPM) --prefix clients/ts test

## test-browser: the demo page driven in headless Chromium (/usr/bin/chromium), two users chatting
test-browser:
	$(NPM) --prefix clients/ts ci $(NPM_QUIET)
	$(NPM) --prefix web/demo ci $(NPM_QUIET)
	$(NPM) --prefix web/demo test

## test-image: the Dockerfile's final stage built from a host-built binary, run with --network
## host against the local PostgreSQL until /readyz answers, then stopped (starts dockerd if needed)
test-image:
	GO=$(GO) bash scripts/test-image

fmt:
	gofmt -l -w $$(git ls-files '*.go' | grep -v '^gen/')
