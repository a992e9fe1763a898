#!/usr/bin/env bash
# Few-state devices (arXiv 2510.02516): least squares on soft-bounds devices with 4, 10 and 20 states on [-1, 1];
# Analog SGD (1 tile), Tiki-Taka v1, Residual Learning (2 tiles) and multi-tile residual learning (3 and 4 tiles),
# P zero-shifted; prints one table per state count. Writes DIR/states-N/lsq.csv (default DIR runs/few-states).
#   scripts/few-states.sh [DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/runs/few-states}"
for n in 4 10 20; do
    echo "== $n states"
    "${AIMC_DIST_BINARY:-$root/.build/release/aimc-dist}" lsq --tau 1 --n-states "$n" --target-std 0.3 --asymmetries 0 \
        --algorithms analog-sgd,tiki-taka,residual,multi-tile-residual --tiles 3,4 --zero-shifts ideal \
        --steps 30000 --record-every 500 --lr 0.5 --transfer-lr 0.02 --gamma 0.3 --transfer-every-growth 8 \
        --output "$out/states-$n" | sed -n '/^||W/,/^[0-9.]* s$/p'
done
