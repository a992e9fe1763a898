#!/usr/bin/env bash
# Trains the default experiment once per algorithm on the same budget and prints a Markdown table of final
# test accuracy, wall time and the first 12 hex digits of each run's weights digest (the README's results table).
#   scripts/compare.sh [-n RANKS] [extra aimc-dist options...]     e.g. scripts/compare.sh -n 8 --epochs 3
# Runs go to runs/compare/<algorithm>/ (replaced if present), their output to runs/compare/logs/<algorithm>.log;
# `scripts/plot.py metrics runs/compare/{digital-sgd,analog-sgd,tiki-taka,residual} -o compare.png` draws them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ranks=8
extra=()
while (($#)); do
    case "$1" in
        -n) ranks="$2"; shift 2 ;;
        *) extra+=("$1"); shift ;;
    esac
done
printf '| algorithm | test accuracy per epoch (%%) | final test accuracy (%%) | wall time (s) | weights digest |\n|---|---|---|---|---|\n'
for algorithm in digital-sgd analog-sgd tiki-taka residual; do
    out="$root/runs/compare/$algorithm"
    log="$root/runs/compare/logs/$algorithm.log"
    mkdir -p "$root/runs/compare/logs"
    "$root/scripts/run.sh" -n "$ranks" --algorithm "$algorithm" --progress-seconds 0 --output "$out" --overwrite \
        "${extra[@]}" > "$log" 2>&1 || { echo "compare: $algorithm failed, see $log" >&2; exit 1; }
    digest="$(sed -n 's/.*"weights_digest" : "\([0-9a-f]\{12\}\).*/\1/p' "$out/summary.json")"
    awk -F, -v a="$algorithm" -v d="$digest" 'NR > 1 { accs = accs (accs == "" ? "" : " / ") sprintf("%.2f", 100 * $3); last = 100 * $3; t += $4 }
        END { printf "| %s | %s | %.2f | %.1f | %s |\n", a, accs, last, t, d }' "$out/metrics.csv"
done
