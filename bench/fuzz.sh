#!/usr/bin/env bash
# make fuzz: runs every fuzz target of the module for FUZZTIME each (default
# 30s) and prints a Markdown table of executions per target. A target that
# finds a failure stops the run with its output (the failing input is saved
# under the package's testdata/fuzz/ by go test, to become a seed).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-30s}
# Go's minimiser can spend a minute on each new input; keep runs about fuzzing.
MINIMIZE=${FUZZMINIMIZETIME:-5s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "## Fuzzing ($FUZZTIME per target)"
echo
echo "Command: \`FUZZTIME=$FUZZTIME bash bench/fuzz.sh\` ($(nproc) cores, $(go env GOVERSION))."
echo
echo "| package | target | executions | per second |"
echo "|---|---|---|---|"
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" \
        -fuzzminimizetime "$MINIMIZE" -parallel 2 >"$log" 2>&1; then
      echo "| ${pkg#github.com/edgesearch/edgesearch/} | $target | FAILED | |"
      cat "$log" >&2
      exit 1
    fi
    # The last progress line: "fuzz: elapsed: 30s, execs: 123456 (4115/sec), new interesting: …"
    line=$(grep -E 'fuzz: elapsed: .*execs: [0-9]+' "$log" | tail -1 || true)
    execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$line")
    elapsed=$(sed -nE 's/.*elapsed: ([0-9]+)s.*/\1/p' <<<"$line")
    rate=""
    if [ -n "$execs" ] && [ -n "$elapsed" ] && [ "$elapsed" -gt 0 ]; then
      rate=$((execs / elapsed))
    fi
    echo "| ${pkg#github.com/edgesearch/edgesearch/} | $target | ${execs:-?} | ${rate:-?} |"
  done
done
