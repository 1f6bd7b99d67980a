#!/usr/bin/env bash
# Builds the browser build into js/dist/ (or $PEERSET_DIST): peerset.wasm,
# wasm_exec.js (from the Go toolchain, matching the compiler), peerset.js,
# peerset.global.js and peerset.d.ts. Everything a page needs; serve the
# directory as is (peerset.wasm as application/wasm for streaming compilation).
# It prints the wasm's size raw and gzip -9; PEERSET_WASM_BROTLI=1 adds
# brotli -q 11 (slow: about 15 s).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
go="${GO:-go}"
dist="${PEERSET_DIST:-js/dist}"

command -v "$go" >/dev/null || { echo "build-wasm: Go is needed (the version in go.mod): install it from the Go downloads page" >&2; exit 1; }
goroot="$("$go" env GOROOT)"
wasm_exec="$goroot/lib/wasm/wasm_exec.js"
[ -f "$wasm_exec" ] || { echo "build-wasm: $wasm_exec is missing: Go 1.24 or newer ships it" >&2; exit 1; }

mkdir -p "$dist"
GOOS=js GOARCH=wasm "$go" build -trimpath -ldflags="-s -w" -o "$dist/peerset.wasm.tmp" ./cmd/wasm
mv "$dist/peerset.wasm.tmp" "$dist/peerset.wasm"
cp "$wasm_exec" "$dist/wasm_exec.js"
cp js/peerset.js js/peerset.global.js js/peerset.d.ts "$dist/"

raw=$(wc -c <"$dist/peerset.wasm")
gz=$(gzip -9 -c "$dist/peerset.wasm" | wc -c)
sizes="raw $raw B, gzip -9 $gz B"
if [ -n "${PEERSET_WASM_BROTLI:-}" ] && command -v brotli >/dev/null; then
	sizes="$sizes, brotli -q 11 $(brotli -q 11 -c "$dist/peerset.wasm" | wc -c) B"
fi
echo "build-wasm: $dist/peerset.wasm ($sizes)"
