#!/usr/bin/env bash
# Builds the browser build into js/dist/ (or $PEERSET_DIST): peerset.wasm,
# peerset.worker.js (Go's wasm_exec.js, from the toolchain that built the
# wasm, followed by js/engine.js: the engine's worker script), peerset.js,
# peerset.global.js, peerset.d.ts, wasm_exec.js, the test hooks testing.js
# and testing.d.ts (`peerset/testing`), LICENSE and THIRD_PARTY_NOTICES.md
# (the licences of Go's wasm_exec.js and of the Go code compiled into the
# wasm: cmd/wasm/internal/notices). Everything a page needs; serve the
# directory as is (peerset.wasm as application/wasm for streaming
# compilation).
#
# The version is the repository's VERSION file: written into peerset.js and
# peerset.global.js (their 'dev' placeholder) and into the Go build
# (-X .../pkg/peerset.version); js/package.json must carry the same one.
#
# After linking, cmd/wasm/internal/striptable drops secp256k1's embedded
# base-point table from the wasm (the engine computes it at run time:
# cmd/wasm/internal/basepoints). It prints the wasm's size raw and gzip -9;
# PEERSET_WASM_BROTLI=1 adds brotli -q 11 (slow: about 15 s). `make
# wasm-size` prints the whole table. PEERSET_WASM_LDFLAGS adds linker flags
# (experiments, e.g. "-X main.gcPercent=25": the engine's GC target).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
go="${GO:-go}"
dist="${PEERSET_DIST:-js/dist}"

command -v "$go" >/dev/null || { echo "build-wasm: Go is needed (the version in go.mod): install it from the Go downloads page" >&2; exit 1; }
goroot="$("$go" env GOROOT)"
wasm_exec="$goroot/lib/wasm/wasm_exec.js"
[ -f "$wasm_exec" ] || { echo "build-wasm: $wasm_exec is missing: Go 1.24 or newer ships it" >&2; exit 1; }

# Inlining: the compiler's inlining copies small functions into every
# caller, which costs about 0.2 MB of peerset.wasm after brotli. The
# release build keeps it where a first sync and a put spend their time (the
# Go runtime, secp256k1 and SHA-256 for signature checks, records, the tree,
# moderation, sessions, IndexedDB, the facade, JSON, strconv, UTF-8,
# syscall/js) and compiles the rest with -l (fmt, slog, time, reflect, the
# swarm's signalling, ...). `make wasm-size` has the sizes, README
# "Inlining on the hot paths only" the speed of both builds.
# PEERSET_WASM_INLINE=all inlines everywhere, as go build does by default. `scripts/build-wasm.sh --print-gcflags` prints the flags (for
# `make wasm-size`) and exits.
gcflags=()
if [ "${PEERSET_WASM_INLINE:-}" != all ]; then
	gcflags=(-gcflags=all=-l)
	# A package built with -l also exports no inline bodies, so its small
	# helpers (encoding/binary's byte order, math/bits, sync/atomic) would
	# not be inlined into these either: they keep the default too.
	for p in runtime 'internal/...' sync sync/atomic syscall/js bytes strings strconv unicode/utf8 encoding/json \
		encoding/binary math math/bits crypto/sha256 'crypto/internal/fips140/sha256' 'crypto/internal/fips140deps/...' \
		'github.com/decred/dcrd/dcrec/secp256k1/v4/...' 'github.com/btcsuite/btcd/btcec/v2/...' github.com/btcsuite/btcd/chaincfg/chainhash \
		github.com/peersetdb/peerset/cmd/wasm github.com/peersetdb/peerset/pkg/peerset github.com/peersetdb/peerset/pkg/record \
		github.com/peersetdb/peerset/pkg/merkle github.com/peersetdb/peerset/pkg/moderation github.com/peersetdb/peerset/pkg/wire \
		github.com/peersetdb/peerset/pkg/swarm/session github.com/peersetdb/peerset/pkg/store/idb; do
		gcflags+=("-gcflags=$p=") # later patterns win: these keep the default
	done
fi
if [ "${1:-}" = --print-gcflags ]; then
	echo "${gcflags[*]}"
	exit 0
fi

version="$(tr -d '[:space:]' <VERSION)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "build-wasm: VERSION holds '$version': want one semantic version such as 0.1.0" >&2; exit 1; }
pkg_version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' js/package.json)"
[ "$pkg_version" = "$version" ] || { echo "build-wasm: js/package.json has version '$pkg_version' but VERSION has '$version': set \"version\": \"$version\" in js/package.json (and the tarball name in examples/*/package.json)" >&2; exit 1; }

mkdir -p "$dist"
GOOS=js GOARCH=wasm "$go" build -trimpath "${gcflags[@]}" -ldflags="-s -w -X github.com/peersetdb/peerset/pkg/peerset.version=$version ${PEERSET_WASM_LDFLAGS:-}" -o "$dist/peerset.wasm.tmp" ./cmd/wasm
GOOS= GOARCH= "$go" run ./cmd/wasm/internal/striptable -in "$dist/peerset.wasm.tmp" -out "$dist/peerset.wasm.tmp" ||
	{ echo "build-wasm: cmd/wasm/internal/striptable failed (above)" >&2; rm -f "$dist/peerset.wasm.tmp"; exit 1; }
mv "$dist/peerset.wasm.tmp" "$dist/peerset.wasm"
cp "$wasm_exec" "$dist/wasm_exec.js"
{
	echo "// peerset's engine worker: Go's wasm_exec.js ($("$go" env GOVERSION)), then js/engine.js."
	cat "$wasm_exec"
	echo
	cat js/engine.js
} >"$dist/peerset.worker.js.tmp"
mv "$dist/peerset.worker.js.tmp" "$dist/peerset.worker.js"
# The shim with the version written in (its 'dev' placeholder must be
# there: a build never ships 'dev').
placeholder() {
	local f=$1 pattern=$2
	grep -q "$pattern" "js/$f" || { echo "build-wasm: js/$f lost its version placeholder (a line matching $pattern): put it back" >&2; exit 1; }
	local line=${pattern#^}
	sed "s/$pattern.*/${line/\'dev\'/\'$version\'}/" "js/$f" >"$dist/$f.tmp"
	mv "$dist/$f.tmp" "$dist/$f"
}
placeholder peerset.js "^const VERSION = 'dev';"
placeholder peerset.global.js "^    version: 'dev',"
cp js/peerset.d.ts js/testing.js js/testing.d.ts "$dist/"
cp LICENSE CHANGELOG.md "$dist/"
GOOS= GOARCH= "$go" run ./cmd/wasm/internal/notices -go "$go" -pkg ./cmd/wasm -out "$dist/THIRD_PARTY_NOTICES.md" ||
	{ echo "build-wasm: cmd/wasm/internal/notices failed (above)" >&2; exit 1; }

raw=$(wc -c <"$dist/peerset.wasm")
gz=$(gzip -9 -c "$dist/peerset.wasm" | wc -c)
sizes="raw $raw B, gzip -9 $gz B"
if [ -n "${PEERSET_WASM_BROTLI:-}" ] && command -v brotli >/dev/null; then
	sizes="$sizes, brotli -q 11 $(brotli -q 11 -c "$dist/peerset.wasm" | wc -c) B"
fi
echo "build-wasm: $dist/peerset.wasm ($sizes)"
