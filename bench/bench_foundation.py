"""Benchmarks for the foundation and quantize: list-layers, convert and quantize against NNabla's own
NnpLoader load + get_network, on generated chain and branchy graphs of 100, 1,000 and 10,000 functions;
calibration against a plain forward; `nnsurgeon --help` start-up. Prints a table; numbers, not assertions.

    .venv/bin/python bench/bench_foundation.py [--sizes 100,1000,10000] [--repeat 3]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nnsurgeon  # noqa: E402,F401  (quiet NNabla logger)
from bench.models import generate  # noqa: E402
from bench.timing import best  # noqa: E402
from nnsurgeon._nnabla import nnabla_quiet  # noqa: E402

nn = nnabla_quiet()


def nnabla_load(path):
    from nnabla.utils.nnp_graph import NnpLoader

    with nn.parameter_scope("", OrderedDict()):
        NnpLoader(path).get_network("Runtime")


def ours_list_layers(path):
    from nnsurgeon.graph.layers import layer_rows
    from nnsurgeon.model import load_model

    layer_rows(load_model(path))


def ours_convert(path, out):
    from nnsurgeon.model import load_model, write_nnp

    write_nnp(load_model(path), out, force=True)


def ours_quantize(path, out, split=None):
    """load -> quantize after ReLU,Affine -> save; ``split`` collects (load, pass, save) seconds."""
    from nnsurgeon.api import quantize
    from nnsurgeon.model import load_model, write_nnp

    t0 = time.perf_counter()
    m = load_model(path)
    t1 = time.perf_counter()
    quantize(m, after=["ReLU", "Affine"])
    t2 = time.perf_counter()
    write_nnp(m, out, force=True)
    if split is not None:
        split[:] = [t1 - t0, t2 - t1, time.perf_counter() - t2]


def conv_model(path):
    """A small conv classifier on 1x28x28 inputs (MNIST-sized), saved with NNabla's own writer."""
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((1, 1, 28, 28))
        h = F.relu(PF.convolution(x, 16, (3, 3), pad=(1, 1), name="c1"))
        h = F.relu(PF.convolution(h, 16, (3, 3), pad=(1, 1), name="c2"))
        h = F.max_pooling(h, (2, 2))
        h = F.relu(PF.convolution(h, 32, (3, 3), pad=(1, 1), name="c3"))
        h = F.relu(PF.affine(h, 64, name="fc1"))
        y = PF.affine(h, 10, name="fc2")
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": x}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})


def calibration(path, tmp, method="minmax", batches=20, batch_size=64):
    from nnsurgeon.graph.network import Network
    from nnsurgeon.model import load_model
    from nnsurgeon.runtime.calibrate import Calibrator
    from nnsurgeon.runtime.data import DataSource
    from nnsurgeon.runtime.runner import Runner

    m = load_model(path)
    data = os.path.join(tmp, "calib.npy")
    np.save(data, np.random.RandomState(0).rand(batches * batch_size, 1, 28, 28).astype(np.float32))
    runner = Runner(m, "Runtime")
    for batch in DataSource(data, runner.input_shapes).batches(batch_size, 1):
        runner.run(batch, watch=runner.output_names, copy=False)  # warm up
    t = time.perf_counter()
    for batch in DataSource(data, runner.input_shapes).batches(batch_size):
        runner.run(batch, watch=runner.output_names, copy=False)
    plain = time.perf_counter() - t
    net = Network(m.network("Runtime"))
    wanted = {"Runtime": [f.output[0] for f in net.topological() if f.type in ("ReLU", "Affine")]}
    cal = Calibrator(data, batch_size=batch_size, method=method, progress=False)
    t = time.perf_counter()
    cal(m, wanted)
    return plain, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only-calibration", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("chain", "branchy") if not args.only_calibration else ():
            for n in sizes:
                path = os.path.join(tmp, f"{kind}{n}.nnp")
                count = generate(path, n, kind == "branchy")
                out = os.path.join(tmp, "out.nnp")
                rep = args.repeat if n < 10000 else max(1, args.repeat - 1)
                t_nn = best(lambda p=path: nnabla_load(p), rep)
                t_ll = best(lambda p=path: ours_list_layers(p), rep)
                t_cv = best(lambda p=path, o=out: ours_convert(p, o), rep)
                t_q = best(lambda p=path, o=out: ours_quantize(p, o), rep)
                split = []
                ours_quantize(path, out, split)
                rows.append((kind, count, t_nn, t_ll, t_cv, t_q))
                print(f"{kind:8s} {count:6d} functions: NnpLoader load+get_network {t_nn:7.3f}s | "
                      f"list-layers {t_ll:7.3f}s ({t_ll / t_nn:4.2f}x) | convert {t_cv:7.3f}s | "
                      f"quantize+save {t_q:7.3f}s ({t_q / t_cv:4.2f}x convert of the input; load {split[0]:.2f}s "
                      f"+ pass {split[1]:.2f}s + save {split[2]:.2f}s = "
                      f"{sum(split) / (split[0] + split[2]):.2f}x load+save of the same files)", flush=True)
        for kind in ("chain", "branchy"):
            r = [x for x in rows if x[0] == kind]
            for a, b in zip(r, r[1:]):
                print(f"{kind}: convert {b[1]}/{a[1]} functions = x{b[1] / a[1]:.0f} -> time x{b[4] / a[4]:.1f}")
        path = os.path.join(tmp, "conv.nnp")
        conv_model(path)
        for method in ("minmax", "ema", "percentile", "mse", "entropy"):
            plain, cal = calibration(path, tmp, method)
            print(f"calibration ({method}), conv net 1x28x28, 20 batches of 64: plain forward {plain:.3f}s, "
                  f"calibration {cal:.3f}s ({cal / plain:.2f}x)", flush=True)
    helps = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nnsurgeon", "--help"], capture_output=True, check=True)
        helps.append(time.perf_counter() - t)
    print(f"nnsurgeon --help: best {min(helps):.3f}s of 5")


if __name__ == "__main__":
    main()
