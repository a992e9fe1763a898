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

With several folders (device, metrics) each gets its own curves, named by --labels or by the folder's name.
A path to the CSV file itself is accepted in place of its folder. The figure goes to the file -o names; its
extension picks the format (.png, .pdf, .svg, ...; none: PNG).
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aimc_outputs import UserError, holds, parser as make_parser, read_csv, run  # noqa: E402

PROG = "plot.py"

EPILOG = """examples:
  scripts/plot.py device A B --labels soft-bounds ecram -o devices.png
  scripts/plot.py metrics runs/asgd runs/fig4/run-* -o metrics.png
  scripts/plot.py lsq runs/lsq -o lsq.png
  scripts/plot.py scaling runs/scaling -o scaling.png

Needs matplotlib (Debian 12: apt install python3-matplotlib; elsewhere, or in a venv: pip install matplotlib).
Exit status: 0 figure written; 1 an input folder or file is missing, of another kind or malformed, the figure
cannot be written, or matplotlib is missing; 2 bad arguments. Errors are one line on stderr."""

# The files each kind reads, in order.
FILES = {
    "device": ["response.csv", "pulse_response.csv"],
    "metrics": ["metrics.csv"],
    "lsq": ["lsq.csv"],
    "scaling": ["scaling.csv"],
}
# The columns each file must have.
COLUMNS = {
    "response.csv": ["w", "q_plus", "q_minus"],
    "pulse_response.csv": ["pulse", "w_ideal", "w_c2c"],
    "metrics.csv": ["epoch", "test_accuracy", "train_loss"],
    "lsq.csv": ["algorithm", "tiles", "asymmetry", "zero_shift", "step", "relative_error"],
    "scaling.csv": ["kind", "ranks", "oversubscribed", "seconds_per_step", "peak_mib_max"],
}
# Which command writes each file.
WRITER = {
    "response.csv": "`aimc-dist device --output DIR`",
    "pulse_response.csv": "`aimc-dist device --output DIR`",
    "metrics.csv": "a training run (`aimc-dist train --output DIR`)",
    "lsq.csv": "`aimc-dist lsq --output DIR`",
    "scaling.csv": "`scripts/scaling.sh DIR`",
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
        if name == "metrics.csv" and what.startswith("it holds a sweep"):
            hint = (f"a sweep's runs are its run-NNN folders (e.g. {os.path.join(d, 'run-*')}); "
                    f"scripts/summarize.py {os.path.join(d, 'summary.csv')} tabulates the sweep")
        raise UserError(f"{d} holds no {name} ({what}); {hint}")
    rows = read_csv(path, COLUMNS[name], f"{WRITER[name]} writes it")
    if not rows:
        if name == "metrics.csv":
            raise UserError(f"{path} holds no epochs yet (the run has not finished its first epoch)")
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
                    usage=f"{PROG} {{device,metrics,lsq,scaling}} DIR [DIR ...] -o FILE [--labels NAME [NAME ...]]")
    parser.add_argument("kind", choices=list(FILES), metavar="KIND", help="device, metrics, lsq or scaling: the figure to draw (see above)")
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="output folders of aimc-dist (or scripts/scaling.sh)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="figure file to write, e.g. device.png")
    parser.add_argument("--labels", nargs="+", metavar="NAME", help="one legend label per folder (default: the folder names)")
    args = parser.parse_args()
    if args.labels and len(args.labels) != len(args.dirs):
        raise UserError(f"--labels gives {len(args.labels)} name{'s' * (len(args.labels) != 1)} for {len(args.dirs)} folders; give one per folder", 2)
    if args.kind in ("lsq", "scaling") and len(args.dirs) > 1:
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
    fig = {"device": plot_device, "metrics": plot_metrics, "lsq": plot_lsq, "scaling": plot_scaling}[args.kind](tables, args, plt)
    fig.tight_layout()
    try:
        fig.savefig(args.output, dpi=110, format=extension or "png")
    except OSError as e:
        raise UserError(f"cannot write {args.output}: {e.strerror or e}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    run(PROG, main)
