"""The fuzzer (issue 14): mutated models, recipes and data from the suite's own examples, through the CLI.

Every variant must end in exit 0, or exit 2 with one ``Error:`` line, in time, never by a signal, with its inputs
unchanged and nothing left behind (see :mod:`tests.fuzz.campaign`). 500 variants of seed 0 run in the normal
suite; ``NNSURGEON_FUZZ=5000`` runs that many (``NNSURGEON_FUZZ_SEED`` picks another seed).

The variants run in one child process (in-process CLI calls, fast), so a crash by a signal shows as that
child's death: the test names the variant it was running and resumes after it.
"""
import collections
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNT = int(os.environ.get("NNSURGEON_FUZZ", "500"))
SEED = int(os.environ.get("NNSURGEON_FUZZ_SEED", "0"))
TIME_LIMIT = 30  # seconds per variant


WORKERS = max(1, min(2, os.cpu_count() or 1))


def _worker(tmp_path, k, first, last):
    """Child process ``k`` runs variants first..last-1; restarted after a variant that killed it."""
    report = tmp_path / f"fuzz{k}.jsonl"
    report.touch()
    return {"report": report, "first": first, "last": last, "start": first, "deaths": [], "child": None,
            "workdir": tmp_path / f"w{k}"}


def _launch(w):
    w["child"] = subprocess.Popen(
        [sys.executable, "-m", "tests.fuzz.campaign", "--seed", str(SEED), "--start", str(w["start"]),
         "--count", str(w["last"]), "--report", str(w["report"]), "--time-limit", str(TIME_LIMIT),
         "--workdir", str(w["workdir"])], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _campaign(tmp_path):
    """Run every variant in ``WORKERS`` children; return (records, deaths by a signal or an exit)."""
    bounds = [COUNT * k // WORKERS for k in range(WORKERS + 1)]
    workers = [_worker(tmp_path, k, bounds[k], bounds[k + 1]) for k in range(WORKERS)]
    for w in workers:
        _launch(w)
    running = list(workers)
    while running:
        w = running.pop(0)
        _, stderr = w["child"].communicate(timeout=TIME_LIMIT * 4 + COUNT * 5)
        if w["child"].returncode == 0:
            continue
        started = [json.loads(x)["start"] for x in w["report"].read_text().splitlines() if '"start"' in x]
        if not started:
            raise AssertionError(f"the fuzz campaign did not start: {stderr[-2000:]}")
        w["deaths"].append({"n": started[-1], "returncode": w["child"].returncode, "stderr": stderr[-500:]})
        w["start"] = started[-1] + 1
        if w["start"] < w["last"]:
            _launch(w)
            running.append(w)
    records = [json.loads(x) for w in workers for x in w["report"].read_text().splitlines() if '"n"' in x]
    return records, [d for w in workers for d in w["deaths"]]


def test_fuzz_variants_end_cleanly(tmp_path, capsys):
    records, deaths = _campaign(tmp_path)
    counts = collections.Counter(str(r["exit"]) for r in records)
    families = collections.Counter(r["family"] for r in records)
    seconds = sum(r["seconds"] for r in records)
    cpu = sum(r["cpu"] for r in records)
    problems = [r for r in records if "problem" in r]
    with capsys.disabled():
        print(f"\nfuzz seed {SEED}: {len(records) + len(deaths)} variants in {seconds:.0f} s of runs ({cpu:.0f} s CPU): "
              f"{counts.get('0', 0)} exit 0, {counts.get('2', 0)} clean exit 2, {len(problems)} problems, "
              f"{len(deaths)} killed by a signal; families {dict(sorted(families.items()))}")
    assert len(records) + len(deaths) == COUNT
    shown = "\n".join(f"variant {r['n']} ({r['family']}: {r['what']}; {r['command']}): {r['problem']} "
                      f"{r['stderr'][:2]}" for r in problems[:20])
    assert not deaths, f"killed by a signal: {deaths[:5]}"
    assert not problems, f"{len(problems)} variants misbehaved (rerun one with python -m tests.fuzz.campaign " \
                         f"--seed {SEED} --only N):\n{shown}"
