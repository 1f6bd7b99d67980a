# peerset: `make test` runs every test, `make bench` prints the benchmark tables.
# Needs Go (the version in go.mod or newer 1.26.x) and Node.js 20+ with npm.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
GOROOT := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
WASM_ENV := GOOS=js GOARCH=wasm
BIN := bin
NODE_INTEROP := interop/node
BENCHTIME ?= 1s
# The release, one for the Go module and the npm package: the VERSION file,
# written into the Go build here and into the JS shim by scripts/build-wasm.sh
VERSION := $(shell cat VERSION)
GO_LDFLAGS := -X github.com/peersetdb/peerset/pkg/peerset.version=$(VERSION)
# staticcheck, pinned; make installs it from the Go module proxy into out/tools
STATICCHECK_VERSION := v0.8.2
STATICCHECK := out/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck

.PHONY: test check-tools vet fmt-check staticcheck test-native test-wasm test-types test-pack test-interop test-nostr-relay-interop test-nostr-tools bench bench-go bench-wasm bench-recon bench-records bench-sync bench-hostile bench-memory bench-speed bench-idb bench-verify bench-seed test-browser-go test-worker worker-dev test-browser bench-browser build clean demo wasm wasm-size

## test: vet, native tests, js/wasm tests under Node and in headless Chromium, interop checks
test: check-tools vet test-native test-wasm test-types test-pack test-browser-go test-interop test-worker test-browser
	@echo "make test: all suites passed"

check-tools:
	@command -v $(GO) >/dev/null || { echo "make test needs Go 1.26: install it from the Go downloads page"; exit 1; }
	@command -v node >/dev/null || { echo "make test needs Node.js 20+ and npm: apt-get install nodejs npm"; exit 1; }
	@command -v npm >/dev/null || { echo "make test needs npm: apt-get install npm"; exit 1; }
	@test -x "$(WASM_EXEC)" || { echo "missing $(WASM_EXEC): a Go toolchain >= 1.24 ships it"; exit 1; }

## vet: gofmt, go vet and staticcheck, natively and for js/wasm
vet: fmt-check
	$(GO) vet ./...
	$(WASM_ENV) $(GO) vet ./...
	$(WASM_ENV) $(GO) vet -tags browser ./pkg/store/idb
	cd interop && $(GO) vet ./... && $(GO) vet -tags nostrinterop ./...
	$(MAKE) --no-print-directory staticcheck

fmt-check:
	@files=$$(gofmt -l $$(find . -name '*.go' -not -path '*/node_modules/*' -not -path './out/*')); \
	if [ -n "$$files" ]; then echo "these Go files need gofmt -w:"; echo "$$files"; exit 1; fi

# One run over the three builds (native, js/wasm, js/wasm with the browser
# tag): a name is reported unused only if no build uses it.
staticcheck: $(STATICCHECK)
	printf 'native:\njs: GOOS=js GOARCH=wasm\nbrowser: GOOS=js GOARCH=wasm -tags=browser\n' | $(STATICCHECK) -matrix ./...

$(STATICCHECK):
	GOBIN=$(abspath $(dir $(STATICCHECK))) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

test-native:
	$(GO) test ./...

# Under js/wasm a test that spins is killed after its timeout with no stack:
# internal/testreport reads the -json stream and names the tests still running.
test-wasm:
	@mkdir -p out
	$(WASM_ENV) $(GO) test -exec="$(WASM_EXEC)" -json ./... > out/test-wasm.jsonl; status=$$?; \
		$(GO) run ./internal/testreport < out/test-wasm.jsonl || status=1; exit $$status

# Go tests of browser-only packages (IndexedDB) in headless Chromium, inside a
# loopback-only network namespace; installs Debian's chromium when missing.
test-browser-go:
	scripts/browser-go-test.sh

test-interop: test-nostr-tools test-nostr-relay-interop
	cd interop && $(GO) test ./...

$(NODE_INTEROP)/node_modules/.package-lock.json: $(NODE_INTEROP)/package.json $(NODE_INTEROP)/package-lock.json
	cd $(NODE_INTEROP) && npm ci --no-audit --no-fund

## test-nostr-relay-interop: a real Trystero Nostr-strategy peer (Node) meets pkg/nostrsignal, then a
## native relay-only room, through pkg/nostrrelay on loopback, down to messages (part of test-interop)
test-nostr-relay-interop: $(NODE_INTEROP)/node_modules/.package-lock.json
	cd interop && $(GO) test -tags nostrinterop -run TestTrysteroNostr -count=1 .

test-nostr-tools: $(NODE_INTEROP)/node_modules/.package-lock.json build
	cd $(NODE_INTEROP) && PEERSET_BIN="$(CURDIR)/$(BIN)/peerset" node --test nostr-interop.test.mjs

build:
	$(GO) build -ldflags '$(GO_LDFLAGS)' -o $(BIN)/peerset ./cmd/peerset

## bench: every benchmark table (see README for the numbers)
bench: bench-go bench-wasm bench-recon bench-records bench-sync bench-hostile bench-memory bench-speed bench-idb bench-browser bench-verify bench-seed

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./pkg/...

bench-wasm:
	$(WASM_ENV) $(GO) test -exec="$(WASM_EXEC)" -run '^$$' -bench . -benchtime $(BENCHTIME) ./pkg/merkle ./pkg/record
	$(WASM_ENV) $(GO) test -exec="$(WASM_EXEC)" -run '^$$' -bench 'Memory' -benchtime 2x ./pkg/moderation ./pkg/peerset

bench-recon:
	cd interop && $(GO) run ./cmd/reconbench

bench-idb:
	scripts/browser-go-test.sh -run '^$$' -bench . -benchtime $(BENCHTIME) ./pkg/store/idb

bench-sync:
	$(GO) run ./cmd/syncbench

## bench-memory: RSS of `peerset join` holding 1M records and the heap per record, beside the build
## before the compact index (MEMBENCH_RECORDS=N to change the size)
bench-memory:
	scripts/memory-bench.sh

## bench-seed: a native seeder (`peerset join` on bbolt, 1M signed records) serving 100 simulated peers over
## pion while a fresh peer does a full sync: RSS, CPU, time, bytes, beside a raw pion data channel (markdown
## table, also out/seed-bench.md; SEEDBENCH_ARGS="-n 20000 -peers 10" to change; the room's file is kept in out/)
bench-seed: build
	$(GO) run ./cmd/seedbench -peerset $(BIN)/peerset $(SEEDBENCH_ARGS)

## bench-speed: ingest of a first sync, "Query newest 50" warm and after a reopen, and the reopen,
## beside the build before the compact index (SPEEDBENCH_RECORDS=N, SPEEDBENCH_ROUNDS=N)
bench-speed:
	scripts/speed-bench.sh

# two honest peers converging while one attacker process runs each attack of
# the security review in turn (about 3 minutes)
bench-hostile:
	$(GO) run ./cmd/hostilebench

bench-records: $(NODE_INTEROP)/node_modules/.package-lock.json
	BENCHTIME=$(BENCHTIME) node $(NODE_INTEROP)/bench-records.mjs

## wasm: the browser build into js/dist/ (peerset.wasm, wasm_exec.js, peerset.js, peerset.global.js, peerset.d.ts)
wasm:
	scripts/build-wasm.sh

## wasm-size: the size of peerset.wasm (raw, gzip -9, brotli -q 11) and what it
## is made of: its code by package, its data, the largest data symbols (about a minute)
wasm-size: wasm
	@command -v brotli >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq brotli >/dev/null; else echo "make wasm-size needs brotli: sudo apt-get install brotli"; exit 1; fi; }
	$(GO) run ./cmd/wasm/internal/wasmsize -wasm js/dist/peerset.wasm -gcflags "$$(scripts/build-wasm.sh --print-gcflags)"

## demo: the main job: build the wasm, serve the demo page and a tracker on
## http://127.0.0.1:8000/examples/demo/ — open it in several tabs; Ctrl-C stops everything
demo:
	scripts/demo.sh

## test-types: tsc --strict over js/peerset.d.ts and a typed usage file (js/test/types)
test-types:
	scripts/types-test.sh

## test-pack: the npm package as it would be published: npm pack --dry-run lists exactly the
## intended files, one version in VERSION, js/package.json, the built shim and `peerset version`
test-pack: build wasm
	PEERSET_BIN="$(CURDIR)/$(BIN)/peerset" node --test js/test/package-contents.mjs

## test-browser: the demo page, the JS API and native peers in headless Chromium (loopback-only namespace)
test-browser:
	scripts/browser-test.sh

## bench-verify: would a pool of workers checking signatures on the second core pay? the engine's
## ingest and a first sync beside one and two verification-only workers, and Amdahl's estimate
## (markdown table, also out/verify-bench.md; PEERSET_VERIFY_RECORDS=N, PEERSET_BENCH_RUNS=N)
bench-verify:
	scripts/verify-bench.sh

## bench-browser: browser benchmarks (markdown table on stdout, also out/browser-bench.md)
bench-browser:
	scripts/browser-bench.sh

## test-worker: the Cloudflare Workers tracker under wrangler dev, offline (worker/README.md)
test-worker:
	scripts/worker-test.sh

## worker-dev: run the Workers tracker locally (wrangler dev on 127.0.0.1:8787; PEERSET_WORKER_PORT=N to move it)
worker-dev:
	scripts/worker-dev.sh

clean:
	rm -rf $(BIN) $(NODE_INTEROP)/node_modules out/browser-test js/test/node_modules worker/build worker/node_modules worker/.wrangler
