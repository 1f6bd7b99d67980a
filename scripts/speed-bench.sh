#!/usr/bin/env bash
# Speed of a room (make bench-speed): ingest of a first sync into a fresh
# bbolt file, "Query newest 50" warm and after a reopen, and the reopen
# itself, beside the build before the compact index (baseline commit below),
# measured in the same run: the probe (cmd/speedprobe) is built against this
# tree and against the baseline's packages, and the two run alternately on
# the same signed records. The markdown table of the medians goes to stdout
# and out/speed-bench.md.
#
# SPEEDBENCH_RECORDS=N (default 50,000) records, SPEEDBENCH_ROUNDS=N
# (default 5) runs of each build.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${SPEEDBENCH_RECORDS:-50000}"
ROUNDS="${SPEEDBENCH_ROUNDS:-5}"
BASELINE_COMMIT="${SPEEDBENCH_BASELINE:-74d977c}" # the last commit that kept every event in memory
if ((ROUNDS < 1)); then
  echo "speed-bench: SPEEDBENCH_ROUNDS must be at least 1" >&2
  exit 1
fi
mkdir -p out
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/speedprobe" ./cmd/speedprobe
baseline=""
if git cat-file -e "${BASELINE_COMMIT}^{commit}" 2>/dev/null; then
  echo "speed-bench: building the baseline ${BASELINE_COMMIT}" >&2
  mkdir "$tmp/baseline"
  git archive "$BASELINE_COMMIT" | tar -x -C "$tmp/baseline"
  # The same probe, linked against the baseline's packages.
  mkdir -p "$tmp/baseline/cmd/speedprobe"
  cp cmd/speedprobe/main.go "$tmp/baseline/cmd/speedprobe/main.go"
  (cd "$tmp/baseline" && go build -o "$tmp/speedprobe-baseline" ./cmd/speedprobe)
  baseline="$tmp/speedprobe-baseline"
else
  echo "speed-bench: commit ${BASELINE_COMMIT} is not in this clone: measuring this build only" >&2
fi

echo "speed-bench: signing ${N} records" >&2
"$tmp/speedprobe" -make "$tmp/events.jsonl" -n "$N"
load_before="$(uptime)"
: >"$tmp/this.jsonl"
: >"$tmp/baseline.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
  echo "speed-bench: round ${r}/${ROUNDS}: this build" >&2
  "$tmp/speedprobe" -events "$tmp/events.jsonl" -dir "$tmp" | tee -a "$tmp/this.jsonl" >&2
  if [[ -n "$baseline" ]]; then
    echo "speed-bench: round ${r}/${ROUNDS}: baseline ${BASELINE_COMMIT}" >&2
    "$baseline" -events "$tmp/events.jsonl" -dir "$tmp" | tee -a "$tmp/baseline.jsonl" >&2
  fi
done
load_after="$(uptime)"

title="Speed of a room of ${N} records, this build"
report_args=()
if [[ -n "$baseline" ]]; then
  title+=" beside the baseline ${BASELINE_COMMIT} (every event in memory), alternately in the same run"
  report_args=(-baseline "$tmp/baseline.jsonl")
else
  title+=" only (baseline ${BASELINE_COMMIT} not in this clone)"
fi
title+=" ($(go env GOOS)/$(go env GOARCH), $(getconf _NPROCESSORS_ONLN) CPUs, $(go env GOVERSION))"
{
  "$tmp/speedprobe" -report "$tmp/this.jsonl" "${report_args[@]}" -title "$title"
  echo
  echo "Load while it ran:"
  echo
  echo "- before: ${load_before# }"
  echo "- after: ${load_after# }"
} | tee out/speed-bench.md
