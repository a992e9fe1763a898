#!/usr/bin/env python3
"""Prints a Markdown table of a sweep's summary.csv: mean and standard deviation of the final and best test accuracy
over seeds, the mean seconds per run, and the weights digest of every run (its first 12 hex digits, in run order;
a run that diverged is marked), so that a reader can tell whether a difference is theirs or the code's; optionally
what the runs' tiles recorded (tiles.csv).

Input: the summary.csv that `aimc-dist sweep ... --output DIR` writes (one row per run), or the sweep folder DIR.
Output (stdout): one table row per group of runs; rows are grouped by every axis column except the replicate axes
(--over; default `seed` and `device_seed`), and the standard deviation is the sample one (n - 1), shown only for
groups of two or more runs. With --tiles, the mean over each run's tiles of the named tiles.csv columns at the run's
last record, per array (W, P, ...), then averaged over the group; with --correlate X Y, the correlation across a
run's tiles of two columns at its last record, per array, averaged over the group (abs:X takes |X|; runs where a
column is constant over the tiles have no correlation and are left out).
"""
import argparse
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aimc_outputs import SUMMARY_RESULTS, UserError, holds, parser as make_parser, read_csv, run  # noqa: E402

PROG = "summarize.py"

EPILOG = """examples:
  scripts/run.sh -n 2 sweep --experiment fig4-fcn --seeds 0,1,2 --output runs/fig4
  scripts/summarize.py runs/fig4/summary.csv > fig4.md
  scripts/summarize.py runs/t2t --tiles saturated_fraction frobenius_norm --correlate abs:t2t_symmetric_point_shift frobenius_norm

Exit status: 0 table printed; 1 the file is missing, not a sweep's summary.csv, or malformed; 2 bad arguments.
Errors are one line on stderr."""

REPLICATES = ["seed", "device_seed"]
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


def tile_columns(path, rows, metrics, correlate):
    """Per run: {(metric, array): mean over the tiles at the last record} and {("corr", array): correlation}."""
    out = {r["run"]: {} for r in rows}
    if not metrics and not correlate:
        return out
    wanted = set(metrics) | {c.removeprefix("abs:") for c in (correlate or [])}
    for r in rows:
        folder = os.path.join(os.path.dirname(os.path.abspath(path)), r["run"])
        tiles = os.path.join(folder, "tiles.csv")
        if not os.path.isfile(tiles):
            raise UserError(f"{tiles} does not exist ({holds(folder)}); --tiles and --correlate need the runs' tiles.csv "
                            "(written unless telemetry.tiles is false)")
        t = read_csv(tiles, ["record", "array"] + sorted(wanted), "a training run with an output folder writes it", comments=True)
        if not t:
            raise UserError(f"{tiles} has a header but no records")
        last = max(int(x["record"]) for x in t)
        final = [x for x in t if int(x["record"]) == last]

        def value(x, column):
            v = float(x[column.removeprefix("abs:")])
            return abs(v) if column.startswith("abs:") else v
        for role in sorted({x["array"] for x in final}):
            mine = [x for x in final if x["array"] == role]
            for m in metrics:
                v = [value(x, m) for x in mine]
                out[r["run"]][(m, role)] = math.fsum(v) / len(v)
            if correlate:
                a, b = ([value(x, c) for x in mine] for c in correlate)
                try:
                    out[r["run"]][("corr", role)] = statistics.correlation(a, b)
                except statistics.StatisticsError:  # a constant column, or fewer than two tiles
                    out[r["run"]][("corr", role)] = float("nan")
    return out


def main():
    parser = make_parser(PROG, description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", metavar="SUMMARY_CSV", help="a sweep's summary.csv, or the sweep folder that holds it")
    parser.add_argument("--over", nargs="*", metavar="KEY", help="axes averaged over (default: seed and device_seed)")
    parser.add_argument("--tiles", nargs="+", metavar="COLUMN", help="tiles.csv columns to average over each run's tiles (last record)")
    parser.add_argument("--correlate", nargs=2, metavar=("X", "Y"), help="tiles.csv columns to correlate across each run's tiles")
    args = parser.parse_args()
    path = summary_path(args.summary)
    rows = read_rows(path)
    over = set(REPLICATES if args.over is None else args.over)
    axes = [k for k in rows[0] if k not in SUMMARY_RESULTS and k not in over and k != "__line__"]
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r[a] for a in axes), []).append(r)
    tiles = tile_columns(path, rows, args.tiles or [], args.correlate)

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

    extra = sorted({k for per_run in tiles.values() for k in per_run}, key=lambda k: (k[0] == "corr", k))

    def tile_cell(rs, k):
        v = [tiles[r["run"]][k] for r in rs if k in tiles[r["run"]] and math.isfinite(tiles[r["run"]][k])]
        return f"{statistics.mean(v):.4g}" if v else "-"

    def digests(rs):
        # Older summary.csv files have no weights_digest or diverged column.
        return " ".join(text(r.get("weights_digest") or "?")[:12] + (" (diverged)" if r.get("diverged") == "true" else "") for r in rs)

    names = [f"{c} ({role})" if c != "corr" else f"corr({args.correlate[0]}, {args.correlate[1]}) ({role})" for c, role in extra]
    lines = ["| " + " | ".join(axes + ["runs", "final test accuracy (%)", "best test accuracy (%)", "seconds per run"] + names
                               + ["weights digests"]) + " |",
             "|" + "---|" * (len(axes) + 5 + len(extra))]
    for key, rs in groups.items():
        acc = [100 * number(path, r, "final_test_accuracy") for r in rs]
        best = [100 * number(path, r, "best_test_accuracy") for r in rs]
        sec = [number(path, r, "seconds") for r in rs]
        lines.append("| " + " | ".join([text(k) for k in key] + [str(len(rs)), cell(acc), cell(best), mean_seconds(sec)]
                                        + [tile_cell(rs, k) for k in extra] + [digests(rs)]) + " |")
    try:
        print("\n".join(lines))
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (e.g. `| head`): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    run(PROG, main)
