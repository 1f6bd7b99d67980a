#!/usr/bin/env bash
# Does a second core pay for signature checks? The engine's ingest and a
# first sync beside a verification-only worker (js/test/verifybench), one
# and two at once, with Amdahl's estimate. Headless Chromium inside a
# loopback-only network namespace. Prints a markdown table (also written to
# out/verify-bench.md). Numbers are reported, never asserted.
#
#   scripts/verify-bench.sh
#   PEERSET_VERIFY_RECORDS=50000 PEERSET_BENCH_RUNS=5 scripts/verify-bench.sh
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
bin="$root/out/browser-test/bin"

fail() {
	echo "verify-bench: $*" >&2
	exit 1
}

# shellcheck source=js/test/lib/env.sh
source "$root/js/test/lib/env.sh"

ensure_chromium
ensure_namespace
ensure_node_modules
build_go_binaries "$bin"
build_wasm
mkdir -p out/verify-bench
GOOS=js GOARCH=wasm "$GO" build -trimpath -ldflags="-s -w" -o out/verify-bench/verify.wasm ./js/test/verifybench ||
	fail "could not build js/test/verifybench for js/wasm"

export PEERSET_TEST_BIN="$bin"
in_loopback_namespace node js/test/verify-bench.mjs
