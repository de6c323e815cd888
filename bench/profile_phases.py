"""Where `quantize` spends its time, per phase: read (zip members), parse (protobuf + h5), validate, view
(Network views), pass (the rewrite, build-check excluded), build-check (NNabla builds the changed network),
render (protobuf/h5 bytes, each parsed back and compared), compress, write (zip), verify (the written zip
read back, its bytes compared).

    .venv/bin/python bench/profile_phases.py [--models resnet18,chain10000] [--top 0] [--wall]

By default from cProfile (which inflates code with many small Python calls: compare phases within one run,
not runs of different code). ``--wall``: wall-clock seconds of each phase, exclusive of the phases inside it,
measured by timing the few top-level functions of each phase (no profiler): the numbers to compare across
versions of the code.
"""
import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.models import generate, resnet18  # noqa: E402

# phase -> (file suffix, function name) whose cumulative time is the phase; later phases are subtracted
# from the ones that contain them (see _phases).
_PROBES = {
    "read": [("model/reader.py", "read_nnp")],
    "parse": [("model/reader.py", "_parse_members")],
    "validate": [("model/validate.py", "validate")],
    "view": [("graph/network.py", "__init__")],
    "pass": [("nnsurgeon/plan.py", "run_step")],
    "build-check": [("nnsurgeon/plan.py", "check_buildable")],
    "render": [("model/writer.py", "_render_checked")],
    "write": [("model/writer.py", "write_nnp")],
    "compress": [("~", "<method 'compress' of 'zlib.Compress' objects>"),
                 ("~", "<built-in method zlib.compress>")],
    "verify": [("model/writer.py", "_verify_written")],
    "function table": [("graph/functions.py", "function_info")],
}


def _cum(stats, probes):
    total = 0.0
    for (path, _, name), (_, _, _, ct, _) in stats.stats.items():
        for suffix, fname in probes:
            if name == fname and path.endswith(suffix):
                total += ct
    return total


def profile_quantize(path, out, after=("ReLU", "Affine")):
    from nnsurgeon.plan import Plan, Step, run_plan

    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    run_plan(path, Plan([Step("quantize", {"after": list(after)})]), out, force=True, progress=False)
    prof.disable()
    wall = time.perf_counter() - t
    stats = pstats.Stats(prof)
    c = {k: _cum(stats, v) for k, v in _PROBES.items()}
    # nested: write_nnp contains render (with the parse back), compress, verify; check_buildable contains
    # validate (again). A child process's work (model/beside.py) is not in the profile.
    phases = {
        "read+parse (load)": None,
        "validate": c["validate"],
        "view": c["view"],
        "pass": c["pass"] - c["view"],
        "build-check": c["build-check"] - min(c["validate"], c["build-check"]) / 2,
        "render": c["render"],
        "compress": c["compress"],
        "write zip": c["write"] - c["render"] - c["compress"] - c["verify"],
        "verify": c["verify"],
        "function table": c["function table"],
    }
    phases["read+parse (load)"] = c["read"]
    return wall, phases, stats


_WALL_PROBES = [  # (module, attribute, phase); the module attribute the caller looks up at call time
    ("nnsurgeon.model", "read_nnp", "read+parse (load)"),
    ("nnsurgeon.model", "validate", "validate"),
    ("nnsurgeon.plan", "run_step", "pass"),
    ("nnsurgeon.plan", "check_buildable", "build-check"),
    ("nnsurgeon.plan", "write_nnp", "write zip"),
    ("nnsurgeon.model.writer", "_render_checked", "render + parse back"),
    ("nnsurgeon.model.writer", "_verify_written", "verify written bytes"),
]


def wall_quantize(path, out, after=("ReLU", "Affine")):
    """(wall seconds, {phase: exclusive wall seconds}) of one quantize, timing the probes above."""
    import importlib

    from nnsurgeon.plan import Plan, Step, run_plan

    spent = {phase: 0.0 for _, _, phase in _WALL_PROBES}
    stack = []  # time spent in probed children of each open probe

    def timed(fn, phase):
        def wrapper(*a, **k):
            stack.append(0.0)
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                total = time.perf_counter() - t
                children = stack.pop()
                spent[phase] += total - children
                if stack:
                    stack[-1] += total
        return wrapper

    saved = []
    for module, attr, phase in _WALL_PROBES:
        mod = importlib.import_module(module)
        saved.append((mod, attr, getattr(mod, attr)))
        setattr(mod, attr, timed(getattr(mod, attr), phase))
    try:
        t = time.perf_counter()
        run_plan(path, Plan([Step("quantize", {"after": list(after)})]), out, force=True, progress=False)
        wall = time.perf_counter() - t
    finally:
        for mod, attr, fn in saved:
            setattr(mod, attr, fn)
    spent["other"] = wall - sum(spent.values())
    return wall, spent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet18,chain10000")
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("--wall", action="store_true", help="wall-clock phases, no profiler (median of 3)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path = os.path.join(tmp, name + ".nnp")
            if name == "resnet18":
                resnet18(path)
            else:
                kind = "chain" if name.startswith("chain") else "branchy"
                generate(path, int(name[len(kind):]), kind == "branchy")
            if args.wall:
                out = os.path.join(tmp, "out.nnp")
                wall_quantize(path, out)  # warm: imports, NNabla's start-up
                runs = sorted((wall_quantize(path, out) for _ in range(3)), key=lambda r: r[0])
                wall, phases = runs[1]
                print(f"{name}: quantize --after ReLU,Affine, {os.path.getsize(path) / 1e6:.1f} MB in, "
                      f"{wall:.2f} s wall (the median of 3 runs)")
                for k, v in phases.items():
                    print(f"  {k:18s} {v:7.2f} s")
                continue
            wall, phases, stats = profile_quantize(path, os.path.join(tmp, "out.nnp"))
            print(f"{name}: quantize --after ReLU,Affine, {os.path.getsize(path) / 1e6:.1f} MB in, "
                  f"{wall:.2f} s under cProfile")
            for k, v in phases.items():
                print(f"  {k:18s} {v:7.2f} s")
            if args.top:
                stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
