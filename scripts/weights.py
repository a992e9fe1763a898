#!/usr/bin/env python3
"""Loads the weights of an aimc-dist run into numpy: each layer's tiles (W, P, W1, ..., their zero-shift
references), the digital buffers (H, Q), the weights the reads see (W + gamma P and the like), digital weights and
biases, assembled from the run's newest checkpoint (every run with --output keeps one: the final weights once it has
finished) or from a checkpoint folder.

As a library (numpy only):
    import sys; sys.path.insert(0, "scripts")
    from weights import load
    layers = load("runs/rl")            # a list, one dict per layer
    W = layers[0]["effective"]          # (outputs, inputs) float64: what forward and backward read (a
                                        # convolution: (C_out, C_in kh kw), columns in torch's unfold order)
    b = layers[0]["bias"]               # (outputs,)

Each layer's dict holds "effective", "bias", and one (outputs, inputs) float32 matrix per state array of its blocks
("W", "P", "W1", "P.ref", "H", "Q", "weights", ... as the algorithm has them), plus "blocks": the block grid.
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aimc_outputs import UserError, holds, parser as make_parser, run  # noqa: E402

PROG = "weights.py"

EPILOG = """examples:
  scripts/weights.py runs/rl                        # per layer: arrays, shapes, value ranges
  scripts/weights.py runs/rl --npz rl-weights.npz   # every assembled matrix in one .npz (layer0_effective, layer0_W, ...)
  scripts/weights.py runs/rl/checkpoints/step-000000018000 --verify

Exit status: 0 done; 1 no checkpoint, or a missing, corrupt or mismatched file; 2 bad arguments.
Errors are one line on stderr."""


def find_checkpoint(path):
    """The checkpoint folder for `path`: itself when it holds manifest.json, else the newest complete one under
    `path`/checkpoints."""
    if os.path.isfile(os.path.join(path, "manifest.json")):
        return path
    if not os.path.isdir(path):
        raise UserError(f"{path} is not a folder; give a run folder (--output of aimc-dist train) or a checkpoint folder")
    root = os.path.join(path, "checkpoints")
    names = sorted(n for n in (os.listdir(root) if os.path.isdir(root) else []) if n.startswith("step-"))
    for name in reversed(names):
        if os.path.isfile(os.path.join(root, name, "manifest.json")):
            return os.path.join(root, name)
    raise UserError(f"{path} holds no complete checkpoint ({holds(path)}); a run with --output writes one at each epoch's end")


def load(path, verify=False):
    """The layers of the run or checkpoint at `path` (see the module docstring). With `verify`, each file's SHA-256
    is checked against the manifest."""
    import numpy as np
    folder = find_checkpoint(path)
    try:
        with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {folder}/manifest.json: {e}")
    if manifest.get("format") != "aimc-dist checkpoint 1":
        raise UserError(f"{folder}/manifest.json is not an aimc-dist checkpoint of format 1")
    matrices = manifest["matrices"]  # per analog layer: [rows, cols] (a convolution: C_out x C_in kh kw)
    layers = [{"blocks": [], "bias": np.zeros(rows, dtype=np.float32), "effective": np.zeros((rows, cols), dtype=np.float64)}
              for rows, cols in matrices]
    for block in manifest["blocks"]:
        layer = layers[block["layer"]]
        r0, rows, c0, cols = block["row_start"], block["rows"], block["col_start"], block["cols"]
        layer["blocks"].append({k: block[k] for k in ("index", "row_start", "rows", "col_start", "cols")})
        arrays = {}
        for f in block["files"]:
            name = os.path.join(folder, f["file"])
            if verify:
                with open(name, "rb") as h:
                    if hashlib.sha256(h.read()).hexdigest() != f["sha256"]:
                        raise UserError(f"{name} does not match its checksum in the manifest (corrupt or replaced)")
            try:
                a = np.load(name)
            except (OSError, ValueError) as e:
                raise UserError(f"cannot read {name}: {e}")
            arrays[f["name"]] = a
            if f["name"] == "bias":
                layer["bias"][r0:r0 + rows] = a
                continue
            if a.shape != (rows, cols):
                raise UserError(f"{name} has shape {a.shape}; block {block['index']} is {rows} x {cols}")
            full = layer.setdefault(f["name"], np.zeros(tuple(matrices[block["layer"]]), dtype=np.float32))
            full[r0:r0 + rows, c0:c0 + cols] = a
        for term in block["read"]:
            t = term["coefficient"] * arrays[term["array"]].astype(np.float64)
            # Chopper signs (c-TTv2, AGAD, E-RIDER): +1 or -1 per row and per column, held as integer scalars.
            if term.get("row_signs"):
                t *= np.asarray(block["scalars"][term["row_signs"]]["integers"], dtype=np.float64)[:, None]
            if term.get("col_signs"):
                t *= np.asarray(block["scalars"][term["col_signs"]]["integers"], dtype=np.float64)[None, :]
            layer["effective"][r0:r0 + rows, c0:c0 + cols] += t
    return layers


def main():
    p = make_parser(PROG, description=__doc__.split("\n\n")[0], epilog=EPILOG,
                    formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("path", help="a run folder (--output of aimc-dist train) or a checkpoint folder")
    p.add_argument("--npz", metavar="FILE", help="write every assembled matrix to FILE (numpy.savez)")
    p.add_argument("--verify", action="store_true", help="check each file's SHA-256 against the manifest")
    a = p.parse_args()
    try:
        import numpy as np
    except ImportError:
        raise UserError("numpy is missing: on Debian 12 `apt install python3-numpy`, or `pip install numpy` in a virtual environment")
    layers = load(a.path, verify=a.verify)
    print(f"{find_checkpoint(a.path)}: {len(layers)} layer(s)")
    for l, layer in enumerate(layers):
        names = [k for k in layer if k != "blocks"]
        print(f"layer {l}: {layer['effective'].shape[0]} x {layer['effective'].shape[1]}, {len(layer['blocks'])} block(s)")
        for k in names:
            v = layer[k]
            print(f"  {k:10s} {str(v.shape):14s} min {v.min():+.4g}  max {v.max():+.4g}  mean {v.mean():+.4g}")
    if a.npz:
        out = {f"layer{l}_{k.replace('.', '_')}": v for l, layer in enumerate(layers) for k, v in layer.items() if k != "blocks"}
        try:
            np.savez(a.npz, **out)
        except OSError as e:
            raise UserError(f"cannot write {a.npz}: {e.strerror}")
        print(f"wrote {a.npz} ({len(out)} arrays)")


if __name__ == "__main__":
    run(PROG, main)
