#!/usr/bin/env bash
# CPU profiles of the engine's worker in headless Chromium (js/test/profile.mjs
# says what it profiles): the wasm is built keeping Go's function names (the
# name section: linker flag -s=false), so the profile names Go functions.
# Prints the top functions by self and inclusive share; the profiles go to
# out/profile/*.cpuprofile and the tables to out/profile/summary.md.
#
#   scripts/browser-profile.sh
#   PEERSET_PROFILE_PARTS=import PEERSET_PROFILE_RECORDS=50000 scripts/browser-profile.sh
#
# The build it leaves in js/dist keeps the names (about 0.4 MB more raw);
# any other script rebuilds js/dist without them.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
bin="$root/out/browser-test/bin"

fail() {
	echo "browser-profile: $*" >&2
	exit 1
}

# shellcheck source=js/test/lib/env.sh
source "$root/js/test/lib/env.sh"

ensure_chromium
ensure_namespace
ensure_node_modules
build_go_binaries "$bin"
PEERSET_WASM_LDFLAGS="${PEERSET_WASM_LDFLAGS:-} -s=false" scripts/build-wasm.sh >/dev/null || fail "scripts/build-wasm.sh failed"

export PEERSET_TEST_BIN="$bin"
in_loopback_namespace node js/test/profile.mjs
