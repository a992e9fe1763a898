#!/usr/bin/env python3
"""Record aihwkit's defaults for the rpu_configs that aimc-dist's aihwkit-* presets reproduce.

Usage: PYTHON scripts/aihwkit_defaults.py [--output FILE]
  PYTHON is a Python with aihwkit installed (1.1.0, with torch 2.10.0; see the README's section
  "aihwkit configurations").
  Default output: Tests/Data/aihwkit-1.1.0-defaults.json, the table the preset test compares with.

For each preset it builds the rpu_config exactly as the preset's summary names it (every field at aihwkit's
default, devices SoftBoundsDevice()), flattens the dataclass fields that training reads -- the device (the pulsed
device as "device.<field>", a compound's own fields as "compound.<field>"), forward, backward, update and mapping --
and writes them with the aihwkit and torch versions. A compound's two unit-cell devices must be identical (aimc-dist
has one device configuration for all arrays); the script stops if they are not. Inference-only sections (modifier,
clip, remap, drift_compensation, noise_model, pre_post) and simulator plumbing (runtime, tile classes) are not
recorded. Without aihwkit it prints a message and exits 0.
"""

import argparse
import dataclasses
import enum
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "Tests", "Data", "aihwkit-1.1.0-defaults.json")


def flat(obj, prefix, out):
    """Dataclass fields as dotted keys; enums by name; lists of dataclasses by index."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            flat(getattr(obj, f.name), prefix + ("." if prefix else "") + f.name, out)
    elif isinstance(obj, enum.Enum):
        out[prefix] = obj.name
    elif isinstance(obj, (list, tuple)):
        if obj and all(dataclasses.is_dataclass(v) for v in obj):
            for i, v in enumerate(obj):
                flat(v, "%s[%d]" % (prefix, i), out)
        else:
            out[prefix] = list(obj)
    elif isinstance(obj, type):
        out[prefix] = obj.__name__
    else:
        out[prefix] = obj


def record(cfg):
    """The recorded fields of one rpu_config."""
    out = {}
    dev = cfg.device
    fields = {}
    if hasattr(dev, "unit_cell_devices"):
        cells = dev.unit_cell_devices
        if len(cells) != 2:
            raise SystemExit("expected two unit-cell devices, got %d" % len(cells))
        a, b = {}, {}
        flat(cells[0], "", a)
        flat(cells[1], "", b)
        if a != b or type(cells[0]) is not type(cells[1]):
            raise SystemExit("the unit-cell devices differ; aimc-dist has one device configuration for all arrays")
        fields.update({"device." + k: v for k, v in a.items()})
        fields["device.class"] = type(cells[0]).__name__
        own = {}
        flat(dev, "", own)
        fields.update({"compound." + k: v for k, v in own.items() if not k.startswith("unit_cell_devices")})
        fields["compound.class"] = type(dev).__name__
    elif hasattr(dev, "device"):  # DigitalRankUpdateCell (mixed precision)
        inner = {}
        flat(dev.device, "", inner)
        fields.update({"device." + k: v for k, v in inner.items()})
        fields["device.class"] = type(dev.device).__name__
        own = {}
        flat(dev, "", own)
        fields.update({"compound." + k: v for k, v in own.items() if not k.startswith("device.")})
        fields["compound.class"] = type(dev).__name__
    else:
        d = {}
        flat(dev, "", d)
        fields.update({"device." + k: v for k, v in d.items()})
        fields["device.class"] = type(dev).__name__
    for section in ("forward", "backward", "update", "mapping"):
        s = {}
        flat(getattr(cfg, section), "", s)
        fields.update({section + "." + k: v for k, v in s.items()})
    # Drift of a pulsed device is an inference-time model (aihwkit applies it only when asked to drift weights).
    return {k: v for k, v in fields.items() if ".drift." not in k}


def configs():
    from aihwkit.simulator.configs import (SingleRPUConfig, UnitCellRPUConfig, DigitalRankUpdateRPUConfig,  # noqa
                                           SoftBoundsDevice, TransferCompound, BufferedTransferCompound,
                                           ChoppedTransferCompound, DynamicTransferCompound, MixedPrecisionCompound)

    def cell(compound):
        return UnitCellRPUConfig(device=compound(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()]))

    return [
        ("aihwkit-analog-sgd", "single", SingleRPUConfig(device=SoftBoundsDevice())),
        ("aihwkit-tiki-taka", "transfer", cell(TransferCompound)),
        ("aihwkit-ttv2", "buffered", cell(BufferedTransferCompound)),
        ("aihwkit-c-ttv2", "chopped", cell(ChoppedTransferCompound)),
        ("aihwkit-agad", "dynamic", cell(DynamicTransferCompound)),
        ("aihwkit-mixed-precision", "mixed", DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=SoftBoundsDevice()))),
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", default=DEFAULT_OUT, help="where to write the table (default: %(default)s)")
    args = p.parse_args()
    try:
        import aihwkit
        import torch
    except ImportError as e:
        print("aihwkit_defaults: aihwkit is not importable (%s); nothing recorded" % e)
        return 0
    table = {"aihwkit": aihwkit.__version__, "torch": torch.__version__,
             "recorded_with": "scripts/aihwkit_defaults.py", "presets": {}}
    for name, kind, cfg in configs():
        table["presets"][name] = {"rpu_config": type(cfg).__name__, "kind": kind, "fields": record(cfg)}
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(table, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, args.output)
    print("aihwkit_defaults: %d presets, %d fields, aihwkit %s -> %s" % (
        len(table["presets"]), sum(len(v["fields"]) for v in table["presets"].values()), aihwkit.__version__, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
