#!/usr/bin/env bash
# Browser benchmarks (js/test/bench.mjs says what each row measures): wasm
# size (raw, gzip -9, brotli -q 11), the renderer's RSS of a tab holding N
# records, first syncs from a native peer, long main-thread tasks, the put
# loop, reopening with N records in IndexedDB, and three tabs converging.
# Headless Chromium with native peers, inside a loopback-only network
# namespace. Prints a markdown table (also written to out/browser-bench.md).
# Numbers are reported, never asserted.
#
# The RSS rows are measured beside a baseline build (commit below: the code
# before the compact index and the worker engine) in the same run: its
# browser build (wasm and JS shim), `peerset` and seed helper are built from
# a copy of that commit into out/bench-baseline/ (untracked), and its tab
# syncs from its own native peer. PEERSET_BENCH_BASELINE=none skips it.
#
#   scripts/browser-bench.sh
#   PEERSET_BENCH_RUNS=5 PEERSET_BENCH_SIZES=10000 scripts/browser-bench.sh
#   PEERSET_BENCH_PARTS=rss scripts/browser-bench.sh   # only some parts (see bench.mjs)
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

# The baseline, built from a copy of its commit exactly as speed-bench.sh
# builds its probe: its own scripts/build-wasm.sh into a dist directory
# under out/ (served by the tracker's --static like js/dist).
baseline_commit=${PEERSET_BENCH_BASELINE:-74d977c}
base="$root/out/bench-baseline"
unset PEERSET_BENCH_BASELINE_DIST PEERSET_BENCH_BASELINE_BIN
if [ "$baseline_commit" = none ]; then
	echo "browser-bench: no baseline (PEERSET_BENCH_BASELINE=none)" >&2
elif ! git cat-file -e "${baseline_commit}^{commit}" 2>/dev/null; then
	echo "browser-bench: commit ${baseline_commit} is not in this clone: measuring this build only" >&2
else
	echo "browser-bench: building the baseline ${baseline_commit}" >&2
	rm -rf "$base"
	mkdir -p "$base/src" "$base/bin"
	git archive "$baseline_commit" | tar -x -C "$base/src"
	if (cd "$base/src" && PEERSET_DIST="$base/dist" scripts/build-wasm.sh >/dev/null &&
		"$GO" build -o "$base/bin/peerset" ./cmd/peerset &&
		"$GO" build -o "$base/bin/seed" ./js/test/seed); then
		export PEERSET_BENCH_BASELINE_COMMIT="$baseline_commit"
		export PEERSET_BENCH_BASELINE_DIST="out/bench-baseline/dist" # from the repository root, as served
		export PEERSET_BENCH_BASELINE_BIN="$base/bin"
	else
		echo "browser-bench: building the baseline ${baseline_commit} failed: measuring this build only" >&2
	fi
	rm -rf "$base/src"
fi

export PEERSET_TEST_BIN="$bin"
in_loopback_namespace node js/test/bench.mjs
