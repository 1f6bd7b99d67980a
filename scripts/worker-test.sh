#!/usr/bin/env bash
# Tests the tracker worker (worker/) locally and offline, inside a
# loopback-only network namespace (no packet can leave the machine):
#   - the tracker protocol against the worker under `wrangler dev` and,
#     with the same checks, against pkg/tracker;
#   - worker/rules.json against pkg/tracker's limits and failure reasons;
#   - two native peers converging on their records through the worker;
#   - one browser tab (the demo page, served by the worker) converging with a
#     native `peerset join` peer through the worker (headless Chromium, via
#     the browser-test harness in js/test/lib).
#
#   scripts/worker-test.sh
#   PEERSET_WORKER_TEST_RUN='Protocol' scripts/worker-test.sh   some Go tests only
#
# Needs Go, Node.js 20+ and npm; it runs npm ci in worker/ (wrangler, pinned)
# and in js/test (playwright-core), installs Debian's chromium if missing (as
# root), builds the browser build (scripts/build-wasm.sh), cmd/peerset and
# the worker with the demo as assets (worker/build.sh --demo). It fails,
# never skips, when a tool is missing.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
test_out="$root/out/worker-test"

fail() {
	echo "worker-test: $*" >&2
	exit 1
}

command -v "$GO" >/dev/null || fail "missing Go 1.26: install it from the Go downloads page"
command -v node >/dev/null || fail "missing Node.js 20+ (wrangler runs on it): apt-get install -y nodejs npm"
command -v npm >/dev/null || fail "missing npm (it installs wrangler): apt-get install -y npm"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old for wrangler: install Node.js 20 or newer"

start=$(date +%s)
if [ ! -f worker/node_modules/.package-lock.json ] || [ worker/package-lock.json -nt worker/node_modules/.package-lock.json ]; then
	(cd worker && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in worker/ failed"
fi
[ -x worker/node_modules/.bin/wrangler ] || fail "npm ci in worker/ did not install wrangler"

# The browser case: the harness, Chromium, the browser build and the demo
# page, which the worker serves as static assets.
[ -f js/test/lib/env.sh ] && [ -f js/test/lib/harness.mjs ] ||
	fail "the browser-test harness (js/test/lib) is missing: the browser tab through the worker needs it"
[ -d examples/demo ] || fail "examples/demo is missing: the browser tab through the worker opens the demo page"
# shellcheck source=js/test/lib/env.sh
source "$root/js/test/lib/env.sh"
# in_loopback_namespace (env.sh): only loopback up, and a PID namespace of
# its own, so that every process of a run (wrangler, workerd, Chromium) dies
# with it.
ensure_namespace
ensure_chromium
ensure_node_modules
build_wasm
bin="$test_out/bin"
mkdir -p "$bin"
"$GO" build -o "$bin/peerset" ./cmd/peerset || fail "failed to build cmd/peerset"

worker/build.sh --demo || fail "worker/build.sh --demo failed"

mkdir -p "$test_out"
(cd worker && "$GO" vet ./... && GOOS=js GOARCH=wasm "$GO" vet .) || fail "go vet found problems in worker/"
(cd worker && "$GO" test -count=1 .) || fail "the Go worker's unit tests failed"
(cd worker && "$GO" test -c -o "$test_out/worker.test" ./test) || fail "failed to compile the worker tests"

run_args=(-test.v -test.timeout=150s)
if [ -n "${PEERSET_WORKER_TEST_RUN:-}" ]; then
	run_args+=(-test.run="$PEERSET_WORKER_TEST_RUN")
fi
echo "worker-test: running the Go tests in a loopback-only network namespace"
in_loopback_namespace bash -c 'cd worker/test && exec "$@"' _ "$test_out/worker.test" "${run_args[@]}" ||
	fail "the worker's Go tests failed (wrangler's output is printed above them when a worker test failed)"

echo "worker-test: running the browser tab through the worker in a loopback-only network namespace"
PEERSET_TEST_BIN="$bin" in_loopback_namespace \
	node --test --test-concurrency=1 --test-timeout=120000 worker/test/browser.test.mjs ||
	fail "the browser tab through the worker failed"
echo "worker-test: passed in $(($(date +%s) - start)) s"
