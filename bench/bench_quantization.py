"""Quantization benchmark: accuracy and output SQNR of quantized models against float, and the cost of
calibration and of a full sensitivity sweep against a plain forward over the same data. Numbers, not
assertions; results go to bench/README.md.

Models, trained here with NNabla on scikit-learn's digits (8x8 images, 1400 train / 397 test, no
downloads): ``mlp`` (64-64-10, as tests/test_calibration.py) and ``rescnn`` (a small residual CNN: stem
conv, two residual blocks, affine head). Plus ``deep``: an untrained residual CNN of about 150 functions for
the sweep timing.

    .venv/bin/python bench/bench_quantization.py [--steps 400] [--deep-blocks 29]
"""
import argparse
import os
import sys
import tempfile
import time
from collections import OrderedDict

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def digits_data():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.RandomState(0).permutation(len(x))
    return x[order[:1400]], y[order[:1400]], x[order[1400:]], y[order[1400:]]


def mlp(F, PF, x):
    h = F.relu(PF.affine(x, 64, name="fc1", rng=np.random.RandomState(1)))
    return PF.affine(h, 10, name="fc2", rng=np.random.RandomState(2))


def rescnn(F, PF, x, blocks=2, channels=16):
    h = F.relu(PF.convolution(x, channels, (3, 3), pad=(1, 1), name="stem", rng=np.random.RandomState(1)))
    for i in range(blocks):
        r = F.relu(PF.convolution(h, channels, (3, 3), pad=(1, 1), name=f"b{i}a", rng=np.random.RandomState(10 + i)))
        r = PF.convolution(r, channels, (3, 3), pad=(1, 1), name=f"b{i}b", rng=np.random.RandomState(20 + i))
        h = F.relu(F.add2(h, r))
    return PF.affine(h, 10, name="fc", rng=np.random.RandomState(3))


def train_and_save(name, body, shape, path, xtr, ytr, steps):
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    from nnabla.utils.save import save

    scope = OrderedDict()
    nn.seed(0)
    with nn.parameter_scope("", scope):
        x = nn.Variable((64,) + shape)
        t = nn.Variable((64, 1))
        loss = F.mean(F.softmax_cross_entropy(body(F, PF, x), t))
        solver = S.Adam(0.01 if name == "mlp" else 0.003)
        solver.set_parameters(nn.get_parameters())
        rng = np.random.RandomState(0)
        xs = xtr.reshape((-1,) + shape)
        for _ in range(steps):
            idx = rng.choice(len(xs), 64)
            x.d, t.d = xs[idx], ytr[idx, None]
            loss.forward()
            solver.zero_grad()
            loss.backward()
            solver.update()
        xr = nn.Variable((1,) + shape)
        y = body(F, PF, xr)
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": xr}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})


def deep_model(path, blocks):
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        xr = nn.Variable((1, 1, 8, 8))
        y = rescnn(F, PF, xr, blocks=blocks, channels=8)
        for k, v in nn.get_parameters().items():  # scaled so activations stay in range through the depth
            v.d = np.random.RandomState(abs(hash(k)) % 2 ** 31).randn(*v.shape).astype(np.float32) * (
                0.1 if "/W" in k else 0.01)
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": xr}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})


def plain_forward(model, data, batch_size):
    """Seconds for one forward of every batch of ``data`` through the float network (graph built first)."""
    from nnsurgeon.runtime.data import DataSource
    from nnsurgeon.runtime.runner import Runner

    runner = Runner(model, "Runtime")
    source = DataSource(data, runner.input_shapes)
    for batch in source.batches(batch_size, 2):
        runner.run(batch, watch=runner.output_names, copy=False)
    best = None
    for _ in range(2):
        t = time.perf_counter()
        for batch in source.batches(batch_size):
            runner.run(batch, watch=runner.output_names, copy=False)
        best = min(best or 1e9, time.perf_counter() - t)
    return best


def accuracy_rows(name, path, calib, test, labels, after):
    import nnsurgeon
    from nnsurgeon.runtime.compare import compare_models

    rows = []
    float_model = nnsurgeon.load(path)
    for bits in (8, 4):
        for what in ("activations", "activations + weights"):
            for method in ("minmax", "ema", "percentile", "mse", "entropy"):
                q = float_model.copy()
                weights = {"weights": bits} if what != "activations" else {}
                nnsurgeon.quantize(q, after=after, bits=bits, calibrate=calib, method=method, batch_size=64,
                                   **weights)
                r = compare_models(float_model, q, data=test, labels=labels, batch_size=64)["outputs"][0]
                rows.append((name, bits, what, method, r["accuracy_a"], r["accuracy_b"], r["sqnr_db"]))
                print(rows[-1], flush=True)
    return rows


def timing_row(name, path, calib, test, labels, after, cumulative=False):
    import nnsurgeon
    model = nnsurgeon.load(path)
    plain_calib = plain_forward(model, calib, 64)
    plain_test = plain_forward(model, test, 64)
    q = model.copy()
    t = time.perf_counter()
    nnsurgeon.quantize(q, after=after, calibrate=calib, batch_size=64)
    calib_s = time.perf_counter() - t
    quant_test = plain_forward(q, test, 64)  # what each pass of a one-graph (0/1 switch) sweep would cost
    report = nnsurgeon.sensitivity(model, data=test, labels=labels, after=after, calibrate=calib, batch_size=64,
                                   cumulative=cumulative)
    functions = len(model.network("Runtime").function)
    n = len(report["quantizers"])
    row = (name, functions, n, plain_calib, calib_s, plain_test, quant_test, report["seconds"]["sweep"],
           report["forward_passes"])
    print(row, flush=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--deep-blocks", type=int, default=29)
    ap.add_argument("--no-timing", action="store_true", help="Only the accuracy table.")
    args = ap.parse_args()
    import nnsurgeon  # noqa: F401 (quiet NNabla's logger)

    xtr, ytr, xte, yte = digits_data()
    with tempfile.TemporaryDirectory() as d:
        calib_flat, test_flat = os.path.join(d, "calib_flat.npy"), os.path.join(d, "test_flat.npy")
        calib_img, test_img = os.path.join(d, "calib_img.npy"), os.path.join(d, "test_img.npy")
        labels = os.path.join(d, "labels.npy")
        np.save(calib_flat, xtr)
        np.save(test_flat, xte)
        np.save(calib_img, xtr.reshape(-1, 1, 8, 8))
        np.save(test_img, xte.reshape(-1, 1, 8, 8))
        np.save(labels, yte)
        paths = {k: os.path.join(d, k + ".nnp") for k in ("mlp", "rescnn", "deep")}
        train_and_save("mlp", mlp, (64,), paths["mlp"], xtr, ytr, args.steps)
        train_and_save("rescnn", rescnn, (1, 8, 8), paths["rescnn"], xtr, ytr, args.steps)
        deep_model(paths["deep"], args.deep_blocks)
        after = ["ReLU", "Affine"]
        rows = accuracy_rows("mlp", paths["mlp"], calib_flat, test_flat, labels, after)
        rows += accuracy_rows("rescnn", paths["rescnn"], calib_img, test_img, labels, after)
        timings = [] if args.no_timing else [timing_row("mlp", paths["mlp"], calib_flat, test_flat, labels, after),
                   timing_row("rescnn", paths["rescnn"], calib_img, test_img, labels, after),
                   timing_row("deep", paths["deep"], calib_img, test_img, labels, ["ReLU"])]
    print("\n| model | bits | quantized | calibration | float acc | quantized acc | output SQNR |")
    print("| --- | ---: | --- | --- | ---: | ---: | ---: |")
    for name, bits, what, method, fa, qa, s in rows:
        print(f"| {name} | {bits} | {what} | {method} | {100 * fa:.2f}% | {100 * qa:.2f}% | {s:.2f} dB |")
    if not timings:
        return
    print("\n| model | functions | quantizers | plain forward (calib set) | calibration | plain forward (test set) "
          "| quantized forward (test set) | sensitivity sweep | passes | sweep / plain forward |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, functions, n, pc, cs, pt, qt, sw, passes in timings:
        print(f"| {name} | {functions} | {n} | {pc:.3f} s | {cs:.3f} s ({cs / pc:.2f}x) | {pt:.3f} s | "
              f"{qt:.3f} s ({qt / pt:.1f}x) | {sw:.3f} s | {passes} | {sw / pt:.1f}x ({sw / pt / passes:.2f}x per "
              "pass) |")


if __name__ == "__main__":
    main()
