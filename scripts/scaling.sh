#!/usr/bin/env bash
# Scaling benchmark of aimc-dist on this machine; writes DIR/scaling.csv and DIR/scaling.png (needs matplotlib).
#   scripts/scaling.sh [DIR]          (default runs/scaling)
# - strong: the 784-4096-4096-10 model (tiles of 512, balanced placement, Residual Learning), 8 training steps, at
#   1, 2, 4 and 8 ranks: median seconds per step and the share of communication and waiting;
# - weak: hidden widths 2048 x sqrt(ranks), so devices (and work) per rank stay about constant;
# - memory: the 784-8192-8192-10 model (an 8192 x 8192 Residual Learning layer), peak resident memory per rank.
# Points with more ranks than cores are oversubscribed and marked so (oversubscribed=1): on a 2-core machine only
# 1 and 2 ranks measure scaling. Run it on an otherwise idle machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/runs/scaling}"
mkdir -p "$out"
cores="$(nproc)"
csv="$out/scaling.csv"
echo "kind,ranks,oversubscribed,hidden,seconds_per_step,communication_percent,peak_mib_max" > "$csv.partial"
measure() {  # kind ranks hidden steps
    local log="$out/$1-$2.log"
    "$root/scripts/run.sh" -n "$2" --hidden "$3,$3" --tile-size 512 --placement balanced --epochs 1 --steps-per-epoch "$4" \
        --test-limit 10 --progress-seconds 0 > "$log" 2>&1 || { echo "scaling: run failed, see $log" >&2; exit 1; }
    local step comm peak
    step=$(sed -n 's/.*median \([0-9.]*\) s per step.*/\1/p' "$log")
    comm=$(sed -n 's/.* \([0-9.]*\)% of step time.*/\1/p' "$log")
    peak=$(sed -n 's/.*max \([0-9]*\) MiB.*/\1/p' "$log")
    echo "$1,$2,$(( $2 > cores ? 1 : 0 )),$3,$step,$comm,$peak" >> "$csv.partial"
    echo "scaling: $1 ranks=$2 hidden=$3: $step s/step, communication $comm%, peak $peak MiB" >&2
}
for n in 1 2 4 8; do measure strong "$n" 4096 8; done
for n in 1 2 4 8; do
    hidden=$(python3 -c "import math; print(int(round(2048 * math.sqrt($n))))")
    measure weak "$n" "$hidden" 8
done
for n in 1 2 4 8; do measure memory "$n" 8192 8; done
mv "$csv.partial" "$csv"
python3 "$root/scripts/plot.py" scaling "$out" -o "$out/scaling.png" || echo "scaling: no plot (matplotlib missing?)" >&2
echo "wrote $csv" >&2
