# Parley: `make run` serves on 127.0.0.1:8080 against the local PostgreSQL; `make test` runs
# every test. Generators are pinned as tool lines in go.mod.

GO ?= go
ADDR ?= 127.0.0.1:8080

.PHONY: run test vet fmt-check generate check-generated build fmt

## run: the server in development mode (creates and migrates the database when missing)
run:
	$(GO) run ./cmd/parley serve --dev --addr $(ADDR)

## test: formatting and vet, then all tests with the race detector
test: fmt-check vet
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi

## generate: regenerate gen/api (oapi-codegen) and gen/db (sqlc) from the schemas
generate:
	$(GO) generate ./...

## check-generated: fail when regenerating would change gen/ (CI runs it)
check-generated: generate
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		echo "gen/ is out of date with api/ or db/: run 'make generate' and commit the result"; \
		git status --porcelain -- gen; git diff --stat -- gen; exit 1; \
	fi

build:
	$(GO) build -o bin/parley ./cmd/parley

fmt:
	gofmt -l -w $$(git ls-files '*.go' | grep -v '^gen/')
