#!/usr/bin/env python3
"""Prints a Markdown table of a sweep's summary.csv: mean and standard deviation of the final and best test accuracy
over seeds, and the mean seconds per run.

Input: the summary.csv that `aimc-dist sweep ... --output DIR` writes (one row per run), or the sweep folder DIR.
Output (stdout): one table row per group of runs; rows are grouped by every axis column except `seed`, and the
standard deviation is the sample one (n - 1), shown only for groups of two or more runs.
"""
import argparse
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aimc_outputs import SUMMARY_RESULTS, UserError, holds, parser as make_parser, read_csv, run  # noqa: E402

PROG = "summarize.py"

EPILOG = """example:
  scripts/run.sh -n 2 sweep --experiment fig4-fcn --seeds 0,1,2 --output runs/fig4
  scripts/summarize.py runs/fig4/summary.csv > fig4.md

Exit status: 0 table printed; 1 the file is missing, not a sweep's summary.csv, or malformed; 2 bad arguments.
Errors are one line on stderr."""

FIXED = SUMMARY_RESULTS | {"seed"}
NEEDED = ["final_test_accuracy", "best_test_accuracy", "seconds"]
WRITER = "a sweep (`aimc-dist sweep ... --output DIR`) writes DIR/summary.csv"


def summary_path(path):
    """The summary.csv to read: `path`, or `path`/summary.csv when `path` is a folder."""
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "summary.csv")):
            raise UserError(f"{path} holds no summary.csv ({holds(path)}); {WRITER}")
        return os.path.join(path, "summary.csv")
    if not os.path.exists(path):
        raise UserError(f"{path} does not exist; {WRITER}")
    return path


def read_rows(path):
    """The rows of summary.csv `path`, each with its line number under "__line__"."""
    rows = read_csv(path, NEEDED, WRITER, what="is not a sweep's summary.csv")
    if not rows:
        raise UserError(f"{path} lists no runs yet (the sweep has not finished its first run)")
    return rows


def number(path, row, name):
    try:
        return float(row[name])
    except ValueError:
        raise UserError(f"{path}:{row['__line__']}: malformed: {name} is {row[name]!r}, not a number")


def main():
    parser = make_parser(PROG, description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", metavar="SUMMARY_CSV", help="a sweep's summary.csv, or the sweep folder that holds it")
    args = parser.parse_args()
    path = summary_path(args.summary)
    rows = read_rows(path)
    axes = [k for k in rows[0] if k not in FIXED and k != "__line__"]
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r[a] for a in axes), []).append(r)

    def cell(v):
        # A diverged run records nan (or an edited file inf): shown, and the mean left out of the statistics.
        if not all(math.isfinite(x) for x in v):
            return " / ".join(f"{x:.2f}" for x in v)
        return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else f"{v[0]:.2f}"

    def text(value):
        # A | would end the Markdown cell and a line break the row.
        return " ".join(value.split()).replace("|", "\\|")

    def mean_seconds(v):
        try:
            m = math.fsum(v) / len(v)
        except OverflowError:
            m = math.inf
        return f"{m:.1f}" if abs(m) < 1e9 else f"{m:.3g}"

    lines = ["| " + " | ".join(axes + ["runs", "final test accuracy (%)", "best test accuracy (%)", "seconds per run"]) + " |",
             "|" + "---|" * (len(axes) + 4)]
    for key, rs in groups.items():
        acc = [100 * number(path, r, "final_test_accuracy") for r in rs]
        best = [100 * number(path, r, "best_test_accuracy") for r in rs]
        sec = [number(path, r, "seconds") for r in rs]
        lines.append("| " + " | ".join([text(k) for k in key] + [str(len(rs)), cell(acc), cell(best), mean_seconds(sec)]) + " |")
    try:
        print("\n".join(lines))
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (e.g. `| head`): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    run(PROG, main)
