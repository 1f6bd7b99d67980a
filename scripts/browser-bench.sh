#!/usr/bin/env bash
# Browser benchmarks: wasm size (raw, gzip -9, brotli -q 11), opening a tab
# with 10k and 50k records in IndexedDB, long main-thread tasks during a 10k
# sync, and three tabs × 1k records converging. Headless Chromium with
# native peers, inside a loopback-only network namespace. Prints a markdown
# table (also written to out/browser-bench.md). Numbers are reported, never
# asserted.
#
#   scripts/browser-bench.sh
#   PEERSET_BENCH_RUNS=5 PEERSET_BENCH_SIZES=10000 scripts/browser-bench.sh
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
bin="$root/out/browser-test/bin"

fail() {
	echo "browser-bench: $*" >&2
	exit 1
}

# shellcheck source=js/test/lib/env.sh
source "$root/js/test/lib/env.sh"

ensure_chromium
command -v brotli >/dev/null || apt_install brotli
command -v gzip >/dev/null || apt_install gzip
ensure_namespace
ensure_node_modules
build_go_binaries "$bin"
build_wasm

export PEERSET_TEST_BIN="$bin"
in_loopback_namespace node js/test/bench.mjs
