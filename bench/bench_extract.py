"""extract benchmark: three layers of the residual example (digits-sized 1x8x8 inputs) for N samples into a
folder; peak RSS for growing N (each N in a fresh process) and time against a plain forward of the same
batches in the same process. Numbers, not assertions.

    .venv/bin/python bench/bench_extract.py [--samples 1000,10000,40000] [--batch-size 100]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def peak_rss_mb() -> float:
    """This process's peak RSS. /proc's VmHWM belongs to this program image alone; getrusage's ru_maxrss
    keeps the parent's high-water mark across fork+exec on Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(model, data, out, batch_size):
    import nnsurgeon  # noqa: F401
    from nnsurgeon.model import load_model
    from nnsurgeon.runtime.data import DataSource
    from nnsurgeon.runtime.extract import extract_to, resolve_layers
    from nnsurgeon.runtime.runner import Runner

    m = load_model(model)
    layers = resolve_layers(m, "Runtime", ["@Runtime/ReLU", "@Runtime/Add2", "@Runtime/Affine_1"])
    runner = Runner(m, "Runtime")
    source = DataSource(data, runner.input_shapes)
    for batch in source.batches(batch_size, 2):
        runner.run(batch, watch=runner.output_names, copy=False)  # warm up
    t = time.perf_counter()
    for batch in source.batches(batch_size):
        runner.run(batch, watch=runner.output_names, copy=False)
    plain = time.perf_counter() - t
    t = time.perf_counter()
    extract_to(m, "Runtime", layers, source, out, batch_size, force=True)
    ext = time.perf_counter() - t
    rss = peak_rss_mb()
    print(json.dumps({"plain": plain, "extract": ext, "rss_mb": rss}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", default="1000,10000,40000")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child, args.batch_size)
        return
    import numpy as np

    import nnsurgeon  # noqa: F401
    from nnsurgeon.examples import build_example

    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "m.nnp")
        build_example("residual", model)
        for n in [int(s) for s in args.samples.split(",")]:
            data = os.path.join(tmp, f"x{n}.npy")
            np.save(data, np.random.RandomState(0).rand(n, 1, 8, 8).astype(np.float32))
            out = os.path.join(tmp, f"acts{n}") + "/"
            res = subprocess.run([sys.executable, __file__, "--child", model, data, out, "--batch-size",
                                  str(args.batch_size)], capture_output=True, text=True, check=True)
            r = json.loads(res.stdout.strip().splitlines()[-1])
            size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)) / 2 ** 20
            print(f"{n:6d} samples, 3 layers ({size:.0f} MiB written): plain forward {r['plain']:.3f}s, "
                  f"extract {r['extract']:.3f}s ({r['extract'] / r['plain']:.2f}x), peak RSS {r['rss_mb']:.0f} MiB",
                  flush=True)


if __name__ == "__main__":
    main()
