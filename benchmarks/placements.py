"""Seconds per 60k-image epoch of each kernel PersistentEpoch can place a network in, on a GPU.

``python -m benchmarks.placements [--out FILE.json]``: [784,30,10] and [784,100,10] at m = 10 in
float32, each through register_epoch.cu (one block, or a cluster on sm_90) and epoch.cu with its
weights in shared and in global memory, timed as `nnaccel selftest` times its goals (CUDA events,
5 rounds after a warm-up, 60,000 embedded MNIST images). The chooser (MAX_WORK) and the model's
calibration (benchmarks/gpu_model.py) are read against these. Needs CuPy and a GPU.
"""

from __future__ import annotations

import argparse
import json
import sys

SIZES = ([784, 30, 10], [784, 100, 10])
PLACEMENTS = ("registers", "shared", "global")


def measure(out=print):
    import cupy

    from nnaccel.epochs.fast.persistent_epoch import PersistentEpoch
    from nnaccel.epochs.generic import EpochOptions
    from nnaccel.nets.network import Network
    from nnaccel.optim import SGDState
    from nnaccel.tools.epoch_timing import sixty_thousand, time_rounds

    x, labels = sixty_thousand()
    rows = []
    for sizes in SIZES:
        for placement in PLACEMENTS:
            net = Network(sizes, device="cuda", backend="cupy", dtype="float32", seed=0)
            data = net.data((x, labels))
            row = {"sizes": sizes, "mini_batch_size": 10, "dtype": "float32", "placement": placement}
            try:
                path = PersistentEpoch(net, EpochOptions(10, 0.5), placement=placement)
                row["timing"] = time_rounds(lambda: path(net, data, SGDState()), cuda=cupy.cuda)
                row["seconds"] = row["timing"]["events"]["median"]
            except Exception as error:  # a placement that cannot hold the network: say why
                row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
            rows.append(row)
            out(f"{sizes} {placement:9s} " + (f"{row['seconds']:.4g} s" if "seconds" in row else row["error"]))
    return rows


def command(measure, description, argv=None):
    """A device measurement as a command: print its rows as it goes, and ``--out FILE`` writes them as JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = measure()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


def main(argv=None):
    return command(measure, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
