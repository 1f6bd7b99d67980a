#!/usr/bin/env bash
# The JS API's types: tsc --strict (TypeScript pinned in js/test/package.json)
# over js/peerset.d.ts, js/testing.d.ts (peerset/testing) and a typed usage
# file, js/test/types/usage.ts, whose @ts-expect-error lines must stay
# errors. Nothing runs; it fails on a type error or on a declaration the
# usage cannot reach.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

fail() {
	echo "types-test: $*" >&2
	exit 1
}

# shellcheck source=js/test/lib/env.sh
source "$root/js/test/lib/env.sh"

ensure_node_modules
(cd js/test && node_modules/.bin/tsc -p types) || fail "js/peerset.d.ts or js/test/types/usage.ts does not type-check (above)"
echo "types-test: js/peerset.d.ts checks with tsc $(cd js/test && node_modules/.bin/tsc --version | cut -d' ' -f2) --strict"
