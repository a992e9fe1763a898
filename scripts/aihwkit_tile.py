#!/usr/bin/env python3
"""aihwkit's side of `aimc-dist bench`: the pulsed update of one N x N AnalogTile of SoftBounds devices on CPU.

Same workload as `aimc-dist bench --size N --batch B --lr LR`: x and d uniform in [-1, 1] (a pool of 8 mini-batches),
aihwkit 1.1.0's SoftBoundsDevice defaults (dw_min 0.001, dw_min_dtod 0.3, multiplicative c2c dw_min_std 0.3,
w_max/w_min 0.6 with 0.3 dtod, up_down_dtod 0.01), update BL management and update management on, desired_bl 31.
Times tile.update + post_update_step with the process's CPU time (one thread) and divides by the expected number of
pulse coincidences from aihwkit's own formulas (its CPU pulse counters are not exposed): per sample,
BL = min(ceil(lr max|x| max|d| / dw_min), 31), p_x = min(1, B|x|), p_d = min(1, A|d|), E = BL sum(p_x) sum(p_d).

Needs torch 2.10.0 and aihwkit 1.1.0 (pip install torch==2.10.0; pip install --no-deps aihwkit==1.1.0; pip install
scipy). Prints one line: median CPU ns per coincidence over the timed steps and the coincidences per device per sample.
"""

import argparse
import math
import os
import sys
import time


def expected_coincidences(x, d, lr, dw_min, desired_bl):
    total = 0.0
    for m in range(x.shape[0]):
        xa, da = float(x[m].abs().max()), float(d[m].abs().max())
        if xa == 0 or da == 0:
            continue
        k = lr * xa * da / dw_min
        bl = min(max(int(math.ceil(k)), 1), desired_bl)
        a = b = math.sqrt(lr / (dw_min * bl))
        d_val = da * (desired_bl / k if k > desired_bl else 1.0)
        a *= math.sqrt(xa / d_val)
        b *= math.sqrt(d_val / xa)
        total += bl * float((b * x[m].abs()).clamp(max=1).sum()) * float((a * d[m].abs()).clamp(max=1).sum())
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seconds", type=float, default=6.0, help="CPU seconds of timed updates (at least 5 steps)")
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    import torch
    from aihwkit.simulator.configs import SingleRPUConfig, SoftBoundsDevice

    torch.set_num_threads(1)
    torch.manual_seed(0)
    n, bsz = args.size, args.batch
    cfg = SingleRPUConfig(device=SoftBoundsDevice())
    tile = cfg.tile_class(n, n, cfg, bias=False)
    tile.set_learning_rate(args.lr)
    tile.set_weights(torch.empty(n, n).uniform_(-1 / math.sqrt(n), 1 / math.sqrt(n)))
    gen = torch.Generator().manual_seed(1)
    pool = [(torch.rand(bsz, n, generator=gen) * 2 - 1, torch.rand(bsz, n, generator=gen) * 2 - 1) for _ in range(8)]
    for x, d in pool[:5]:
        tile.update(x, d)
        tile.post_update_step()
    times, spent, i = [], 0.0, 0
    while i < 5 or spent < args.seconds:
        x, d = pool[i % len(pool)]
        t0 = time.process_time()
        tile.update(x, d)
        tile.post_update_step()
        t = time.process_time() - t0
        times.append(t / expected_coincidences(x, d, args.lr, cfg.device.dw_min, cfg.update.desired_bl))
        spent += t
        i += 1
    est = sum(expected_coincidences(x, d, args.lr, cfg.device.dw_min, cfg.update.desired_bl) for x, d in pool) / len(pool)
    times.sort()
    print("aihwkit %s, %dx%d SoftBounds tile, batch %d, lr %g: CPU ns per coincidence %.2f (median of %d steps); "
          "coincidences per device per sample %.2f" % (__import__("aihwkit").__version__, n, n, bsz, args.lr,
                                                        1e9 * times[len(times) // 2], len(times), est / (n * n * bsz)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
