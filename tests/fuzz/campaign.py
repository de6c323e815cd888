"""Run fuzz variants through the CLI in this process (click's CliRunner) and record one JSON line per variant.

    python -m tests.fuzz.campaign --seed 0 --count 5000 --report fuzz.jsonl
    python -m tests.fuzz.campaign --seed 0 --only 1234        # one variant again, with its stderr

Every variant must end in exit 0, or exit 2 with exactly one ``Error:`` line (also counting what C libraries
write to file descriptor 2), within ``--time-limit`` seconds, with its input files unchanged and nothing left
in its folders but the inputs and, on success, the output it names. A line ``{"start": N}`` is written before
variant N runs, so a parent that sees this process die by a signal knows which variant did it and can resume
after it (``--start``); :mod:`tests.test_fuzz` does that.
"""
import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time


class _Hang(BaseException):  # not an Exception: the CLI's error boundary must not catch it
    pass


def _alarm(signum, frame):
    raise _Hang()


@contextlib.contextmanager
def _fd2_captured(path):
    """What anything (libprotobuf, HDF5, NNabla's C++) writes to file descriptor 2 goes to ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(target, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def run_variant(v, folder: str, time_limit: float) -> dict:
    """Run variant ``v`` in ``folder`` (emptied first); return its record, with ``problem`` set on failure."""
    from click.testing import CliRunner

    from nnsurgeon.cli import cli

    shutil.rmtree(folder, ignore_errors=True)
    inputs, outputs = os.path.join(folder, "in"), os.path.join(folder, "out")
    os.makedirs(inputs)
    os.makedirs(outputs)
    for name, data in v.files.items():
        with open(os.path.join(inputs, name), "wb") as f:
            f.write(data)
    before = {n: hashlib.sha256(d).hexdigest() for n, d in v.files.items()}
    args = [a.replace("{in}", inputs).replace("{out}", outputs) for a in v.args]
    named_outputs = {os.path.basename(a) for a in args if a.startswith(outputs)}
    record = {"n": v.number, "family": v.family, "what": v.what, "command": v.args[0]}
    fd2 = os.path.join(folder, "fd2.txt")
    start, cpu = time.perf_counter(), time.process_time()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        with _fd2_captured(fd2):
            result = CliRunner().invoke(cli, args, catch_exceptions=True)
        code, stderr, exc = result.exit_code, result.stderr, result.exception
    except _Hang:
        code, stderr, exc = "hang", "", None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["cpu"] = round(time.process_time() - cpu, 3)  # wall time on a loaded machine says little
    if isinstance(exc, _Hang):
        code = "hang"
    with open(fd2, "rb") as f:
        raw = f.read().decode("utf-8", "replace")
    os.unlink(fd2)
    lines = [x for x in (stderr + raw).splitlines() if x.strip()]
    record["exit"] = code
    record["stderr"] = lines[:3]
    problem = None
    if code == "hang":
        problem = f"ran past {time_limit} s"
    elif code not in (0, 2):
        problem = f"exit {code}" + (f" ({type(exc).__name__}: {exc})" if exc and not isinstance(exc, SystemExit)
                                    else "")
    elif code == 2 and (len(lines) != 1 or not lines[0].startswith("Error: ")):
        problem = f"exit 2 with {len(lines)} stderr lines"
    elif code == 0 and raw.strip():
        problem = "exit 0 with lines on file descriptor 2"
    after = {}
    for name in os.listdir(inputs):
        with open(os.path.join(inputs, name), "rb") as f:
            after[name] = hashlib.sha256(f.read()).hexdigest()
    if after != before:
        problem = problem or f"inputs changed or files left beside them: {sorted(set(after) ^ set(before))}"
    left = set(os.listdir(outputs)) - (named_outputs if code == 0 else set())
    if left:
        problem = problem or f"files left behind: {sorted(left)}"
    if set(os.listdir(folder)) != {"in", "out"}:
        problem = problem or f"files left in the folder: {sorted(os.listdir(folder))}"
    if problem:
        record["problem"] = problem
    shutil.rmtree(folder, ignore_errors=True)
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--only", type=int, default=None)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--report", default=None, help="JSON lines, one per variant (default: stdout)")
    parser.add_argument("--workdir", default=None)
    a = parser.parse_args(argv)

    from nnsurgeon._nnabla import nnabla_quiet

    from .mutate import Seeds, variant

    nnabla_quiet()
    work = a.workdir or tempfile.mkdtemp(prefix="nnsurgeon-fuzz-")
    os.makedirs(os.path.join(work, "seeds"), exist_ok=True)
    seeds = Seeds(os.path.join(work, "seeds"))
    report = open(a.report, "a") if a.report else sys.stdout
    numbers = [a.only] if a.only is not None else range(a.start, a.count)
    try:
        for n in numbers:
            v = variant(seeds, a.seed, n)
            report.write(json.dumps({"start": n}) + "\n")
            report.flush()
            record = run_variant(v, os.path.join(work, "run"), a.time_limit)
            if a.only is not None:
                print(json.dumps(record, indent=1), file=sys.stderr)
            report.write(json.dumps(record) + "\n")
            report.flush()
    finally:
        if report is not sys.stdout:
            report.close()
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
