#!/usr/bin/env python3
"""Markdown table of a sweep's summary.csv: mean and standard deviation of the final test accuracy over seeds.

  scripts/summarize.py runs/fig4/summary.csv
Groups rows by every axis column except `seed`; the standard deviation is the sample one (n - 1).
"""
import csv
import statistics
import sys

FIXED = {"run", "seed", "final_test_accuracy", "best_test_accuracy", "final_train_loss", "epochs", "seconds", "weights_digest"}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("summarize: no runs")
    axes = [k for k in rows[0] if k not in FIXED]
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r[a] for a in axes), []).append(r)
    print("| " + " | ".join(axes + ["runs", "final test accuracy (%)", "best test accuracy (%)", "seconds per run"]) + " |")
    print("|" + "---|" * (len(axes) + 4))
    for key, rs in groups.items():
        acc = [100 * float(r["final_test_accuracy"]) for r in rs]
        best = [100 * float(r["best_test_accuracy"]) for r in rs]
        sec = [float(r["seconds"]) for r in rs]
        def cell(v):
            return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else f"{v[0]:.2f}"
        print("| " + " | ".join(list(key) + [str(len(rs)), cell(acc), cell(best), f"{statistics.mean(sec):.1f}"]) + " |")


if __name__ == "__main__":
    main()
