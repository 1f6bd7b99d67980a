#!/usr/bin/env bash
# make demo: builds the browser build (js/dist/) and serves the demo page and
# a WebTorrent tracker on one loopback address (cmd/tracker --static), so
# that tabs of the page find each other through it. Ctrl-C stops it.
#
#   scripts/demo.sh                              # http://127.0.0.1:8000/examples/demo/
#   PEERSET_DEMO_ADDR=127.0.0.1:8080 scripts/demo.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
go="${GO:-go}"
addr="${PEERSET_DEMO_ADDR:-127.0.0.1:8000}"

scripts/build-wasm.sh
mkdir -p bin
"$go" build -o bin/tracker ./cmd/tracker

# The tracker prints its ws:// URL once it listens; the banner waits for it.
# Both sides of the pipe are in the foreground, so Ctrl-C reaches the
# tracker, which shuts down cleanly: nothing is left running.
bin/tracker --addr "$addr" --static "$root" | {
	if ! read -r ws; then
		echo "demo: the tracker did not start (is $addr in use? pick another with PEERSET_DEMO_ADDR=127.0.0.1:8001)" >&2
		exit 1
	fi
	http="http://${ws#ws://}"
	http="${http%/}"
	cat <<BANNER

  peerset demo: open this page in several tabs or browsers

    $http/examples/demo/

  Each tab joins room "lobby" through the tracker at $ws/.
  Query parameters: ?room=NAME  ?moderation=open|standard|strict  ?tracker=ws://…
  (standard moderation allows 5 live records per author; use ?moderation=open to put more)
  Static-site example: $http/examples/static-site/

  Ctrl-C stops the server.

BANNER
	cat # pass on anything else the tracker prints
}
