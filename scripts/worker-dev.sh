#!/usr/bin/env bash
# Runs the tracker worker (worker/) locally with `wrangler dev`, offline, on
# 127.0.0.1 (make worker-dev). It builds the worker first, with the demo page
# as static assets when the browser build is there (js/dist/peerset.wasm),
# prints the tracker's ws:// URL, and stops wrangler and everything it
# started on Ctrl-C.
#
#   scripts/worker-dev.sh                       port 8787
#   PEERSET_WORKER_PORT=9000 scripts/worker-dev.sh
#
# Needs Go, Node.js 20+ and npm (it runs npm ci in worker/ the first time).
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
port=${PEERSET_WORKER_PORT:-8787}

fail() {
	echo "worker-dev: $*" >&2
	exit 1
}

command -v "$GO" >/dev/null || fail "missing Go 1.26: install it from the Go downloads page"
command -v node >/dev/null || fail "missing Node.js 20+ (wrangler runs on it): apt-get install -y nodejs npm"
command -v npm >/dev/null || fail "missing npm (it installs wrangler): apt-get install -y npm"
command -v curl >/dev/null || fail "missing curl (to wait for the worker): apt-get install -y curl"
command -v setsid >/dev/null || fail "missing setsid: apt-get install -y util-linux"
[[ "$port" =~ ^[0-9]+$ ]] || fail "PEERSET_WORKER_PORT=$port is not a port number"
if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
	fail "something already listens on 127.0.0.1:$port: stop it, or pick another port with PEERSET_WORKER_PORT=N"
fi

if [ ! -f worker/node_modules/.package-lock.json ] || [ worker/package-lock.json -nt worker/node_modules/.package-lock.json ]; then
	(cd worker && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in worker/ failed"
fi

demo=false
if [ -f js/dist/peerset.wasm ] && [ -d examples/demo ]; then
	demo=true
	worker/build.sh --demo || fail "worker/build.sh --demo failed"
else
	worker/build.sh || fail "worker/build.sh failed"
	echo "worker-dev: no demo page: build the browser build first (scripts/build-wasm.sh) to serve it too"
fi

# wrangler gets a session (and process group) of its own: Ctrl-C reaches
# this script only, and the trap below ends the whole group, node and
# workerd included (killing wrangler alone leaves workerd running).
cd worker
CI=true WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false \
	setsid node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" \
	--show-interactive-dev-session=false --live-reload=false &
wrangler_pid=$!
cd ..

stop() {
	trap - INT TERM EXIT
	kill -TERM -- "-$wrangler_pid" 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 -- "-$wrangler_pid" 2>/dev/null || return 0
		sleep 0.3
	done
	kill -KILL -- "-$wrangler_pid" 2>/dev/null || true
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

for _ in $(seq 1 300); do
	if curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; then
		break
	fi
	kill -0 "$wrangler_pid" 2>/dev/null || fail "wrangler dev exited before serving /healthz (its output is above)"
	sleep 0.2
done
curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" || fail "wrangler dev did not serve /healthz within 60 s"

echo
echo "worker-dev: tracker  ws://127.0.0.1:$port/announce"
echo "worker-dev: stats    http://127.0.0.1:$port/stats"
if $demo; then
	echo "worker-dev: demo     http://127.0.0.1:$port/examples/demo/?tracker=ws://127.0.0.1:$port/announce&room=demo&moderation=open"
fi
echo "worker-dev: Ctrl-C stops it"
wait "$wrangler_pid"
