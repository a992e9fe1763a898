#!/usr/bin/env python3
"""Draws a figure from the CSV files that aimc-dist writes into its output folders.

kinds (what each reads, which command writes it, and what is drawn):
  device DIR [DIR ...]   response.csv and pulse_response.csv of `aimc-dist device --output DIR`;
                         left: response functions q+(w), q-(w); right: pulse response without and with
                         cycle-to-cycle noise
  metrics DIR [DIR ...]  metrics.csv of training runs (`aimc-dist train --output DIR`, or a sweep's
                         DIR/run-NNN folders); test accuracy and train loss per epoch
  lsq DIR                lsq.csv of `aimc-dist lsq --output DIR`; error curves, one panel per asymmetry c
  scaling DIR            scaling.csv of `scripts/scaling.sh DIR`; strong and weak scaling, peak memory per rank
  tiles RUN              tiles.csv of a training run (per-tile telemetry; a tile is one crossbar array W, P or
                         W1..WN of a weight block); per layer, a heatmap of --metric over the block grid at the
                         last record of --epoch (one panel per array), and the metric's spread across the layer's
                         tiles over training (median, 10-90% and min-max); with --vs COLUMN, the metric
                         against that column over the tiles (e.g. each tile's drawn symmetric-point shift)
  sweep DIR              summary.csv of `aimc-dist sweep --output DIR`; --y (default final_test_accuracy) against
                         the axis --x, mean and sample standard deviation over the replicate axes (--over: seed
                         and device_seed), one line per value of --hue, one panel per value of the other axes

With several folders (device, metrics) each gets its own curves, named by --labels or by the folder's name.
A path to the CSV file itself is accepted in place of its folder. The figure goes to the file -o names; its
extension picks the format (.png, .pdf, .svg, ...; none: PNG).
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aimc_outputs import SUMMARY_RESULTS, UserError, holds, parser as make_parser, read_csv, run  # noqa: E402

PROG = "plot.py"

EPILOG = """examples:
  scripts/plot.py device A B --labels soft-bounds ecram -o devices.png
  scripts/plot.py metrics runs/asgd runs/fig4/run-* -o metrics.png
  scripts/plot.py lsq runs/lsq -o lsq.png
  scripts/plot.py scaling runs/scaling -o scaling.png
  scripts/plot.py tiles runs/default --metric saturated_fraction --epoch 2 -o tiles.png
  scripts/plot.py tiles runs/t2t/run-057 --metric w_mean --vs t2t_symmetric_point_shift -o shift.png
  scripts/plot.py sweep runs/t2t --x device.t2t_symmetric_point --hue algorithm.name -o t2t.png

Needs matplotlib (Debian 12: apt install python3-matplotlib; elsewhere, or in a venv: pip install matplotlib).
Exit status: 0 figure written; 1 an input folder or file is missing, of another kind or malformed, the figure
cannot be written, or matplotlib is missing; 2 bad arguments. Errors are one line on stderr."""

# The files each kind reads, in order.
FILES = {
    "device": ["response.csv", "pulse_response.csv"],
    "metrics": ["metrics.csv"],
    "lsq": ["lsq.csv"],
    "scaling": ["scaling.csv"],
    "tiles": ["tiles.csv"],
    "sweep": ["summary.csv"],
}
# The columns each file must have.
COLUMNS = {
    "response.csv": ["w", "q_plus", "q_minus"],
    "pulse_response.csv": ["pulse", "w_ideal", "w_c2c"],
    "metrics.csv": ["epoch", "test_accuracy", "train_loss"],
    "lsq.csv": ["algorithm", "tiles", "asymmetry", "zero_shift", "step", "relative_error"],
    "scaling.csv": ["kind", "ranks", "oversubscribed", "seconds_per_step", "peak_mib_max"],
    "tiles.csv": ["record", "epoch", "step", "layer", "block_row", "block_col", "array"],
    "summary.csv": ["run", "final_test_accuracy"],
}
# Which command writes each file.
WRITER = {
    "response.csv": "`aimc-dist device --output DIR`",
    "pulse_response.csv": "`aimc-dist device --output DIR`",
    "metrics.csv": "a training run (`aimc-dist train --output DIR`)",
    "lsq.csv": "`aimc-dist lsq --output DIR`",
    "scaling.csv": "`scripts/scaling.sh DIR`",
    "tiles.csv": "a training run with an output folder (`aimc-dist train --output DIR`; tiles.csv unless telemetry.tiles is false)",
    "summary.csv": "a sweep (`aimc-dist sweep ... --output DIR`)",
}


def input_folder(path, kind):
    """The folder to read for `kind`: `path` itself, or the folder of `path` when it names one of kind's files."""
    if os.path.isfile(path):
        if os.path.basename(path) in FILES[kind]:
            return os.path.dirname(path) or "."
        raise UserError(f"{path} is a file, not a folder; give the folder that holds {' and '.join(FILES[kind])}")
    if not os.path.exists(path):
        raise UserError(f"{path} does not exist; {WRITER[FILES[kind][0]]} writes such a folder")
    if not os.path.isdir(path):
        raise UserError(f"{path} is not a folder")
    return path


def read_table(d, name):
    """Rows of CSV file `name` in folder `d`, each a dict with its line number under "__line__"."""
    path = os.path.join(d, name)
    if not os.path.isfile(path):
        what = holds(d)
        hint = f"{WRITER[name]} writes it"
        if name in ("metrics.csv", "tiles.csv") and what.startswith("it holds a sweep"):
            hint = (f"a sweep's runs are its run-NNN folders (e.g. {os.path.join(d, 'run-*')}); "
                    f"scripts/summarize.py {os.path.join(d, 'summary.csv')} tabulates the sweep")
        raise UserError(f"{d} holds no {name} ({what}); {hint}")
    rows = read_csv(path, COLUMNS[name], f"{WRITER[name]} writes it", comments=name == "tiles.csv")
    if not rows:
        if name == "metrics.csv":
            raise UserError(f"{path} holds no epochs yet (the run has not finished its first epoch)")
        if name == "summary.csv":
            raise UserError(f"{path} lists no runs yet (the sweep has not finished its first run)")
        raise UserError(f"{path} has a header but no rows")
    return path, rows


def number(table, row, name, kind=float):
    path, _ = table
    try:
        v = kind(row[name])
        # nan (a diverged run) plots as a gap; so do infinities and values near the float limit (a diverging loss),
        # which matplotlib cannot place on an axis.
        return float("nan") if kind is float and not abs(v) < 1e30 else v
    except ValueError:
        raise UserError(f"{path}:{row['__line__']}: malformed: {name} is {row[name]!r}, not a{'n integer' if kind is int else ' number'}")


def column(table, name):
    return [number(table, r, name) for r in table[1]]


def labels(args):
    return args.labels or [os.path.basename(os.path.normpath(os.path.abspath(d))) for d in args.dirs]


def load(args):
    """Every table the figure needs: per folder, one table per file of the kind."""
    return [[read_table(input_folder(d, args.kind), name) for name in FILES[args.kind]] for d in args.dirs]


def plot_device(tables, args, plt):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (response, pulses), label in zip(tables, labels(args)):
        w = column(response, "w")
        q_plus, q_minus = column(response, "q_plus"), column(response, "q_minus")
        k, c2c, ideal = column(pulses, "pulse"), column(pulses, "w_c2c"), column(pulses, "w_ideal")
        line, = left.plot(w, q_plus, label=f"{label}: q+")
        left.plot(w, q_minus, "--", color=line.get_color(), label=f"{label}: q-")
        right.plot(k, c2c, color=line.get_color(), alpha=0.45, lw=0.8, label=f"{label}: with c2c")
        right.plot(k, ideal, color=line.get_color(), lw=1.6, label=f"{label}: no c2c")
    left.set_xlabel("weight w")
    left.set_ylabel("step / dw_min")
    left.set_title("response functions q+(w), q-(w)")
    left.axhline(1, color="grey", lw=0.5)
    left.legend(fontsize=8)
    right.set_xlabel("pulse number (up, then down)")
    right.set_ylabel("weight w")
    right.set_title("pulse response")
    right.legend(fontsize=8)
    return fig


def plot_metrics(tables, args, plt):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (rows,), label in zip(tables, labels(args)):
        epoch = column(rows, "epoch")
        accuracy, loss = column(rows, "test_accuracy"), column(rows, "train_loss")
        left.plot(epoch, [100 * a for a in accuracy], marker="o", label=label)
        right.plot(epoch, loss, marker="o", label=label)
    left.set_xlabel("epoch")
    left.set_ylabel("test accuracy (%)")
    right.set_xlabel("epoch")
    right.set_ylabel("train loss")
    from matplotlib.ticker import MaxNLocator
    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    left.legend(fontsize=8)
    return fig


def plot_lsq(tables, args, plt):
    (table,), = tables
    rows = table[1]
    asymmetry = {id(r): number(table, r, "asymmetry") for r in rows}
    # A problem read from a file (lsq --problem) has no generating W*: its error is against the least-squares minimiser.
    error = "relative_error" if any(r["relative_error"] != "" for r in rows) or "minimiser_error" not in table[1][0] else "minimiser_error"
    points = {id(r): (number(table, r, "step"), max(number(table, r, error), 1e-12)) for r in rows}
    cs = sorted(set(asymmetry.values()))
    fig, axes = plt.subplots(1, len(cs), figsize=(4 * len(cs), 3.8), sharey=True, squeeze=False)
    styles = {}
    for ax, c in zip(axes[0], cs):
        curves = {}
        for r in rows:
            if asymmetry[id(r)] != c:
                continue
            name = r["algorithm"] + (f" {r['tiles']} tiles" if r["algorithm"] == "multi-tile-residual" else "")
            name += "" if r["algorithm"] in ("analog-sgd", "digital-sgd") else (" (P zero-shifted)" if r["zero_shift"] != "none" else " (P not shifted)")
            curves.setdefault(name, ([], []))
            curves[name][0].append(points[id(r)][0])
            curves[name][1].append(points[id(r)][1])
        for name, (x, y) in sorted(curves.items()):
            style = styles.setdefault(name, len(styles))
            ax.semilogy(x, y, label=name, color=f"C{style}", ls="-" if "not" not in name else "--")
        ax.set_title(f"c = {c}")
        ax.set_xlabel("step")
    axes[0][0].set_ylabel("||W - W*||^2 / ||W*||^2" if error == "relative_error" else "||W - W_ls||^2 / ||W_ls||^2")
    axes[0][-1].legend(fontsize=7)
    return fig


def plot_scaling(tables, args, plt):
    (table,), = tables
    rows = table[1]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = [("strong", "seconds_per_step", "seconds per step", "strong scaling (784-4096-4096-10)"),
              ("weak", "seconds_per_step", "seconds per step", "weak scaling (devices per rank fixed)"),
              ("memory", "peak_mib_max", "peak resident MiB per rank", "memory (8192 x 8192 Residual Learning layer)")]
    for ax, (kind, value, ylabel, title) in zip(axes, panels):
        rs = [r for r in rows if r["kind"] == kind]
        n = [number(table, r, "ranks", int) for r in rs]
        v = [number(table, r, value) for r in rs]
        if rs:
            ideal = {"strong": [v[0] / k for k in n], "weak": [v[0]] * len(n), "memory": [v[0] / k for k in n]}[kind]
            ax.plot(n, ideal, ":", color="grey", label="1/ranks" if kind == "memory" else "ideal")
            ax.plot(n, v, "o-", label="measured")
            if kind != "memory":
                for k, y, r in zip(n, v, rs):
                    if r["oversubscribed"] == "1":
                        ax.annotate("oversubscribed", (k, y), fontsize=7, textcoords="offset points", xytext=(4, 4))
            ax.set_xscale("log", base=2)
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, f"no '{kind}' rows in {os.path.basename(table[0])}", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("ranks")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
    return fig


def plot_tiles(tables, args, plt):
    (table,), = tables
    path, rows = table
    metric = args.metric
    for option, name in (("--metric", metric), ("--vs", args.vs)):
        if name is not None and (name not in rows[0] or name in ("__line__", "array")):
            names = [k for k in rows[0] if k != "__line__" and k not in ("array",)]
            raise UserError(f"{option} {name} is not a column of {path}; choose one of {', '.join(names)}", 2)
    epochs = sorted({number(table, r, "epoch", int) for r in rows})
    epoch = epochs[-1] if args.epoch is None else args.epoch
    if epoch not in epochs:
        raise UserError(f"--epoch {epoch}: {path} has records of epochs {', '.join(map(str, epochs))}", 2)
    last = max(number(table, r, "record", int) for r in rows if number(table, r, "epoch", int) == epoch)
    layers = sorted({number(table, r, "layer", int) for r in rows})
    roles = sorted({r["array"] for r in rows}, key=lambda a: (a != "W", a != "P", a))
    panels = len(roles) + 1 + (args.vs is not None)
    fig, axes = plt.subplots(len(layers), panels, figsize=(3.3 * panels, 2.9 * len(layers)), squeeze=False)
    import numpy as np
    for li, layer in enumerate(layers):
        mine = [r for r in rows if number(table, r, "layer", int) == layer]
        grid_rows = 1 + max(number(table, r, "block_row", int) for r in mine)
        grid_cols = 1 + max(number(table, r, "block_col", int) for r in mine)
        for ri, role in enumerate(roles):
            ax = axes[li][ri]
            cells = np.full((grid_rows, grid_cols), np.nan)
            for r in mine:
                if r["array"] == role and number(table, r, "record", int) == last:
                    cells[number(table, r, "block_row", int), number(table, r, "block_col", int)] = number(table, r, metric)
            if np.all(np.isnan(cells)):
                ax.text(0.5, 0.5, f"no {role} tiles", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
                continue
            image = ax.imshow(cells, cmap="viridis", aspect="auto", interpolation="nearest")
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
            step_x, step_y = max(1, grid_cols // 16), max(1, grid_rows // 16)
            ax.set_xticks(range(0, grid_cols, step_x))
            ax.set_yticks(range(0, grid_rows, step_y))
            if grid_rows * grid_cols <= 40:
                finite = cells[np.isfinite(cells)]
                middle = (finite.min() + finite.max()) / 2 if finite.size else 0
                for i in range(grid_rows):
                    for j in range(grid_cols):
                        if np.isfinite(cells[i, j]):
                            ax.text(j, i, f"{cells[i, j]:.3g}", ha="center", va="center", fontsize=6,
                                    color="white" if cells[i, j] < middle else "black")
            ax.set_title(f"layer {layer}, {role}: {metric}", fontsize=8)
            ax.set_xlabel("block column (inputs)", fontsize=7)
            ax.set_ylabel("block row (outputs)", fontsize=7)
            ax.tick_params(labelsize=6)
        ax = axes[li][len(roles)]
        for ri, role in enumerate(roles):
            by_step = {}
            for r in mine:
                if r["array"] == role:
                    by_step.setdefault(number(table, r, "step", int), []).append(number(table, r, metric))
            if not by_step:
                continue
            steps = sorted(by_step)
            values = [np.array(by_step[k], dtype=float) for k in steps]
            def stat(f):
                return [f(v[np.isfinite(v)]) if np.isfinite(v).any() else np.nan for v in values]
            color = f"C{ri}"
            ax.plot(steps, stat(np.median), color=color, label=f"{role} median")
            ax.fill_between(steps, stat(lambda v: np.percentile(v, 10)), stat(lambda v: np.percentile(v, 90)), color=color, alpha=0.3,
                            label=f"{role} 10-90%")
            ax.fill_between(steps, stat(np.min), stat(np.max), color=color, alpha=0.1, label=f"{role} min-max")
        ax.set_title(f"layer {layer}: {metric} across tiles", fontsize=8)
        ax.set_xlabel("training step", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6)
        if args.vs is not None:
            ax = axes[li][-1]
            for ri, role in enumerate(roles):
                pts = [(number(table, r, args.vs), number(table, r, metric)) for r in mine
                       if r["array"] == role and number(table, r, "record", int) == last]
                pts = [(x, y) for x, y in pts if math.isfinite(x) and math.isfinite(y)]
                if not pts:
                    continue
                label = role
                if len(pts) > 2 and len({x for x, _ in pts}) > 1 and len({y for _, y in pts}) > 1:
                    label += f" (r = {float(np.corrcoef([x for x, _ in pts], [y for _, y in pts])[0, 1]):.2f})"
                ax.scatter([x for x, _ in pts], [y for _, y in pts], s=12, color=f"C{ri}", label=label)
            ax.set_title(f"layer {layer}: {metric} against {args.vs}", fontsize=8)
            ax.set_xlabel(args.vs, fontsize=7)
            ax.tick_params(labelsize=6)
            ax.legend(fontsize=6)
    fig.suptitle(f"{os.path.basename(os.path.normpath(os.path.dirname(os.path.abspath(path))))}: {metric} per tile, "
                 f"heatmaps at epoch {epoch} (step {max(number(table, r, 'step', int) for r in rows if number(table, r, 'record', int) == last)})",
                 fontsize=9)
    return fig


def plot_sweep(tables, args, plt):
    (table,), = tables
    path, rows = table
    axes_keys = [k for k in rows[0] if k not in SUMMARY_RESULTS and k != "__line__"]
    for option, key in (("--x", args.x), ("--hue", args.hue)):
        if key is not None and key not in axes_keys:
            raise UserError(f"{option} {key} is not an axis of {path}; its axes are {', '.join(axes_keys) or 'none'}", 2)
    if args.y not in rows[0] or args.y == "__line__":
        numeric = [k for k in rows[0] if k in SUMMARY_RESULTS and k not in ("run", "weights_digest")]
        raise UserError(f"--y {args.y} is not a column of {path}; choose one of {', '.join(numeric)}", 2)
    if args.hue == args.x:
        raise UserError("--hue must differ from --x", 2)
    over = [k for k in (args.over if args.over is not None else ["seed", "device_seed"]) if k in axes_keys and k not in (args.x, args.hue)]
    facets = [k for k in axes_keys if k not in over and k not in (args.x, args.hue)]
    percent = args.y.endswith("accuracy")

    def as_number(text):
        try:
            return float(text)
        except ValueError:
            return None
    numeric_x = all(as_number(r[args.x]) is not None for r in rows)
    order = sorted({r[args.x] for r in rows}, key=lambda v: as_number(v) if numeric_x else v)
    panels = {}
    for r in rows:
        panels.setdefault(tuple(r[k] for k in facets), {}).setdefault(r[args.hue] if args.hue else "", {}).setdefault(r[args.x], []).append(
            number(table, r, args.y) * (100 if percent else 1))
    n = len(panels)
    columns = min(n, 3)
    fig, grid = plt.subplots((n + columns - 1) // columns, columns, figsize=(4.6 * columns, 3.6 * ((n + columns - 1) // columns)),
                             squeeze=False, sharey=True)
    for ax in grid.flat[n:]:
        ax.set_axis_off()
    for ax, (facet, lines) in zip(grid.flat, sorted(panels.items())):
        for i, (hue, points) in enumerate(sorted(lines.items())):
            xs = [x for x in order if x in points]
            means, spreads = [], []
            for x in xs:
                v = [y for y in points[x] if math.isfinite(y)]
                means.append(sum(v) / len(v) if v else float("nan"))
                spreads.append((sum((y - means[-1]) ** 2 for y in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0.0)
            positions = [as_number(x) for x in xs] if numeric_x else [order.index(x) for x in xs]
            label = f"{args.hue}={hue}" if args.hue else None
            ax.errorbar(positions, means, yerr=spreads, marker="o", capsize=3, color=f"C{i}", label=label)
        if not numeric_x:
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels(order, rotation=20, fontsize=7)
        ax.set_xlabel(args.x)
        ax.set_title(", ".join(f"{k}={v}" for k, v in zip(facets, facet)) or os.path.basename(os.path.dirname(os.path.abspath(path))), fontsize=8)
        if args.hue:
            ax.legend(fontsize=7)
    for row in grid:
        row[0].set_ylabel(args.y + (" (%)" if percent else ""))
    counts = sorted({len(v) for lines in panels.values() for pts in lines.values() for v in pts.values()})
    fig.suptitle(f"{args.y}: mean ± sample std over {', '.join(over) or 'repeats'} ({'/'.join(map(str, counts))} run(s) per point)", fontsize=9)
    return fig


def import_pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("matplotlib"):
            raise UserError(f"matplotlib cannot be imported by {sys.executable}: {e}")
        apt = ("" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo ") + "apt install python3-matplotlib"
        if sys.prefix != sys.base_prefix:
            hint = f"install it into this virtual environment with `{sys.executable} -m pip install matplotlib`"
        elif os.path.realpath(sys.executable).startswith(("/usr/bin/", "/bin/")):
            hint = (f"on Debian 12 install it with `{apt}` (plain `pip install` is refused there; "
                    "a virtual environment with `pip install matplotlib` works too)")
        else:
            hint = f"install it with `{sys.executable} -m pip install matplotlib`, or run the script with /usr/bin/python3 after `{apt}`"
        raise UserError(f"matplotlib is missing for {sys.executable}; {hint}")
    except ImportError as e:
        raise UserError(f"matplotlib cannot be imported by {sys.executable}: {e}")


def main():
    parser = make_parser(PROG, description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                         usage=f"{PROG} {{device,metrics,lsq,scaling,tiles,sweep}} DIR [DIR ...] -o FILE [options]")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True,
                                  help="device, metrics, lsq, scaling, tiles or sweep: the figure to draw (see above)")

    def kind(name, many, help_text, folder="DIR"):
        sub = kinds.add_parser(name, prog=f"{PROG} {name}", help=help_text, description=help_text, epilog=EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.error = lambda message: (_ for _ in ()).throw(UserError(f"{message} (see {PROG} {name} --help)", 2))
        what = {"tiles": "a training run's folder (holding tiles.csv)", "sweep": "a sweep's folder (holding summary.csv)",
                "scaling": "the folder of scripts/scaling.sh", "lsq": "the folder of `aimc-dist lsq --output`"}
        sub.add_argument("dirs", nargs="+", metavar=folder, help=what.get(name, "output folders of aimc-dist"))
        sub.add_argument("-o", "--output", required=True, metavar="FILE", help="figure file to write, e.g. figure.png")
        if many:
            sub.add_argument("--labels", nargs="+", metavar="NAME", help="one legend label per folder (default: the folder names)")
        return sub

    kind("device", True, "response functions and pulse response of `aimc-dist device` folders")
    kind("metrics", True, "test accuracy and train loss per epoch of training runs")
    kind("lsq", False, "error curves of `aimc-dist lsq`, one panel per asymmetry c")
    kind("scaling", False, "strong and weak scaling and memory of scripts/scaling.sh")
    tiles = kind("tiles", False, "per-tile telemetry of a training run (tiles.csv)", folder="RUN")
    tiles.add_argument("--metric", default="frobenius_norm", metavar="M",
                       help="a column of tiles.csv (default frobenius_norm; e.g. saturated_fraction, mean_abs_w_minus_w_sym, "
                            "clipped_pulses, adc_clipped_fraction, latency_ns, t2t_symmetric_point_shift)")
    tiles.add_argument("--vs", metavar="COLUMN", help="also a scatter of the metric against this column over the tiles at the same record, "
                       "with the correlation r (e.g. t2t_symmetric_point_shift)")
    tiles.add_argument("--epoch", type=int, metavar="E", help="the heatmaps show the last record of epoch E (default: the last epoch; 0: before training)")
    sweep = kind("sweep", False, "a summary column of a sweep against one of its axes")
    sweep.add_argument("--x", required=True, metavar="KEY", help="the axis on the horizontal axis (a column of summary.csv, e.g. device.t2t_dw_min)")
    sweep.add_argument("--y", default="final_test_accuracy", metavar="COLUMN",
                       help="the result plotted (default final_test_accuracy; best_test_accuracy, final_train_loss, seconds, ...)")
    sweep.add_argument("--hue", metavar="KEY", help="an axis drawn as one line per value")
    sweep.add_argument("--over", nargs="*", metavar="KEY", help="axes averaged over (default: seed and device_seed)")
    args = parser.parse_args()
    if getattr(args, "labels", None) and len(args.labels) != len(args.dirs):
        raise UserError(f"--labels gives {len(args.labels)} name{'s' * (len(args.labels) != 1)} for {len(args.dirs)} folders; give one per folder", 2)
    if args.kind in ("lsq", "scaling", "tiles", "sweep") and len(args.dirs) > 1:
        raise UserError(f"{args.kind} draws one folder; got {len(args.dirs)}: {' '.join(args.dirs)}", 2)

    plt = import_pyplot()
    extension = os.path.splitext(args.output)[1].lower().lstrip(".")
    formats = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if extension and extension not in formats:
        raise UserError(f"-o {args.output}: cannot write .{extension} files; use one of " + ", ".join("." + f for f in sorted(formats)), 2)
    folder = os.path.dirname(args.output) or "."
    if os.path.isdir(args.output):
        raise UserError(f"-o {args.output} is a folder; name the figure file to write, e.g. {os.path.join(args.output, args.kind + '.png')}")
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {args.output}: folder {folder} does not exist")

    tables = load(args)
    draw = {"device": plot_device, "metrics": plot_metrics, "lsq": plot_lsq, "scaling": plot_scaling, "tiles": plot_tiles, "sweep": plot_sweep}
    fig = draw[args.kind](tables, args, plt)
    fig.tight_layout()
    try:
        fig.savefig(args.output, dpi=110, format=extension or "png")
    except OSError as e:
        raise UserError(f"cannot write {args.output}: {e.strerror or e}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    run(PROG, main)
