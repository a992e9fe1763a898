#!/usr/bin/env python3
"""Paired conformance of aimc-dist's aihwkit-* presets with aihwkit itself.

Usage: PYTHON scripts/aihwkit_conformance.py [--presets NAME ...] [--seeds 0 1 2] [--train-limit 10000] [--epochs 1]
                                             [--batch-size 8] [--lr 0.1] [--repeats 2] [--data-dir DIR]
                                             [--aimc-dist BINARY] [--work DIR] [--table-only] [--cross-evaluate N]
  PYTHON has aihwkit 1.1.0 (torch 2.10.0) and numpy; without aihwkit the script says so and exits 0.

For each preset and seed, on the Fashion-MNIST FCN 784-256-128-10 (sigmoid, digital biases, batch 8, AnalogSGD lr):
  1. aimc-dist trains `--preset NAME --seed S` and writes its starting point (--save-initial): the step-0 weights and
     biases (read with scripts/weights.py) and each epoch's sample order;
  2. aihwkit trains the same network --repeats times (default 2) with the rpu_config the preset reproduces
     (scripts/aihwkit_defaults.py builds it), starting from aimc-dist's weights and biases and visiting the samples in
     aimc-dist's order; its runs differ only by aihwkit's clock-seeded generator (device draws, pulse trains, read
     noise), and the table uses the first two.
Then per preset: test accuracy and test loss of each side (mean and sample standard deviation over seeds), the
paired difference D = aimc-dist - (aihwkit run 1 + run 2) / 2 (same seed: same initial weights and sample order),
and aihwkit's own run-to-run difference R = aihwkit run 2 - run 1. If aimc-dist behaves as one more aihwkit run, with
s^2 the variance of one run about its seed's mean, then per seed var(R) = 2 s^2 and var(D) = s^2 + s^2 / 2, so
mean D over n seeds has mean 0 and standard error sqrt(3/4) sd(R) / sqrt(n). Verdict "same within aihwkit's
run-to-run spread" when |mean D| <= 2 of those standard errors (about a 95% band) for both accuracy and test loss,
else "differs" with |mean D| in units of that band. (Over many presets and two metrics, about one comparison in 20
falls outside a 95% band by chance.)

Each run appends one JSON line to WORK/results.jsonl; a run already there is not repeated (the script resumes), and
--table-only prints the table from what is there.
--cross-evaluate N also evaluates each aimc-dist run's final weights with aihwkit's noisy forward (N passes over the
test set) and prints both evaluations and their paired difference: when the training comparison differs and this
one does not, the difference arises in training, not in the evaluation.
"""

import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

PRESETS = ["aihwkit-analog-sgd", "aihwkit-tiki-taka", "aihwkit-ttv2", "aihwkit-c-ttv2", "aihwkit-agad", "aihwkit-mixed-precision"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=PRESETS, choices=PRESETS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--train-limit", type=int, default=10000, help="first N training images (default 10000)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.1, help="AnalogSGD's lr (aimc-dist --lr)")
    p.add_argument("--repeats", type=int, default=2, help="aihwkit runs per seed (>= 2: the run-to-run spread)")
    p.add_argument("--cross-evaluate", type=int, default=0, metavar="N",
                   help="also evaluate aimc-dist's final weights of each run with aihwkit's noisy forward, N passes over the "
                        "test set, and print their accuracy and loss next to aimc-dist's own evaluation (whether a "
                        "difference arises in training or in the evaluation)")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--aimc-dist", default=os.path.join(ROOT, ".build", "release", "aimc-dist"))
    p.add_argument("--work", default=None, help="run folders and results.jsonl (default runs/aihwkit-conformance-<budget>)")
    p.add_argument("--table-only", action="store_true", help="print the table from WORK/results.jsonl, run nothing")
    a = p.parse_args()
    if a.cross_evaluate < 0:
        p.error("--cross-evaluate must be 0 (off) or a number of passes, e.g. 3")
    if a.repeats < 2:
        p.error("--repeats must be at least 2 (aihwkit's run-to-run spread needs two runs per seed)")
    if a.work is None:
        a.work = os.path.join(ROOT, "runs", "aihwkit-conformance-n%d-e%d-b%d-lr%g" % (a.train_limit, a.epochs, a.batch_size, a.lr))
    return a


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_data(folder, train_limit):
    import numpy as np

    def pair(prefix):
        x = read_idx(os.path.join(folder, "%s-images-idx3-ubyte.gz" % prefix))
        y = read_idx(os.path.join(folder, "%s-labels-idx1-ubyte.gz" % prefix))
        return x.reshape(x.shape[0], -1).astype(np.float32) / 255.0, y.astype(np.int64)

    x_tr, y_tr = pair("train")
    x_te, y_te = pair("t10k")
    if train_limit:
        x_tr, y_tr = x_tr[:train_limit], y_tr[:train_limit]
    return x_tr, y_tr, x_te, y_te


def key(r):
    return (r["preset"], r["seed"], r["side"], r["repeat"])


def done_runs(path):
    out = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    out[key(r)] = r
    return out


def append(path, record):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def run_ours(a, preset, seed):
    """aimc-dist on one rank; returns (record, folder of the starting point)."""
    out = os.path.join(a.work, "%s-seed%d" % (preset, seed))
    init = out + "-initial"
    cmd = [a.aimc_dist, "--preset", preset, "--lr", str(a.lr), "--batch-size", str(a.batch_size), "--epochs", str(a.epochs),
           "--train-limit", str(a.train_limit), "--seed", str(seed), "--data-dir", a.data_dir, "--progress-seconds", "0",
           "--output", out, "--overwrite", "--save-initial", init]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("aimc-dist failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
    with open(os.path.join(out, "metrics.csv"), encoding="utf-8") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    head, last = rows[0], rows[-1]
    m = dict(zip(head, last))
    return {"preset": preset, "seed": seed, "side": "aimc-dist", "repeat": 0, "test_accuracy": float(m["test_accuracy"]),
            "test_loss": float(m["test_loss"]), "train_loss": float(m["train_loss"]), "seconds": round(time.time() - t0, 2),
            "command": " ".join(cmd[1:])}, init


def run_aihwkit(a, preset, seed, repeat, init, data):
    """aihwkit from aimc-dist's starting point, in its sample order."""
    import numpy as np
    import torch
    from torch import nn
    from aihwkit.optim import AnalogSGD
    from weights import load

    model = build_model(preset, load(init))
    order = np.load(os.path.join(init, "order.npy"))
    opt = AnalogSGD(model.parameters(), lr=a.lr)
    opt.regroup_param_groups(model)
    loss_fn = nn.NLLLoss()
    x_tr, y_tr, x_te, y_te = data
    t0 = time.time()
    total, batches = 0.0, 0
    for e in range(a.epochs):
        perm = torch.from_numpy(order[e].astype(np.int64))
        total, batches = 0.0, 0
        for s in range(0, x_tr.shape[0], a.batch_size):
            idx = perm[s:s + a.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            opt.step()
            total += loss.item()
            batches += 1
    accuracy, test_loss = evaluate(model, x_te, y_te)
    return {"preset": preset, "seed": seed, "side": "aihwkit", "repeat": repeat, "test_accuracy": accuracy,
            "test_loss": test_loss, "train_loss": total / max(batches, 1), "seconds": round(time.time() - t0, 2)}


def build_model(preset, layers):
    """aihwkit's FCN with `preset`'s rpu_config and the weights and biases of `layers` (weights.load)."""
    import torch
    from torch import nn
    from aihwkit.nn import AnalogLinear, AnalogSequential
    import aihwkit_defaults

    cfg = {name: cfg for name, _, cfg in aihwkit_defaults.configs()}[preset]
    sizes = [784, 256, 128, 10]
    mods = []
    for i in range(3):
        lin = AnalogLinear(sizes[i], sizes[i + 1], bias=True, rpu_config=cfg)
        lin.set_weights(torch.tensor(layers[i]["effective"], dtype=torch.float32), torch.tensor(layers[i]["bias"], dtype=torch.float32))
        mods += [lin, nn.Sigmoid() if i < 2 else nn.LogSoftmax(dim=1)]
    return AnalogSequential(*mods)


def evaluate(model, x_te, y_te):
    """Test accuracy and mean test loss of one pass of aihwkit's (noisy) forward over the test set."""
    import torch
    from torch import nn
    model.eval()
    correct, nll = 0, 0.0
    with torch.no_grad():
        for s in range(0, x_te.shape[0], 500):
            out = model(x_te[s:s + 500])
            nll += float(nn.functional.nll_loss(out, y_te[s:s + 500], reduction="sum"))
            correct += int((out.argmax(dim=1) == y_te[s:s + 500]).sum())
    n = x_te.shape[0]
    return correct / n, nll / n


def cross_evaluate(a, runs, data):
    """aimc-dist's final weights of each run, evaluated by aihwkit (a.cross_evaluate passes): a table of both
    evaluations and their paired difference (mean ± standard error over seeds)."""
    from weights import load
    lines = ["| preset | seeds | aimc-dist's evaluation: accuracy (%) | aihwkit's evaluation of the same weights (%) | "
             "difference (pt) | aimc-dist's test loss | aihwkit's | difference |", "|---|---|---|---|---|---|---|---|"]
    for preset in a.presets:
        seeds = [s for s in a.seeds if (preset, s, "aimc-dist", 0) in runs]
        if not seeds:
            continue
        own, theirs = [], []
        for seed in seeds:
            layers = load(os.path.join(a.work, "%s-seed%d" % (preset, seed)))
            passes = [evaluate(build_model(preset, layers), data[2], data[3]) for _ in range(a.cross_evaluate)]
            r = runs[(preset, seed, "aimc-dist", 0)]
            own.append((100 * r["test_accuracy"], r["test_loss"]))
            theirs.append((100 * sum(p[0] for p in passes) / len(passes), sum(p[1] for p in passes) / len(passes)))
        cells = []
        for k, fmt in ((0, "%.2f"), (1, "%.4f")):
            mo, _ = mean_sd([o[k] for o in own])
            mt, _ = mean_sd([t[k] for t in theirs])
            md, sd = mean_sd([o[k] - t[k] for o, t in zip(own, theirs)])
            se = sd / math.sqrt(len(seeds)) if len(seeds) > 1 else float("nan")
            cells += [fmt % mo, fmt % mt, ("%+" + fmt[1:]) % md + " ± " + (fmt % se)]
        lines.append("| %s | %d | %s |" % (preset, len(seeds), " | ".join(cells)))
    return "\n".join(lines)


def mean_sd(v):
    n = len(v)
    m = sum(v) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1)) if n > 1 else float("nan")
    return m, sd


def table(a, runs):
    lines = ["| preset | seeds | aimc-dist accuracy (%) | aihwkit accuracy (%) | D accuracy (pt) | R accuracy (pt) | "
             "aimc-dist test loss | aihwkit test loss | D loss | R loss | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for preset in a.presets:
        seeds = [s for s in a.seeds if (preset, s, "aimc-dist", 0) in runs and (preset, s, "aihwkit", 0) in runs
                 and (preset, s, "aihwkit", 1) in runs]
        if not seeds:
            continue
        ours = [runs[(preset, s, "aimc-dist", 0)] for s in seeds]
        a1 = [runs[(preset, s, "aihwkit", 0)] for s in seeds]
        a2 = [runs[(preset, s, "aihwkit", 1)] for s in seeds]
        cells, verdicts = [], []
        for metric, scale, fmt in (("test_accuracy", 100, "%.2f"), ("test_loss", 1, "%.4f")):
            o = [r[metric] * scale for r in ours]
            h = [(r1[metric] + r2[metric]) * scale / 2 for r1, r2 in zip(a1, a2)]
            d = [x - y for x, y in zip(o, h)]
            r = [r2[metric] * scale - r1[metric] * scale for r1, r2 in zip(a1, a2)]
            (mo, so), (mh, sh), (md, sdd), (mr, sr) = mean_sd(o), mean_sd(h), mean_sd(d), mean_sd(r)
            band = 2 * math.sqrt(0.75) * sr / math.sqrt(len(seeds))
            verdicts.append(abs(md) / band if band > 0 else float("inf"))
            pm = " ± "
            cells += [(fmt % mo) + pm + (fmt % so), (fmt % mh) + pm + (fmt % sh), ("%+" + fmt[1:]) % md + pm + (fmt % sdd),
                      ("%+" + fmt[1:]) % mr + pm + (fmt % sr)]
        worst = max(verdicts)
        if len(seeds) < 2:
            verdict = "needs 2 or more seeds"
        elif worst <= 1:
            verdict = "same within aihwkit's run-to-run spread"
        else:
            verdict = "differs (abs(mean D) = %.1f x the band)" % worst
        lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            preset, len(seeds), cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7], verdict))
    return "\n".join(lines)


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    results = os.path.join(a.work, "results.jsonl")
    runs = done_runs(results)
    if not a.table_only:
        try:
            import torch  # noqa: F401
            import aihwkit  # noqa: F401
        except ImportError as e:
            print("aihwkit_conformance: aihwkit is not importable (%s); nothing to compare. Install it as the README's "
                  "section \"aihwkit configurations\" says, then run this script with that Python." % e)
            return 0
        if not os.access(a.aimc_dist, os.X_OK):
            raise SystemExit("aihwkit_conformance: %s is not an executable; build with swift build -c release, or give --aimc-dist" % a.aimc_dist)
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch
        torch.set_num_threads(1)
        data = None
        for preset in a.presets:
            for seed in a.seeds:
                init = os.path.join(a.work, "%s-seed%d-initial" % (preset, seed))
                if (preset, seed, "aimc-dist", 0) not in runs or not os.path.exists(os.path.join(init, "order.npy")):
                    r, init = run_ours(a, preset, seed)
                    append(results, r)
                    runs[key(r)] = r
                    print("%s seed %d aimc-dist: %.2f%%, loss %.4f (%.1f s)" % (preset, seed, 100 * r["test_accuracy"], r["test_loss"], r["seconds"]), flush=True)
                for rep in range(a.repeats):
                    if (preset, seed, "aihwkit", rep) in runs:
                        continue
                    if data is None:
                        data = tuple(torch.from_numpy(v) for v in load_data(a.data_dir, a.train_limit))
                    r = run_aihwkit(a, preset, seed, rep, init, data)
                    append(results, r)
                    runs[key(r)] = r
                    print("%s seed %d aihwkit run %d: %.2f%%, loss %.4f (%.1f s)" % (preset, seed, rep + 1, 100 * r["test_accuracy"], r["test_loss"], r["seconds"]), flush=True)
    print()
    print("Fashion-MNIST FCN 784-256-128-10 (sigmoid), %d training images, %d epoch(s), batch %d, lr %g; D = aimc-dist - mean of "
          "aihwkit runs 1 and 2 (same initial weights and sample order), R = aihwkit run 2 - run 1 (mean ± sample sd over seeds; "
          "aihwkit columns: mean of its two runs)"
          % (a.train_limit, a.epochs, a.batch_size, a.lr))
    print(table(a, runs))
    if a.cross_evaluate and not a.table_only:
        print()
        print("aimc-dist's final weights evaluated by aihwkit (%d passes of its noisy forward over the test set, averaged): "
              "a difference that the training comparison shows but this one does not arises in training" % a.cross_evaluate)
        print(cross_evaluate(a, runs, data if data is not None else tuple(torch.from_numpy(v) for v in load_data(a.data_dir, a.train_limit))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
