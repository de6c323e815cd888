"""Issue 11 figures, each against a baseline measured in the same run (best of 2):

1. extract of the first layer only: the forward computes what the chosen layers need (only_watched) against
   the whole network (the previous behaviour), residual example, 1x8x8 inputs, batch 100.
2. calibrating a three-network file (Training, Validation, Runtime) with no --network (the default network
   runs the data once; the others get its ranges) against naming all three (each network runs the data).
"""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.timing import best  # noqa: E402
from nnsurgeon import load  # noqa: E402
from nnsurgeon.examples import build_example  # noqa: E402
from nnsurgeon.runtime.data import ArraySource  # noqa: E402
from nnsurgeon.runtime.extract import resolve_layers  # noqa: E402
from nnsurgeon.runtime.runner import Runner  # noqa: E402


def bench_extract(folder):
    path = os.path.join(folder, "res.nnp")
    build_example("residual", path, batch=100)
    m = load(path)
    [first] = resolve_layers(m, "Runtime", ["@Runtime/Convolution"])
    x = np.random.RandomState(0).randn(20000, 1, 8, 8).astype(np.float32)
    src = ArraySource({"x": x}, {"x": (1, 8, 8)})

    def run(only):
        r = Runner(m, "Runtime", watch=[first.variable], only_watched=only)
        for b in src.batches(100):
            r.run(b, copy=False)

    full, only = best(lambda: run(False)), best(lambda: run(True))
    print(f"extract first layer, 20,000 samples: whole network {full:.3f} s, needed part {only:.3f} s "
          f"({full / only:.2f}x faster)")


def bench_calibrate(folder):
    from nnsurgeon import quantize

    path = os.path.join(folder, "three.nnp")
    build_example("multi-network", path, batch=100)
    data = os.path.join(folder, "x.npy")
    np.save(data, np.random.RandomState(0).randn(50000, 4).astype(np.float32))

    def run(networks):
        quantize(load(path), after=["ReLU", "Affine"], calibrate=data, batch_size=100, networks=networks)

    named = best(lambda: run(["Training", "Validation", "Runtime"]))
    default = best(lambda: run(None))
    print(f"calibrate three networks, 50,000 samples: all named {named:.3f} s, default {default:.3f} s "
          f"({named / default:.2f}x faster)")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        bench_extract(tmp)
        bench_calibrate(tmp)
