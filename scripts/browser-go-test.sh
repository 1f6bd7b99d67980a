#!/usr/bin/env bash
# browser-go-test.sh runs the Go tests of browser-only packages
# (GOOS=js GOARCH=wasm) in a real headless Chromium through wasmbrowsertest,
# inside a network namespace that has only the loopback interface, so that
# nothing the browser does can leave the machine.
#
# Usage: scripts/browser-go-test.sh [go test flags...] [packages...]
#   Arguments starting with "-" are passed to go test; the others are
#   packages. Without packages it tests ./pkg/store/idb.
#   Examples:
#     scripts/browser-go-test.sh
#     scripts/browser-go-test.sh -run Persistence ./pkg/store/idb
#     scripts/browser-go-test.sh -run '^$' -bench . ./pkg/store/idb
#
# Needs: Go, root (for unshare -n and, once, apt-get install chromium) or a
# preinstalled /usr/bin/chromium plus unshare rights. Browser tests are built
# with the "browser" tag so that the Node run of `make test` leaves them out.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD

readonly wasmbrowsertest_version=v0.11.0
readonly chromium=/usr/bin/chromium
readonly default_packages=(./pkg/store/idb)

go_flags=()
packages=()
for arg in "$@"; do
	case $arg in
	-*) go_flags+=("$arg") ;;
	*)
		# A flag's value ("-run X") must stay next to its flag.
		if [[ ${#go_flags[@]} -gt 0 && ${go_flags[-1]} =~ ^-(run|bench|benchtime|count|timeout|skip|tags|cpu|parallel)$ ]]; then
			go_flags+=("$arg")
		else
			packages+=("$arg")
		fi
		;;
	esac
done
if [[ ${#packages[@]} -eq 0 ]]; then
	packages=("${default_packages[@]}")
fi

command -v go >/dev/null || { echo "browser-go-test: needs Go 1.26: install it from the Go downloads page" >&2; exit 1; }

if [[ ! -x $chromium ]]; then
	if [[ $(id -u) -eq 0 ]]; then
		echo "browser-go-test: installing Debian's chromium (apt-get install chromium)" >&2
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
	else
		echo "browser-go-test: $chromium is missing: install it with 'sudo apt-get install chromium' (Debian) and run again" >&2
		exit 1
	fi
fi

bin=$repo/bin
exec_dir=$bin/wasmbrowser
if [[ ! -x $bin/wasmbrowsertest ]] || ! go version -m "$bin/wasmbrowsertest" 2>/dev/null | grep -q "wasmbrowsertest[[:space:]]*$wasmbrowsertest_version"; then
	echo "browser-go-test: installing wasmbrowsertest $wasmbrowsertest_version into bin/" >&2
	GOBIN=$bin GOOS= GOARCH= go install "github.com/agnivade/wasmbrowsertest@$wasmbrowsertest_version"
fi
# go test looks for go_$GOOS_$GOARCH_exec on PATH; wasmbrowsertest acts as
# that runner when invoked under this name.
mkdir -p "$exec_dir"
ln -sfn "$bin/wasmbrowsertest" "$exec_dir/go_js_wasm_exec"

command -v unshare >/dev/null || { echo "browser-go-test: needs unshare (apt-get install util-linux)" >&2; exit 1; }
command -v ip >/dev/null || { echo "browser-go-test: needs ip (apt-get install iproute2)" >&2; exit 1; }

# wasmbrowsertest prints "ERROR: could not unmarshal event: unknown
# IPAddressSpace value: Loopback" for some DevTools events: harmless noise,
# and it does not change the exit status, which is the test binary's.
status=0
PATH="$exec_dir:$PATH" GOOS=js GOARCH=wasm \
	unshare -n bash -c 'ip link set lo up && exec "$@"' _ \
	go test -tags browser "${go_flags[@]}" "${packages[@]}" || status=$?
if [[ $status -ne 0 ]]; then
	echo "browser-go-test: FAILED (exit $status)" >&2
fi
exit "$status"
