# tracker-exporter — build, test, demo, bench.
SHELL := /bin/bash
GO ?= go
BIN := bin
export PATH := $(PATH):/usr/local/go/bin:$(shell $(GO) env GOPATH 2>/dev/null)/bin

.PHONY: all build test unit vet fuzz-short demo bench bench-extract services services-stop clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

# The test command of the README: vet, unit, integration and end-to-end
# tests, then a short run of every fuzzer. Integration tests read the
# TEST_* variables of scripts/services.sh (`eval "$$(scripts/services.sh env)"`);
# with CI=true a missing service fails instead of skipping.
test: vet
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz-short

FUZZTIME ?= 10s
fuzz-short:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg >/dev/null || { $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; exit 1; }; \
	  done; \
	done

services:
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

# The demo: a private ClickHouse, the built-in Tracker emulator, one
# run of the whole pipeline, and a report of what landed.
demo: build services
	eval "$$(scripts/services.sh env)"; $(BIN)/tracker-exporter demo --issues $${DEMO_ISSUES:-2000}

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/...

clean:
	rm -rf $(BIN)
