#!/usr/bin/env python3
"""Figures from aimc-dist's CSV output (needs matplotlib: pip install matplotlib).

  scripts/plot.py device DIR [DIR ...] -o device.png     response curves and pulse response of `aimc-dist device --output DIR`
  scripts/plot.py metrics DIR [DIR ...] -o metrics.png   test accuracy and train loss per epoch of training runs (--output DIR)
  scripts/plot.py lsq DIR -o lsq.png                     error curves of `aimc-dist lsq --output DIR`, one panel per asymmetry c
  scripts/plot.py scaling DIR -o scaling.png             strong and weak scaling and memory of scripts/scaling.sh
"""
import argparse
import csv
import os
import sys


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"plot: {path} has no rows")
    return rows


def column(rows, name):
    return [float(r[name]) for r in rows]


def labelled(args):
    """(folder, label) pairs: --labels, or the folder names."""
    return [(d, args.labels[k] if args.labels else os.path.basename(os.path.normpath(d))) for k, d in enumerate(args.dirs)]


def finish(fig, args):
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)


def plot_device(args, plt):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for d, label in labelled(args):
        response = read_csv(os.path.join(d, "response.csv"))
        w = column(response, "w")
        line, = left.plot(w, column(response, "q_plus"), label=f"{label}: q+")
        left.plot(w, column(response, "q_minus"), "--", color=line.get_color(), label=f"{label}: q-")
        pulses = read_csv(os.path.join(d, "pulse_response.csv"))
        k = column(pulses, "pulse")
        right.plot(k, column(pulses, "w_c2c"), color=line.get_color(), alpha=0.45, lw=0.8, label=f"{label}: with c2c")
        right.plot(k, column(pulses, "w_ideal"), color=line.get_color(), lw=1.6, label=f"{label}: no c2c")
    left.set_xlabel("weight w")
    left.set_ylabel("step / dw_min")
    left.set_title("response functions q+(w), q-(w)")
    left.axhline(1, color="grey", lw=0.5)
    left.legend(fontsize=8)
    right.set_xlabel("pulse number (up, then down)")
    right.set_ylabel("weight w")
    right.set_title("pulse response")
    right.legend(fontsize=8)
    finish(fig, args)


def plot_metrics(args, plt):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for d, label in labelled(args):
        rows = read_csv(os.path.join(d, "metrics.csv"))
        epoch = column(rows, "epoch")
        left.plot(epoch, [100 * a for a in column(rows, "test_accuracy")], marker="o", label=label)
        right.plot(epoch, column(rows, "train_loss"), marker="o", label=label)
    left.set_xlabel("epoch")
    left.set_ylabel("test accuracy (%)")
    right.set_xlabel("epoch")
    right.set_ylabel("train loss")
    left.legend(fontsize=8)
    finish(fig, args)


def plot_lsq(args, plt):
    rows = read_csv(os.path.join(args.dirs[0], "lsq.csv"))
    cs = sorted({float(r["asymmetry"]) for r in rows})
    fig, axes = plt.subplots(1, len(cs), figsize=(4 * len(cs), 3.8), sharey=True, squeeze=False)
    styles = {}
    for ax, c in zip(axes[0], cs):
        curves = {}
        for r in rows:
            if float(r["asymmetry"]) != c:
                continue
            name = r["algorithm"] + (f" {r['tiles']} tiles" if r["algorithm"] == "multi-tile-residual" else "")
            name += "" if r["algorithm"] == "analog-sgd" else (" (P shifted)" if r["zero_shift"] != "none" else " (P not shifted)")
            curves.setdefault(name, ([], []))
            curves[name][0].append(float(r["step"]))
            curves[name][1].append(max(float(r["relative_error"]), 1e-12))
        for name, (x, y) in sorted(curves.items()):
            style = styles.setdefault(name, len(styles))
            ax.semilogy(x, y, label=name, color=f"C{style}", ls="-" if "not" not in name else "--")
        ax.set_title(f"c = {c}")
        ax.set_xlabel("step")
    axes[0][0].set_ylabel("||W - W*||^2 / ||W*||^2")
    axes[0][-1].legend(fontsize=7)
    finish(fig, args)


def plot_scaling(args, plt):
    rows = read_csv(os.path.join(args.dirs[0], "scaling.csv"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for kind, ax, title in [("strong", axes[0], "strong scaling (784-4096-4096-10)"), ("weak", axes[1], "weak scaling (devices per rank fixed)")]:
        rs = [r for r in rows if r["kind"] == kind]
        n = [int(r["ranks"]) for r in rs]
        t = [float(r["seconds_per_step"]) for r in rs]
        if kind == "strong":
            ax.plot(n, [t[0] / k for k in n], ":", color="grey", label="ideal")
        else:
            ax.plot(n, [t[0]] * len(n), ":", color="grey", label="ideal")
        ax.plot(n, t, "o-", label="measured")
        for k, v, r in zip(n, t, rs):
            if r["oversubscribed"] == "1":
                ax.annotate("oversubscribed", (k, v), fontsize=7, textcoords="offset points", xytext=(4, 4))
        ax.set_xscale("log", base=2)
        ax.set_xlabel("ranks")
        ax.set_ylabel("seconds per step")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    rs = [r for r in rows if r["kind"] == "memory"]
    n = [int(r["ranks"]) for r in rs]
    m = [float(r["peak_mib_max"]) for r in rs]
    axes[2].plot(n, [m[0] / k for k in n], ":", color="grey", label="1/ranks")
    axes[2].plot(n, m, "o-", label="measured")
    axes[2].set_xscale("log", base=2)
    axes[2].set_xlabel("ranks")
    axes[2].set_ylabel("peak resident MiB per rank")
    axes[2].set_title("memory (8192 x 8192 Residual Learning layer)", fontsize=9)
    axes[2].legend(fontsize=8)
    finish(fig, args)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["device", "metrics", "lsq", "scaling"])
    parser.add_argument("dirs", nargs="+", help="output folders of aimc-dist")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--labels", nargs="*", help="one label per folder")
    args = parser.parse_args()
    if args.labels and len(args.labels) != len(args.dirs):
        sys.exit("plot: give one --labels entry per folder")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot: matplotlib is missing (pip install matplotlib)")
    {"device": plot_device, "metrics": plot_metrics, "lsq": plot_lsq, "scaling": plot_scaling}[args.kind](args, plt)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
