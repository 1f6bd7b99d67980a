# Shared by scripts/browser-test.sh and scripts/browser-bench.sh (sourced,
# from the repository root, with `fail` defined): the tools the browser runs
# need, and the loopback-only network namespace they run in.

chromium_path=${PEERSET_CHROMIUM:-/usr/bin/chromium}

# apt_install installs Debian packages as root, or fails saying how to.
apt_install() {
	if [ "$(id -u)" != 0 ]; then
		fail "missing $*: install it with 'sudo apt-get update && sudo apt-get install -y $*' (Debian's packages), then run this again"
	fi
	echo "installing $* (Debian packages)"
	apt-get update -qq || fail "apt-get update failed: install $* yourself (apt-get install -y $*)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
		fail "apt-get install $* failed: install it yourself, then run this again"
}

ensure_chromium() {
	if [ ! -x "$chromium_path" ]; then
		if [ -n "${PEERSET_CHROMIUM:-}" ]; then
			fail "PEERSET_CHROMIUM=$PEERSET_CHROMIUM is not an executable Chromium"
		fi
		apt_install chromium
	fi
	[ -x "$chromium_path" ] || fail "no Chromium at $chromium_path after installing Debian's chromium package"
}

# The namespace: a new network namespace with only loopback up, and a new
# PID namespace so that every process of the run (browsers, peers) dies
# with it: no orphans even if node is killed. Root gets it directly; other
# users through a user namespace where they are root.
namespace_cmd=(unshare --net --pid --fork --kill-child --mount-proc)

ensure_namespace() {
	local out
	command -v unshare >/dev/null || apt_install util-linux
	command -v ip >/dev/null || apt_install iproute2
	if [ "$(id -u)" != 0 ]; then
		namespace_cmd=(unshare --user --map-root-user --net --pid --fork --kill-child --mount-proc)
	fi
	if ! out=$("${namespace_cmd[@]}" ip link set lo up 2>&1); then
		fail "cannot create a loopback-only network namespace (${namespace_cmd[*]}): $out
The browser tests run only there, so that no packet leaves the machine. Run them as root,
or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or in a
container run with permission to unshare (e.g. docker --cap-add SYS_ADMIN, or --privileged)."
	fi
}

# in_loopback_namespace runs a command with only lo (127.0.0.1, ::1) up.
in_loopback_namespace() {
	"${namespace_cmd[@]}" bash -c 'ip link set lo up && exec "$@"' _ "$@"
}

ensure_node_modules() {
	command -v node >/dev/null || fail "missing Node.js 20+: apt-get install -y nodejs npm"
	command -v npm >/dev/null || fail "missing npm: apt-get install -y npm"
	local dir=js/test
	if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in $dir failed"
	fi
}

# build_go_binaries DIR builds what the tests start natively.
build_go_binaries() {
	local dir=$1
	command -v "$GO" >/dev/null || fail "missing Go 1.26: install it from the Go downloads page"
	mkdir -p "$dir"
	"$GO" build -o "$dir/tracker" ./cmd/tracker
	"$GO" build -o "$dir/peerset" ./cmd/peerset
	"$GO" build -o "$dir/nostrrelay" ./cmd/nostrrelay
	"$GO" build -o "$dir/hostile" ./js/test/hostile
	"$GO" build -o "$dir/seed" ./js/test/seed
}

build_wasm() {
	[ -x scripts/build-wasm.sh ] || fail "scripts/build-wasm.sh is missing: the browser tests need the wasm build (cmd/wasm and the js/ shim into js/dist/)"
	scripts/build-wasm.sh >/dev/null || fail "scripts/build-wasm.sh failed"
	for f in js/dist/peerset.wasm js/dist/wasm_exec.js js/dist/peerset.js; do
		[ -f "$f" ] || fail "scripts/build-wasm.sh did not produce $f"
	done
}
