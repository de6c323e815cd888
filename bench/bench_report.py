"""report benchmark: the page of a generated chain (``nnsurgeon.examples.build_deep``: Affine/ReLU blocks in
name scopes, residual Add2 every second block) at 100, 1,000 and 10,000 functions. Times, best of
``--repeat``: the command (load + graph data + DOT + HTML, no data), opening the page in headless Chromium
until the layout is done, and Graphviz's layout of the main view alone (``window.nnsReport.layoutMs``).
Numbers, not assertions.

    .venv/bin/python bench/bench_report.py [--functions 100,1000,10000] [--repeat 2]
"""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from nnsurgeon.examples import build_deep  # noqa: E402
from tests.browser import open_page, start  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", default="100,1000,10000")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    from nnsurgeon.api import load
    from nnsurgeon.report.report import build_report, render

    driver, why = start()
    if driver is None:
        sys.exit(why)
    print("| functions | view | command | page ready | layout (main view) | one group | page size |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in [int(x) for x in args.functions.split(",")]:
                model = build_deep(os.path.join(tmp, f"deep{n}.nnp"), n)
                page = os.path.join(tmp, f"deep{n}.html")
                command, ready, layout, group = [], [], [], []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    text = render(build_report(load(model)))
                    with open(page, "w", encoding="utf-8") as f:
                        f.write(text)
                    command.append(time.perf_counter() - t0)
                    ready.append(open_page(driver, page, timeout=600))
                    layout.append(driver.execute_script("return window.nnsReport.layoutMs.main") / 1000)
                    groups = driver.execute_script(
                        "return JSON.parse(document.getElementById('nns-data').textContent).graph.groups")
                    if groups:
                        driver.execute_script("document.getElementById(arguments[0]).dispatchEvent("
                                              "new MouseEvent('dblclick', {bubbles: true}))", groups[0]["id"])
                        group.append(driver.execute_script(
                            "return window.nnsReport.layoutMs[arguments[0]]", groups[0]["id"]) / 1000)
                view = f"{len(groups)} groups" if groups else "whole graph"
                print(f"| {n:,} | {view} | {min(command):.2f} s | {min(ready):.2f} s | {min(layout):.2f} s | "
                      f"{f'{min(group):.3f} s' if group else '-'} | {os.path.getsize(page) / 2**20:.1f} MiB |",
                      flush=True)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
