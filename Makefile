# tracker-exporter — build, test, demo, bench.
SHELL := /bin/bash
GO ?= go
BIN := bin
export PATH := $(PATH):/usr/local/go/bin:$(shell $(GO) env GOPATH 2>/dev/null)/bin


.PHONY: all build test test-only test-unit vet fuzz-short run demo bench services services-stop clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

# The test command of the README: starts the private services when they
# are not running (installing them from Debian when missing), then vet,
# unit, integration and end-to-end tests, then a short run of every fuzzer.
# With CI=true a missing service fails a test instead of skipping it.
test: build
	scripts/services.sh start
	eval "$$(scripts/services.sh env)" && $(MAKE) --no-print-directory test-only

test-only: vet
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz-short

# The unit tests only: no service, no installed program, no binary built,
# no process started (pkg/testenv skips the rest under -short, in CI too).
# With a warm build cache the packages' times add up to some 13 s on two
# cores shared with other work; linking the test binaries takes longer.
test-unit:
	$(GO) test -short -count=1 ./...

# Every fuzzer runs a fixed number of inputs, not a fixed time: with a
# duration, Go 1.26's fuzzing coordinator can fail a clean run with
# "context deadline exceeded" as the time runs out (go.dev/issue/75804,
# fixed in Go 1.27), and a new interesting input is minimised for up to
# 60 s by default, which ate most of a 10-s run on long JSON inputs. A
# failing run prints its whole output and stops the target.
FUZZTIME ?= 60000x
FUZZMINIMIZETIME ?= 100x
fuzz-short:
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg >$$log 2>&1 || { cat $$log; exit 1; }; \
	  done; \
	done

services:
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

# The main job end to end, once: with EXPORTER_TRACKER__TOKEN (or
# __IAM_TOKEN) set it exports from Tracker into ClickHouse
# (EXPORTER_CLICKHOUSE__*, default the private instance below); without a
# token it is the demo against the built-in Tracker emulator.
run: build services
	@if [ -n "$${EXPORTER_TRACKER__TOKEN}$${EXPORTER_TRACKER__IAM_TOKEN}" ]; then \
	  eval "$$(scripts/services.sh env)"; \
	  EXPORTER_CLICKHOUSE__HOST=$${EXPORTER_CLICKHOUSE__HOST:-127.0.0.1} EXPORTER_CLICKHOUSE__PORT=$${EXPORTER_CLICKHOUSE__PORT:-19000} \
	  EXPORTER_CLICKHOUSE__PROTO=$${EXPORTER_CLICKHOUSE__PROTO:-native} EXPORTER_CLICKHOUSE__MIGRATE_ON_START=true \
	  $(BIN)/tracker-exporter --run-once; \
	else $(MAKE) --no-print-directory demo-only; fi

# The demo: a private ClickHouse, the built-in Tracker emulator, one run of
# the whole pipeline (the --run-once code path), and a report of what landed.
demo: build services demo-only

demo-only:
	eval "$$(scripts/services.sh env)"; $(BIN)/tracker-exporter demo --issues $${DEMO_ISSUES:-2000}

# Benchmarks: figures printed with b.ReportMetric, no timed assertions
# (bench/README.md says what each prints). The end-to-end ones run once
# (-benchtime 1x); the replay into ClickHouse needs TEST_CLICKHOUSE_ADDR
# (`eval "$$(scripts/services.sh env)"`) and is skipped without it.
bench:
	@test -n "$$TEST_CLICKHOUSE_ADDR" || echo 'bench: TEST_CLICKHOUSE_ADDR is not set: BenchmarkReplay is skipped (eval "$$(scripts/services.sh env)")'
	@mkdir -p $(BIN)
	set -o pipefail; { $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/ \
		&& $(GO) test -run '^$$' -bench '^BenchmarkTransform(Throughput|Message)$$' -timeout 10m ./internal/transformer/ \
		&& $(GO) test -run '^$$' -bench '^BenchmarkCompute' ./pkg/flow/; } 2>&1 | tee $(BIN)/bench.txt; \
		rc=$$?; $(GO) run ./bench/targets $(BIN)/bench.txt $(wildcard $(BIN)/bench-large.txt); exit $$rc

# The 100 000-issue variants (extractor RSS, replay): about 27 minutes.
# The summary of targets also reads the last `make bench` output.
.PHONY: bench-large
bench-large:
	@mkdir -p $(BIN)
	set -o pipefail; BENCH_LARGE=1 $(GO) test -run '^$$' -bench 'Large$$' -benchtime 1x -timeout 90m ./bench/ 2>&1 | tee $(BIN)/bench-large.txt; \
		rc=$$?; $(GO) run ./bench/targets $(wildcard $(BIN)/bench.txt) $(BIN)/bench-large.txt; exit $$rc

clean:
	rm -rf $(BIN)
