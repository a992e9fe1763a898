#!/usr/bin/env bash
# Re-runs every result table of the README, in its order, and prints the tables (Markdown, with each run's weights
# digest) to standard output; the run folders go to DIR (default runs/results). Hours on a 2-core machine.
#   scripts/results.sh [DIR]
# Each step is the command the README gives next to its table; a log per step is kept in DIR/logs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/runs/results}"
binary="${AIMC_DIST_BINARY:-$root/.build/release/aimc-dist}"
export AIMC_DIST_BINARY="$binary"
mkdir -p "$out/logs"
echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
step() {  # name, command...
    local name="$1"; shift
    echo "== $name: $*" >&2
    "$@" > "$out/logs/$name.log" 2>&1 || { echo "results: $name failed, see $out/logs/$name.log" >&2; exit 1; }
}
echo; echo "### default experiment (scripts/compare.sh -n 8)"
"$root/scripts/compare.sh" -n 8 2> "$out/logs/compare.log"
step lsq "$binary" lsq --output "$out/lsq" --overwrite
echo; echo "### least squares"; sed -n '/^||W/,/^[0-9.]* s$/p' "$out/logs/lsq.log"; sha256sum "$out/lsq/lsq.csv"
sweep() {  # name, sweep arguments...
    local name="$1"; shift
    step "$name" "$root/scripts/run.sh" -n 2 sweep "$@" --output "$out/$name" --overwrite
    echo; echo "### $name"; python3 "$root/scripts/summarize.py" "$out/$name/summary.csv"
}
sweep fig4 --experiment fig4-fcn --seeds 0,1,2 --epochs 3 --progress-seconds 0
sweep table7 --experiment table7-c2c --progress-seconds 0
sweep table8 --experiment table8-response --progress-seconds 0
sweep few-state-fcn --experiment few-state-fcn --epochs 3 --progress-seconds 0
sweep few-state-baselines --set algorithm.name=analog-sgd,tiki-taka --set device.n_states=4,10,20 --device-preset reram-4-states \
    --zero-shift ideal --epochs 3 --progress-seconds 0
echo; echo "### few-state least squares (scripts/few-states.sh)"
"$root/scripts/few-states.sh" "$out/few-states" 2> "$out/logs/few-states.log"
echo; echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
