#!/usr/bin/env python3
"""aihwkit's side of the CNN speed comparison: the paper's CNN trained on Fashion-MNIST with aihwkit on CPU.

Network (Wu et al., arXiv 2502.06309, Fig. 4 / Table 7; aimc-dist `--model cnn-paper`), input 1 x 28 x 28:
  AnalogConv2d(1, 16, 5)   -> 16 x 24 x 24 -> MaxPool2d(2) -> 16 x 12 x 12 -> tanh
  AnalogConv2d(16, 32, 5)  -> 32 x 8 x 8   -> MaxPool2d(2) -> 32 x 4 x 4   -> tanh -> flatten (512)
  AnalogLinear(512, 128)   -> tanh
  AnalogLinear(128, 10)    -> softmax cross-entropy (mean over the mini-batch)
Every weight layer (two conv, two dense) is one analog tile: 16 x 25, 32 x 400, 128 x 512, 10 x 128 (out x in; all
within aihwkit's default mapping limit of 512, so no layer is split). bias=True with aihwkit's default mapping
(digital_bias=True): the biases are digital. tanh follows the pooling as in the paper's text; since tanh is increasing,
max-pool then tanh equals tanh then max-pool (aihwkit example 4's order), only cheaper. On CPU aihwkit 1.1.0's
AnalogConv2d unfolds the input explicitly (torch unfold, im2col) and hands the tile batch x positions vectors, so the
pulsed update applies one rank-one update per sample and output position. Pixels are scaled to [0, 1], nothing else.

--algorithm chooses the rpu_config (aihwkit 1.1.0 classes, defaults unless stated):
  analog-sgd   SingleRPUConfig(device=SoftBoundsDevice())  "Analog SGD": SoftBounds defaults dw_min 0.001 (c2c
               dw_min_std 0.3, dtod 0.3), w_max/w_min +-0.6 (dtod 0.3), up_down_dtod 0.01; pulsed update with
               desired_bl 31, update BL management and update management on; forward/backward IOParameters defaults
               (inp_res 1/126, out_res 1/510, out_noise 0.06, abs-max noise management, iterative bound management
               on the forward only).
  tiki-taka    UnitCellRPUConfig(device=TransferCompound(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()]))
               "Tiki-Taka" (TTv1), TransferCompound defaults: gamma 0 (the weight is the slow device alone),
               transfer_every 1 in units of m_batch (one transfer per mini-batch; for a conv layer m_batch is
               batch x output positions), n_reads_per_transfer 1 column (transfer_columns), fast_lr 1.0 (the fast
               device is pulsed with learning rate 1.0 whatever --lr is), transfer_lr 1.0 with scale_transfer_lr
               (the transfer writes with 1.0 x --lr), transfer_forward / transfer_update IOParameters /
               UpdateParameters defaults (the transfer read has no noise or bound management); same SoftBounds and
               update defaults as analog-sgd.
  digital-sgd  torch.nn.Conv2d / torch.nn.Linear with torch.optim.SGD: floating point reference, no aihwkit tile.
Optimiser for the analog algorithms: aihwkit's AnalogSGD (plain SGD, the tiles apply their own pulsed update), lr --lr.

Timing: the training loop only (one pass over the first --train-limit training images, mini-batches of --batch-size
in a seeded random order), wall (time.perf_counter) and process CPU (time.process_time) seconds; data loading, model
building and the test pass are excluded. One thread (torch.set_num_threads(1), OMP/OPENBLAS/MKL_NUM_THREADS=1).
aihwkit's C++ random numbers are clock-seeded, so analog accuracies vary run to run; --seed fixes the weight
initialisation and the sample order only.

Needs torch 2.10.0 and aihwkit 1.1.0 (pip install torch==2.10.0; pip install --no-deps aihwkit==1.1.0; pip install
scipy) and the Fashion-MNIST IDX files (Debian's dataset-fashion-mnist). Without torch or aihwkit it prints one line
and exits 0. Prints one JSON line, then one human-readable line.

Example: python scripts/aihwkit_cnn.py --algorithm tiki-taka --train-limit 2000 --test-limit 1000
"""

import argparse
import gzip
import json
import os
import sys
import time

ALGORITHMS = ("analog-sgd", "tiki-taka", "digital-sgd")
TRAIN_IMAGES, TEST_IMAGES = 60000, 10000


def fail(message):
    print("aihwkit_cnn.py: error: " + message, file=sys.stderr)
    sys.exit(2)


def read_idx(path, expected_ndim, expected_count):
    """An unsigned-byte IDX file (gzip) as (shape, bytes); exits with one clear error when it is not one."""
    if not os.path.isfile(path):
        fail("%s does not exist (install Debian's dataset-fashion-mnist or pass --data-dir)" % path)
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        fail("%s: cannot read it as gzip (%s); pass --data-dir with the Fashion-MNIST *-ubyte.gz files" % (path, err))
    magic = int.from_bytes(raw[0:4], "big") if len(raw) >= 4 else 0
    ndim = magic & 0xFF
    if len(raw) < 4 + 4 * ndim or (magic >> 8) != 0x08 or ndim != expected_ndim:
        fail("%s: not an unsigned-byte IDX file with %d dimensions" % (path, expected_ndim))
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    size = 1
    for s in shape:
        size *= s
    if shape[0] != expected_count or len(raw) != 4 + 4 * ndim + size:
        fail("%s: header says %s, expected %d items and %d data bytes" % (path, shape, expected_count, size))
    return shape, raw[4 + 4 * ndim:]


def load_split(torch, data_dir, prefix, count, limit):
    """The first `limit` images of a split as float32 [limit, 1, 28, 28] in [0, 1] and labels as int64 [limit]."""
    shape, pixels = read_idx(os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % prefix), 3, count)
    if shape[1:] != (28, 28):
        fail("%s images are %dx%d, the paper's CNN needs 28x28" % (prefix, shape[1], shape[2]))
    _, labels = read_idx(os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % prefix), 1, count)
    x = torch.frombuffer(bytearray(pixels[:limit * 784]), dtype=torch.uint8).reshape(limit, 1, 28, 28)
    y = torch.frombuffer(bytearray(labels[:limit]), dtype=torch.uint8).to(torch.int64)
    if int(y.max()) > 9:
        fail("%s labels: found label %d, Fashion-MNIST has 10 classes (0-9)" % (prefix, int(y.max())))
    return x.to(torch.float32) / 255.0, y


def make_rpu_config(algorithm):
    from aihwkit.simulator.configs import (  # pylint: disable=import-outside-toplevel
        SingleRPUConfig, SoftBoundsDevice, TransferCompound, UnitCellRPUConfig)

    if algorithm == "analog-sgd":
        return SingleRPUConfig(device=SoftBoundsDevice())
    return UnitCellRPUConfig(device=TransferCompound(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()]))


def describe(rpu_config):
    """The settings that define the algorithm, read back from the rpu_config actually used."""
    if rpu_config is None:
        return {"layers": "torch.nn.Conv2d/Linear", "optimizer": "torch.optim.SGD"}
    dev = rpu_config.device
    out = {"rpu_config": type(rpu_config).__name__, "device": type(dev).__name__, "optimizer": "aihwkit.optim.AnalogSGD",
           "desired_bl": rpu_config.update.desired_bl, "update_bl_management": rpu_config.update.update_bl_management,
           "update_management": rpu_config.update.update_management, "digital_bias": rpu_config.mapping.digital_bias}
    cells = getattr(dev, "unit_cell_devices", None)
    if cells is not None:
        out["unit_cell_devices"] = [type(d).__name__ for d in cells]
        for key in ("gamma", "transfer_every", "units_in_mbatch", "n_reads_per_transfer", "transfer_columns",
                    "fast_lr", "transfer_lr", "scale_transfer_lr"):
            out[key] = getattr(dev, key)
        dev = cells[0]
    for key in ("dw_min", "dw_min_dtod", "dw_min_std", "w_max", "w_min", "up_down_dtod"):
        out[key] = getattr(dev, key)
    return out


def build_model(torch, algorithm, lr):
    """The paper's CNN (see the module docstring), its optimiser and rpu_config (None for digital-sgd)."""
    from torch import nn  # pylint: disable=import-outside-toplevel

    if algorithm == "digital-sgd":
        conv, linear, cfg = nn.Conv2d, nn.Linear, None
        kw = {}
    else:
        from aihwkit.nn import AnalogConv2d, AnalogLinear  # pylint: disable=import-outside-toplevel

        conv, linear, cfg = AnalogConv2d, AnalogLinear, make_rpu_config(algorithm)
        kw = {"rpu_config": cfg}
    model = nn.Sequential(
        conv(1, 16, kernel_size=5, bias=True, **kw), nn.MaxPool2d(2), nn.Tanh(),
        conv(16, 32, kernel_size=5, bias=True, **kw), nn.MaxPool2d(2), nn.Tanh(), nn.Flatten(),
        linear(32 * 4 * 4, 128, bias=True, **kw), nn.Tanh(),
        linear(128, 10, bias=True, **kw))
    if cfg is None:
        return model, torch.optim.SGD(model.parameters(), lr=lr), None, []
    from aihwkit.nn import AnalogSequential  # pylint: disable=import-outside-toplevel
    from aihwkit.optim import AnalogSGD  # pylint: disable=import-outside-toplevel

    model = AnalogSequential(*model)
    opt = AnalogSGD(model.parameters(), lr=lr)
    opt.regroup_param_groups(model)
    tiles = [[t.tile.get_d_size(), t.tile.get_x_size()] for m in model.modules()
             if isinstance(m, (AnalogConv2d, AnalogLinear)) for t in m.analog_tiles()]
    return model, opt, cfg, tiles


def loadavg():
    try:
        with open("/proc/loadavg", encoding="utf-8") as fh:
            return [float(v) for v in fh.read().split()[:3]]
    except (OSError, ValueError):
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algorithm", choices=ALGORITHMS, default="analog-sgd")
    p.add_argument("--train-limit", type=int, default=2000, help="train on the first N training images, one pass")
    p.add_argument("--test-limit", type=int, default=1000, help="test accuracy on the first N test images")
    p.add_argument("--batch-size", type=int, default=8, help="mini-batch size (the paper's CNN: 8)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    p.add_argument("--seed", type=int, default=0, help="torch seed: weight initialisation and sample order")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist",
                   help="folder with the Fashion-MNIST {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz files")
    args = p.parse_args()
    if not 1 <= args.train_limit <= TRAIN_IMAGES:
        p.error("--train-limit must be in 1...%d (got %d)" % (TRAIN_IMAGES, args.train_limit))
    if not 1 <= args.test_limit <= TEST_IMAGES:
        p.error("--test-limit must be in 1...%d (got %d)" % (TEST_IMAGES, args.test_limit))
    if not 1 <= args.batch_size <= args.train_limit:
        p.error("--batch-size must be in 1...--train-limit (%d) (got %d)" % (args.train_limit, args.batch_size))
    if not (args.lr > 0 and args.lr < float("inf")):
        p.error("--lr must be a positive finite number (got %g)" % args.lr)

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import torch  # pylint: disable=import-outside-toplevel
        import aihwkit  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        print("aihwkit_cnn.py: skipped, aihwkit or torch is not installed (%s)" % err)
        return 0
    from torch import nn  # pylint: disable=import-outside-toplevel

    torch.set_num_threads(1)
    x_tr, y_tr = load_split(torch, args.data_dir, "train", TRAIN_IMAGES, args.train_limit)
    x_te, y_te = load_split(torch, args.data_dir, "t10k", TEST_IMAGES, args.test_limit)
    torch.manual_seed(args.seed)
    model, opt, cfg, tiles = build_model(torch, args.algorithm, args.lr)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(args.train_limit, generator=torch.Generator().manual_seed(args.seed))
    batches = [(x_tr[order[s:s + args.batch_size]], y_tr[order[s:s + args.batch_size]])
               for s in range(0, args.train_limit, args.batch_size)]
    losses = torch.empty(len(batches), dtype=torch.float64)

    load_before = loadavg()
    model.train()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i, (xb, yb) in enumerate(batches):
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        losses[i] = loss.detach()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    load_after = loadavg()

    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, args.test_limit, 500):
            correct += int((model(x_te[s:s + 500]).argmax(dim=1) == y_te[s:s + 500]).sum())
    mean_loss = float(losses.mean())
    if mean_loss != mean_loss:
        print("aihwkit_cnn.py: warning: the training loss is NaN (diverged); timings are still reported",
              file=sys.stderr)
    rec = {
        "bench": "aihwkit_cnn", "algorithm": args.algorithm, "aihwkit": aihwkit.__version__,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "model": "conv16k5,pool2,tanh,conv32k5,pool2,tanh,dense128,tanh,dense10 (28x28x1 input)",
        "tiles_out_x_in": tiles, "config": describe(cfg),
        "train_images": args.train_limit, "batch_size": args.batch_size, "batches": len(batches), "lr": args.lr,
        "seed": args.seed, "train_wall_s": round(wall, 4), "train_cpu_s": round(cpu, 4),
        "samples_per_s": round(args.train_limit / wall, 3), "samples_per_cpu_s": round(args.train_limit / cpu, 3),
        "mean_train_loss": round(mean_loss, 6), "test_images": args.test_limit,
        "test_accuracy": correct / args.test_limit, "loadavg_before": load_before, "loadavg_after": load_after,
    }
    print(json.dumps(rec))
    print("aihwkit %s, paper CNN, %s, %d images, batch %d, lr %g: %.1f samples/s wall (%.2f s), %.1f samples/CPU s "
          "(%.2f s), test accuracy %.1f%% on %d images, loadavg %s" % (
              aihwkit.__version__, args.algorithm, args.train_limit, args.batch_size, args.lr, rec["samples_per_s"],
              wall, rec["samples_per_cpu_s"], cpu, 100 * rec["test_accuracy"], args.test_limit,
              " ".join("%.2f" % v for v in load_before) if load_before else "unknown"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
