#!/usr/bin/env bash
# Memory of a room (make bench-memory): RSS of `peerset join` holding N
# records (default 1,000,000) and the Go heap per record, beside the build
# before the compact index (baseline commit below), measured in the same run.
# The markdown table goes to stdout and out/memory-bench.md.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${MEMBENCH_RECORDS:-1000000}"
BASELINE_COMMIT="${MEMBENCH_BASELINE:-74d977c}" # the last commit that kept every event in memory
mkdir -p bin out
go build -o bin/peerset ./cmd/peerset
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
baseline_args=()
if git cat-file -e "${BASELINE_COMMIT}^{commit}" 2>/dev/null; then
  echo "memory-bench: building the baseline ${BASELINE_COMMIT}" >&2
  git archive "$BASELINE_COMMIT" | tar -x -C "$tmp"
  (cd "$tmp" && go build -o "$tmp/peerset-baseline" ./cmd/peerset)
  baseline_args=(-baseline "$tmp/peerset-baseline")
else
  echo "memory-bench: commit ${BASELINE_COMMIT} is not in this clone: measuring this build only" >&2
fi
go run ./cmd/membench -n "$N" -peerset bin/peerset "${baseline_args[@]}" | tee out/memory-bench.md
