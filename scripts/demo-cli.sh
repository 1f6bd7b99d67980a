#!/usr/bin/env bash
# Interim `make demo`: the browser demo page arrives with the wasm build. Until
# then this walks through what runs today, natively: keys, a signed record,
# its verification, and a tampered copy being refused.
set -euo pipefail
bin=${PEERSET_BIN:-bin/peerset}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

echo "peerset demo: the browser demo page (several tabs in one room) is not built yet."
echo "This walks through the native command-line peer instead."

say "1. A new key pair"
keys=$("$bin" keygen)
echo "$keys"
nsec=$(printf '%s' "$keys" | sed -E 's/.*"nsec":"([^"]+)".*/\1/')

say "2. A signed record in room 'lobby'"
event=$("$bin" record new --nsec "$nsec" --room lobby --text 'hello from peerset' --link https://example.org --lat 48.8566 --lon 2.3522)
echo "$event"

say "3. Verify it for room 'lobby'"
printf '%s' "$event" | "$bin" record verify --room lobby

say "4. The same record offered to room 'other' is refused"
printf '%s' "$event" | "$bin" record verify --room other || true

say "5. A tampered copy is refused"
printf '%s' "$event" | sed 's/hello from peerset/hello from mallory/' | "$bin" record verify || true

echo
echo "A local tracker for the swarm work: go run ./cmd/tracker --addr 127.0.0.1:8000"
