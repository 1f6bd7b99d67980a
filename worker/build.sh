#!/usr/bin/env bash
# Builds the worker into build/ (run from anywhere; wrangler runs it too):
#   build/app.wasm, build/worker.mjs, ...  the Go worker (GOOS=js GOARCH=wasm)
#   build/assets/                         static files served by the platform
#
#   ./build.sh                  no static files
#   ./build.sh --demo           the demo page (examples/demo/ and js/dist/,
#                               under the same paths as in the repository)
#   ./build.sh --assets DIR     the files under DIR
#
# It prints the sizes: the free plan takes a worker of at most 3 MB
# compressed (gzip), the paid plan 10 MB.
set -euo pipefail

cd "$(dirname "$0")"
GO=${GO:-go}

fail() {
	echo "worker build: $*" >&2
	exit 1
}

assets_from=""
demo=false
while [ $# -gt 0 ]; do
	case "$1" in
	--demo) demo=true ;;
	--assets)
		[ $# -ge 2 ] || fail "--assets needs a directory"
		assets_from=$2
		shift
		;;
	*) fail "unknown argument $1 (use --demo or --assets DIR)" ;;
	esac
	shift
done
if [ -n "$assets_from" ]; then
	[ -d "$assets_from" ] || fail "--assets $assets_from is not a directory"
	assets_from=$(cd "$assets_from" && pwd)
fi

command -v "$GO" >/dev/null || fail "missing Go 1.26: install it from the Go downloads page"

# workers-assets-gen empties build/ and writes the JS glue for a Go
# (not TinyGo) wasm binary.
"$GO" run github.com/syumai/workers/cmd/workers-assets-gen -mode=go -o build ||
	fail "workers-assets-gen failed"
GOOS=js GOARCH=wasm "$GO" build -trimpath -ldflags='-s -w' -o build/app.wasm . ||
	fail "go build for js/wasm failed"

mkdir -p build/assets
if [ -n "$assets_from" ]; then
	cp -R "$assets_from"/. build/assets/
fi
if $demo; then
	for dir in examples/demo js/dist; do
		[ -d "../$dir" ] || fail "--demo needs ../$dir: build the wasm first (scripts/build-wasm.sh)"
		mkdir -p "build/assets/$dir"
		cp -R "../$dir"/. "build/assets/$dir/"
	done
fi

raw=$(wc -c <build/app.wasm)
gz=$(gzip -9 -c build/app.wasm | wc -c)
echo "worker build: build/app.wasm is $raw bytes, $gz gzip -9 (free plan limit: 3 MB compressed for the whole worker)"
