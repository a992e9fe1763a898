#!/usr/bin/env python3
"""Known answers of aihwkit 1.1.0's training compounds on tiny tiles, for aimc-dist's tests to pin.

Usage: PYTHON scripts/aihwkit_known_answers.py
  PYTHON has aihwkit 1.1.0 (torch 2.10.0); without aihwkit the script says so and exits 0.

Each probe builds the rpu_config an aihwkit-* preset reproduces (scripts/aihwkit_defaults.py), with the device's
noise off (SoftBoundsDevice(dw_min_dtod=0, dw_min_std=0, w_max_dtod=0, w_min_dtod=0, up_down_dtod=0)) and perfect
forward and backward, sets the arrays with tile.set_hidden_parameters, applies tile.update(x, d) at lr 0.1 and prints
tile.get_hidden_parameters() (float32, printed as Python floats). Tests/AIMCTrainingTests/AihwkitKnownAnswerTests.swift
holds the numbers printed here and checks that aimc-dist's block of the same preset reproduces them.

  kat_mixed_precision  MixedPrecisionCompound, 2 x 3: chi, trunc(chi / dw_min) pulses per device, chi's remainder;
                       and when the transfer runs (at the first sample of the next mini-batch)
  kat_chopped          ChoppedTransferCompound, 1 input x 4 outputs, regular choppers (in_chop_prob 0.5), transfer
                       read without noise and ADC: buffer, pulses, chopper switches, chopped gradient
  kat_chopped_adc      the same with the default transfer ADC and no output noise: which reads fire a pulse
  kat_chopped_batch    2 x 2, one mini-batch of 3 samples: one column read per sample
  kat_chopped_order    2 x 2, a mini-batch of 2 samples, one of them pulsing column 0 of A: each sample's column read
                       follows that sample's gradient update (interleaved, not after the mini-batch)
  stat_chopped_read    the default noisy transfer read of A = 0.01, 512 rows x 20 reads: P(pulse up), P(pulse down)
  kat_transfer_reset   TransferCompound (Tiki-Taka) with with_reset_prob 1, reset 0.05, reset_std 0, 2 x 3, transfer read
                       without noise and ADC: which column of the fast device A is reset after each transfer, to what,
                       and what moved into C (the read before the reset); with n_reads_per_transfer 2 (aihwkit resets
                       both columns after the first read); the same field on BufferedTransferCompound (ignored)
  stat_transfer_reset  with_reset_prob 0.3, 4 x 8, 2000 transfers: the fraction of transferred columns reset
"""

import sys
from math import erf, sqrt


def device(**kw):
    from aihwkit.simulator.configs import SoftBoundsDevice
    return SoftBoundsDevice(dw_min_dtod=0.0, dw_min_std=0.0, w_max_dtod=0.0, w_min_dtod=0.0, up_down_dtod=0.0, **kw)


def layer(cfg, inputs, outputs):
    import torch
    from aihwkit.nn import AnalogLinear
    cfg.forward.is_perfect = True
    cfg.backward.is_perfect = True
    lin = AnalogLinear(inputs, outputs, bias=False, rpu_config=cfg)
    lin.set_weights(torch.zeros(outputs, inputs))
    tile = lin.analog_module
    tile.set_learning_rate(0.1)
    return tile


def flat(tile, name):
    return tile.get_hidden_parameters()[name].flatten().tolist()


def chopped(**kw):
    from aihwkit.simulator.configs import UnitCellRPUConfig, ChoppedTransferCompound
    return UnitCellRPUConfig(device=ChoppedTransferCompound(unit_cell_devices=[device(), device()], **kw))


def set_fast(tile, values):
    import torch
    h = tile.get_hidden_parameters()
    h["hidden_weights_0"] = torch.tensor(values).reshape(-1, 1)
    tile.set_hidden_parameters(h)


def transfer(kind, **kw):
    from aihwkit.simulator.configs import UnitCellRPUConfig
    dev = lambda: device(reset=0.05, reset_std=0.0)
    cfg = UnitCellRPUConfig(device=kind(unit_cell_devices=[dev(), dev()], **kw))
    cfg.device.transfer_forward.out_noise = 0.0
    cfg.device.transfer_forward.out_res = 0.0
    return cfg


def set_fast_matrix(tile, values):
    import torch
    h = tile.get_hidden_parameters()
    h["hidden_weights_0"] = torch.tensor(values)
    tile.set_hidden_parameters(h)


def main():
    try:
        import torch
        from aihwkit.simulator.configs import DigitalRankUpdateRPUConfig, MixedPrecisionCompound
    except ImportError as e:
        print("aihwkit_known_answers: aihwkit is not importable (%s); nothing to probe" % e)
        return 0

    print("kat_mixed_precision (2 x 3, lr 0.1)")
    tile = layer(DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=device())), 3, 2)
    tile.update(torch.tensor([[1.0, -1.0, 1.0]]), torch.tensor([[0.0351, -0.0125]]))
    print("  after x = (1, -1, 1), d = (0.0351, -0.0125): W", tile.get_weights()[0].flatten().tolist())
    print("    chi", flat(tile, "hidden_weights_chi"))
    tile.update(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.0101]]))
    print("  after the next sample x = (1, 0, 0), d = (0, 0.0101) (its mini-batch transfers first):")
    print("    W", tile.get_weights()[0].flatten().tolist())
    print("    chi", flat(tile, "hidden_weights_chi"))

    print("kat_chopped (1 x 4, in_chop_prob 0.5 regular, transfer read without noise and ADC)")
    cfg = chopped(in_chop_prob=0.5, in_chop_random=False)
    cfg.device.transfer_forward.out_noise = 0.0
    cfg.device.transfer_forward.out_res = 0.0
    tile = layer(cfg, 1, 4)
    set_fast(tile, [0.0042, -0.0031, 0.0125, 0.0])
    for k in range(5):
        tile.update(torch.zeros(1, 1), torch.zeros(1, 4))
        print("  read %d: H" % k, flat(tile, "buffered_FP_weight_0"), "W", flat(tile, "hidden_weights_1"))
    tile.update(torch.ones(1, 1), torch.tensor([[0.002, 0.0, 0.0, 0.0]]))
    print("  x = 1, d = (0.002, 0, 0, 0), read 5: P", flat(tile, "hidden_weights_0"), "H", flat(tile, "buffered_FP_weight_0"),
          "W", flat(tile, "hidden_weights_1"))

    print("kat_chopped_adc (1 x 8, default transfer ADC, no output noise)")
    cfg = chopped(in_chop_prob=0.0)
    cfg.device.transfer_forward.out_noise = 0.0
    tile = layer(cfg, 1, 8)
    set_fast(tile, [0.001, 0.005, 0.009, 0.0118, 0.0234, 0.0236, 0.05, -0.03])
    tile.update(torch.zeros(1, 1), torch.zeros(1, 8))
    print("  H", flat(tile, "buffered_FP_weight_0"), "W", flat(tile, "hidden_weights_1"))

    print("kat_chopped_batch (2 x 2, no chopper switches, transfer read without noise and ADC, a mini-batch of 3)")
    cfg = chopped(in_chop_prob=0.0)
    cfg.device.transfer_forward.out_noise = 0.0
    cfg.device.transfer_forward.out_res = 0.0
    tile = layer(cfg, 2, 2)
    h = tile.get_hidden_parameters()
    h["hidden_weights_0"] = torch.tensor([[0.0042, 0.0021], [-0.0031, 0.0]])
    tile.set_hidden_parameters(h)
    tile.update(torch.zeros(3, 2), torch.zeros(3, 2))
    print("  H", flat(tile, "buffered_FP_weight_0"))

    print("kat_chopped_order (2 x 2, no chopper switches, transfer read without noise and ADC, d = (1, -1))")
    for xs in ([[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]):
        cfg = chopped(in_chop_prob=0.0)
        cfg.device.transfer_forward.out_noise = 0.0
        cfg.device.transfer_forward.out_res = 0.0
        tile = layer(cfg, 2, 2)
        tile.update(torch.tensor(xs), torch.tensor([[1.0, -1.0], [1.0, -1.0]]))
        print("  x", xs, "A", flat(tile, "hidden_weights_0"), "C", flat(tile, "hidden_weights_1"))

    print("stat_chopped_read (1 x 512, default noisy transfer read, A = 0.01, 20 reads)")
    rows, reads, a = 512, 20, 0.01
    tile = layer(chopped(in_chop_prob=0.0), 1, rows)
    set_fast(tile, [a] * rows)
    up = down = 0
    for _ in range(reads):
        before = torch.tensor(flat(tile, "hidden_weights_1"))
        tile.update(torch.zeros(1, 1), torch.zeros(1, rows))
        after = torch.tensor(flat(tile, "hidden_weights_1"))
        up += int((after > before).sum())
        down += int((after < before).sum())
    phi = lambda z: 0.5 * (1 + erf(z / sqrt(2)))
    half = 12.0 / 510
    n = rows * reads
    print("  P(up) %.4f, P(down) %.4f; model (N(0, 0.06^2) then an ADC of step 24/510): %.4f, %.4f; binomial sd %.4f"
          % (up / n, down / n, 1 - phi((half - a) / 0.06), phi((-half - a) / 0.06), sqrt(0.25 / n)))

    from aihwkit.simulator.configs import TransferCompound, BufferedTransferCompound
    a0 = [[0.02, 0.011, 0.013], [-0.02, 0.017, -0.019]]
    print("kat_transfer_reset (3 inputs x 2 outputs, with_reset_prob 1, reset 0.05, reset_std 0, lr 0.1)")
    tile = layer(transfer(TransferCompound, with_reset_prob=1.0), 3, 2)
    set_fast_matrix(tile, a0)
    for k in range(4):
        tile.update(torch.zeros(1, 3), torch.zeros(1, 2))
        print("  after update %d: A" % k, flat(tile, "hidden_weights_0"), "C", flat(tile, "hidden_weights_1"))
    tile = layer(transfer(TransferCompound, with_reset_prob=1.0, n_reads_per_transfer=2), 3, 2)
    set_fast_matrix(tile, [[0.02, 0.02, 0.013], [-0.02, -0.02, -0.019]])
    tile.update(torch.zeros(1, 3), torch.zeros(1, 2))
    print("  n_reads_per_transfer 2, A = (0.02, 0.02, 0.013; -0.02, -0.02, -0.019), one update: A", flat(tile, "hidden_weights_0"),
          "C", flat(tile, "hidden_weights_1"))
    tile = layer(transfer(BufferedTransferCompound, with_reset_prob=1.0), 3, 2)
    set_fast_matrix(tile, a0)
    tile.update(torch.zeros(1, 3), torch.zeros(1, 2))
    print("  BufferedTransferCompound, one update: A", flat(tile, "hidden_weights_0"))

    print("stat_transfer_reset (8 inputs x 4 outputs, with_reset_prob 0.3, A = 0.3 before each of 2000 transfers)")
    tile = layer(transfer(TransferCompound, with_reset_prob=0.3), 8, 4)
    resets = partial = 0
    n = 2000
    for k in range(n):
        set_fast_matrix(tile, [[0.3] * 8] * 4)
        tile.update(torch.zeros(1, 8), torch.zeros(1, 4))
        a = tile.get_hidden_parameters()["hidden_weights_0"]
        r = int((a[:, k % 8] == a.new_tensor(0.05)).sum())
        resets += r == 4
        partial += 0 < r < 4
    print("  columns reset: %d of %d (fraction %.4f, binomial sd %.4f), partial columns %d"
          % (resets, n, resets / n, sqrt(0.3 * 0.7 / n), partial))
    return 0


if __name__ == "__main__":
    sys.exit(main())
