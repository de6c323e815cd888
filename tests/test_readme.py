"""Docs are executable: every ```sh and ```python block of the README runs, in order, in one folder that holds
the files the README's examples name (built here: the classifier example as model.nnp, data, images)."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
FENCE = re.compile(r"^```(sh|python|\w+ file=[\w.-]+)\n(.*?)^```", re.S | re.M)  # 'yaml file=X': written to X


def readme_blocks():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return [(m.group(1), m.group(2), text[:m.start()].count("\n") + 1) for m in FENCE.finditer(text)]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    import shutil

    from PIL import Image

    import nnsurgeon
    from nnsurgeon.examples import build_example

    folder = tmp_path_factory.mktemp("readme")
    build_example("classifier", str(folder / "train.nnp"), batch=4, seed=2)
    model = nnsurgeon.load(str(folder / "train.nnp"))  # the inference form a user deploys
    nnsurgeon.remove(model, types=["Dropout", "ImageAugmentation"])
    nnsurgeon.save(model, str(folder / "model.nnp"))
    rng = np.random.RandomState(0)
    np.savez(folder / "calib.npz", x=rng.randn(128, 1, 8, 8).astype(np.float32))
    np.savez(folder / "check.npz", x=rng.randn(32, 1, 8, 8).astype(np.float32))
    np.savez(folder / "x.npz", x=rng.randn(8, 1, 8, 8).astype(np.float32))
    np.save(folder / "labels.npy", rng.randint(0, 10, size=32))
    (folder / "images").mkdir()
    for i in range(4):
        Image.fromarray(rng.randint(0, 255, (8, 8)).astype(np.uint8), "L").save(folder / "images" / f"img{i}.png")
    Image.fromarray(rng.randint(0, 255, (8, 8)).astype(np.uint8), "L").save(folder / "cat.png")
    shutil.copytree(os.path.join(ROOT, "recipes"), folder / "recipes")
    for name in ("calib.npz", "check.npz"):  # shipped recipes name data beside themselves
        shutil.copy(folder / name, folder / "recipes" / name)
    return folder


def test_the_readme_has_runnable_blocks():
    kinds = [k for k, _, _ in readme_blocks()]
    assert kinds.count("sh") >= 3 and kinds.count("python") >= 2


@pytest.mark.parametrize("kind,code,line", readme_blocks(), ids=lambda v: str(v) if isinstance(v, int) else None)
def test_readme_block_runs(workspace, kind, code, line):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), COLUMNS="100")
    if "file=" in kind:
        (workspace / kind.split("file=", 1)[1]).write_text(code)
        return
    if kind == "sh":
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=workspace, env=env, capture_output=True,
                           text=True, timeout=300)
    else:
        p = subprocess.run([sys.executable, "-c", code], cwd=workspace, env=env, capture_output=True, text=True,
                           timeout=300)
    assert p.returncode == 0, f"README.md line {line}:\n{code}\n--- stderr:\n{p.stderr[-3000:]}"
