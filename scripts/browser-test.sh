#!/usr/bin/env bash
# The browser test suite: the demo page and the JS API in headless Chromium,
# with native peers, all inside a loopback-only network namespace (no packet
# can leave the machine; no public tracker or STUN server is ever reached).
#
#   scripts/browser-test.sh                      every js/test/*.test.mjs
#   scripts/browser-test.sh js/test/x.test.mjs   some files only
#   PEERSET_TEST_NAME='regexp' scripts/browser-test.sh   matching tests only
#
# It installs Debian's chromium if it is missing (as root), installs the
# pinned playwright-core (npm ci in js/test), builds cmd/tracker, cmd/peerset
# and the helpers in js/test into out/browser-test/bin, builds the wasm
# (scripts/build-wasm.sh), then runs `node --test` in the namespace.
# Screenshots go to out/screenshots/.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
bin="$root/out/browser-test/bin"

fail() {
	echo "browser-test: $*" >&2
	exit 1
}

# shellcheck source=js/test/lib/env.sh
source "$root/js/test/lib/env.sh"

ensure_chromium
ensure_namespace
ensure_node_modules
build_go_binaries "$bin"
build_wasm

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
	files=(js/test/*.test.mjs)
fi
# The framework examples are installed at test time, inside the namespace,
# from npm's cache: fill it here, while the registry is reachable.
if printf '%s\n' "${files[@]}" | grep -q 'frameworks\.test\.mjs'; then
	node js/test/lib/frameworks.mjs warm || fail "could not fill npm's cache for examples/react and examples/svelte (is the npm registry reachable?)"
fi
args=(--test --test-concurrency=1 --test-timeout=300000)
if [ -n "${PEERSET_TEST_NAME:-}" ]; then
	args+=(--test-name-pattern="$PEERSET_TEST_NAME")
fi

echo "browser-test: running ${files[*]} in a loopback-only network namespace"
export PEERSET_TEST_BIN="$bin"
in_loopback_namespace node "${args[@]}" "${files[@]}"
