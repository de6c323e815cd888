"""`make bench`: every speed ratio of issue 13 against a baseline measured in the same run, interleaved
repeats, medians. Builds its own models (bench/models.py). Numbers, not assertions.

    .venv/bin/python bench/bench_speed.py [--repeat 3] [--sizes 100,1000,10000] [--skip-10k]

Rows (each "ours / baseline", both measured in this process, repeats interleaved):
- quantize / NNabla load+save: ``run_plan(quantize --after ReLU,Affine)`` against ``NnpLoader`` +
  ``get_network`` + ``nnabla.utils.save.save`` of the same file;
- quantize / convert: against ``run_plan`` with no steps (nnsurgeon convert) of the same input;
- quantize / floor: against reading the input zip and writing the quantized output's bytes (same members,
  same compression) with nothing else;
- list-layers / NnpLoader: ``load_model`` + ``layer_rows`` against ``NnpLoader`` + ``get_network``;
- extract / plain forward: every layer of the digits CNN for random samples into a folder, against a plain
  NNabla forward of the same batches that appends the same arrays to .npy files;
- calibration / plain forward: every method on the digits CNN against a plain forward of the same batches;
- quantized forward / float forward: a fully quantized ResNet-18 shape (static MinMaxQuantize after every
  function, as nnsurgeon runs it for compare) against the float network, same batches.
"""
import argparse
import os
import platform
import sys
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.models import digits_cnn, generate, resnet18  # noqa: E402
from bench.timing import interleaved  # noqa: E402
from nnsurgeon._nnabla import nnabla_quiet  # noqa: E402

nn = nnabla_quiet()


def nnabla_load_save(path, out):
    from nnabla.utils.nnp_graph import NnpLoader
    from nnabla.utils.save import save

    with nn.parameter_scope("", OrderedDict()):
        g = NnpLoader(path).get_network("Runtime")
        save(out, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": g.outputs, "names": g.inputs}],
                   "executors": [{"name": "runtime", "network": "Runtime", "data": list(g.inputs),
                                  "output": list(g.outputs)}]})


def nnabla_load(path):
    from nnabla.utils.nnp_graph import NnpLoader

    with nn.parameter_scope("", OrderedDict()):
        NnpLoader(path).get_network("Runtime")


def quantize(path, out):
    from nnsurgeon.plan import Plan, Step, run_plan

    run_plan(path, Plan([Step("quantize", {"after": ["ReLU", "Affine"]})]), out, force=True, progress=False)


def convert(path, out):
    from nnsurgeon.plan import Plan, run_plan

    run_plan(path, Plan([]), out, force=True, progress=False)


def list_layers(path):
    from nnsurgeon.graph.layers import layer_rows
    from nnsurgeon.model import load_model

    layer_rows(load_model(path))


def floor(path, written, out):
    """Read every member of the input zip; write the members of ``written`` (bytes already known) with the
    compression each has there."""
    with zipfile.ZipFile(written) as zf:
        members = [(i.filename, i.compress_type, zf.read(i)) for i in zf.infolist()]

    def run():
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                zf.read(info)
        with open(out, "wb") as f, zipfile.ZipFile(f, "w") as zf:
            for name, compress, data in members:
                zf.writestr(name, data, compress_type=compress)
    return run


def one_process(fn, *args):
    """``fn(*args)`` with nnsurgeon's second-core work switched off (``NNSURGEON_NO_FORK=1``): NNabla's
    baseline uses one core."""
    os.environ["NNSURGEON_NO_FORK"] = "1"
    try:
        fn(*args)
    finally:
        del os.environ["NNSURGEON_NO_FORK"]


def model_io_rows(tmp, name, path, repeat):
    outs = {k: os.path.join(tmp, f"{name}.{k}.nnp") for k in ("nn", "q", "c", "f")}
    quantize(path, outs["q"])  # warm up, and the bytes the floor writes
    tasks = {
        "nnabla": lambda: nnabla_load_save(path, outs["nn"]),
        "quantize": lambda: quantize(path, outs["q"]),
        "quantize_1p": lambda: one_process(quantize, path, outs["q"]),
        "convert": lambda: convert(path, outs["c"]),
        "floor": floor(path, outs["q"], outs["f"]),
        "nnabla_load": lambda: nnabla_load(path),
        "list_layers": lambda: list_layers(path),
    }
    t = interleaved(tasks, repeat)
    row = {"model": name, "MB": os.path.getsize(path) / 1e6, **t}
    print(f"{name:14s} {row['MB']:6.1f} MB | quantize {t['quantize']:7.3f}s / NNabla load+save {t['nnabla']:7.3f}s "
          f"= {t['quantize'] / t['nnabla']:.2f}x | / convert {t['convert']:7.3f}s = {t['quantize'] / t['convert']:.2f}x"
          f" | / floor {t['floor']:6.3f}s = {t['quantize'] / t['floor']:.1f}x | list-layers {t['list_layers']:7.3f}s"
          f" / NnpLoader {t['nnabla_load']:7.3f}s = {t['list_layers'] / t['nnabla_load']:.2f}x"
          f" | quantize in one process {t['quantize_1p']:7.3f}s = {t['quantize_1p'] / t['nnabla']:.2f}x", flush=True)
    return row


def extract_row(tmp, repeat, samples=4000, batch_size=100):
    from nnsurgeon.model import load_model
    from nnsurgeon.runtime.data import RandomSource
    from nnsurgeon.runtime.extract import extract_to, resolve_layers
    from nnsurgeon.runtime.runner import Runner

    path = os.path.join(tmp, "digits.nnp")
    digits_cnn(path)
    m = load_model(path)
    layers = resolve_layers(m, "Runtime")
    runner = Runner(m, "Runtime", watch=[layer.variable for layer in layers])
    source = RandomSource(runner.input_shapes, samples, seed=0)

    def plain():
        folder = tempfile.mkdtemp(dir=tmp)
        files = {}
        live = runner._graph(batch_size)
        for batch in source.batches(batch_size):  # the same inputs, drawn the same way
            for k, v in live.inputs.items():
                v.d = batch[k]
            nn.forward_all(list(live.outputs.values()), clear_no_need_grad=True)
            for layer in layers:
                if layer.key not in files:
                    files[layer.key] = open(os.path.join(folder, layer.key.replace("/", "_") + ".npy"), "wb")
                live.variables[layer.variable].d.tofile(files[layer.key])
        for f in files.values():
            f.close()

    def ours():
        extract_to(m, "Runtime", layers, source, tempfile.mkdtemp(dir=tmp) + "/acts/", batch_size)

    plain()
    t = interleaved({"plain": plain, "extract": ours}, repeat)
    print(f"extract digits CNN, {len(layers)} layers, {samples} random samples, batch {batch_size}: "
          f"extract {t['extract']:.3f}s / plain forward writing the same arrays {t['plain']:.3f}s = "
          f"{t['extract'] / t['plain']:.2f}x", flush=True)
    return t


def calibration_rows(tmp, repeat, samples=4000, batch_size=100):
    """Every calibration method on the digits CNN (ranges after each Convolution, ReLU and Affine) against a
    plain forward of the same batches read from the same file (graph built in both)."""
    from nnsurgeon.model import load_model
    from nnsurgeon.runtime.calibrate import METHODS, Calibrator
    from nnsurgeon.runtime.data import open_source
    from nnsurgeon.runtime.runner import Runner

    path = os.path.join(tmp, "digits_calibration.nnp")
    digits_cnn(path)
    model = load_model(path)
    variables = [f.output[0] for f in model.network("Runtime").function
                 if f.type in ("Convolution", "ReLU", "Affine")]
    data = os.path.join(tmp, "calibration.npy")
    np.save(data, np.random.RandomState(0).randn(samples, 1, 28, 28).astype(np.float32))

    def plain():
        runner = Runner(model, "Runtime")
        for batch in open_source(data, runner.input_shapes).batches(batch_size):
            runner.run(batch, watch=runner.output_names, copy=False)

    def calibrate(method):
        return lambda: Calibrator(data, batch_size=batch_size, method=method, progress=False)(
            model, {"Runtime": variables})

    plain()
    t = interleaved({"plain": plain, **{m: calibrate(m) for m in METHODS}}, repeat)
    print(f"calibration digits CNN, {len(variables)} ranges, {samples} samples, batch {batch_size}, plain forward "
          f"{t['plain']:.3f}s: " + ", ".join(f"{m} {t[m]:.3f}s = {t[m] / t['plain']:.2f}x" for m in METHODS),
          flush=True)
    return t


def quantized_forward_row(tmp, repeat, batch_size=8, size=64):
    from nnsurgeon.api import quantize as quantize_pass
    from nnsurgeon.model import load_model
    from nnsurgeon.runtime.runner import Runner

    path = os.path.join(tmp, "resnet_small.nnp")
    resnet18(path, size=size)
    float_model = load_model(path)
    q_model = load_model(path)
    x = np.random.RandomState(0).randn(batch_size, 3, size, size).astype(np.float32)
    runner = Runner(float_model, "Runtime")
    types = sorted({f.type for f in q_model.network("Runtime").function})
    quantize_pass(q_model, after=types)  # fully quantized: after every function
    for f in q_model.network("Runtime").function:  # static ranges (as after calibration): stored qr_min/max
        if f.type == "MinMaxQuantize":
            f.min_max_quantize_param.x_min_max = False
            f.min_max_quantize_param.ema = True
    q_runner = Runner(q_model, "Runtime")
    for r in (runner, q_runner):
        r.run({"x": x}, watch=r.output_names, copy=False)
    n = sum(1 for f in q_model.network("Runtime").function if f.type == "MinMaxQuantize")

    def forward(r):
        return lambda: [r.run({"x": x}, watch=r.output_names, copy=False) for _ in range(3)]

    t = interleaved({"float": forward(runner), "quantized": forward(q_runner)}, repeat)
    print(f"ResNet-18 shape {size}x{size}, batch {batch_size}, {n} MinMaxQuantize: quantized forward "
          f"{t['quantized']:.3f}s / float forward {t['float']:.3f}s = {t['quantized'] / t['float']:.2f}x", flush=True)
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--only", default="io,extract,calibration,qforward")
    args = ap.parse_args()
    import h5py
    import nnabla

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; Python {platform.python_version()}, NNabla "
          f"{nnabla.__version__}, numpy {np.__version__}, h5py {h5py.__version__}; medians of {args.repeat} "
          "interleaved runs", flush=True)
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if "io" in only:
            path = os.path.join(tmp, "resnet18.nnp")
            resnet18(path)
            model_io_rows(tmp, "resnet18", path, args.repeat)
            for n in [int(s) for s in args.sizes.split(",")]:
                for kind in ("chain", "dag") if n >= 1000 else ("chain",):
                    path = os.path.join(tmp, f"{kind}{n}.nnp")
                    generate(path, n, kind == "dag")
                    model_io_rows(tmp, f"{kind} {n}", path, args.repeat if n < 10000 else max(1, args.repeat - 1))
        if "extract" in only:
            extract_row(tmp, args.repeat)
        if "calibration" in only:
            calibration_rows(tmp, args.repeat)
        if "qforward" in only:
            quantized_forward_row(tmp, args.repeat)


if __name__ == "__main__":
    main()
