"""Docs are executable: every ```sh block of the README runs, in order, in one folder holding model.nnp (the
classifier example), calib.npz, x.npz, check.npz, images/ (8x8 grayscale PNGs) and labels.npy."""
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from nnsurgeon.examples import build_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh_blocks():
    text = open(os.path.join(ROOT, "README.md")).read()
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)


def _folder(tmp_path):
    build_example("classifier", str(tmp_path / "model.nnp"), batch=2)
    rng = np.random.RandomState(0)
    for name, n in (("calib", 32), ("x", 8), ("check", 16)):
        np.savez(tmp_path / f"{name}.npz", x=rng.randn(n, 1, 8, 8).astype(np.float32))
    np.save(tmp_path / "labels.npy", rng.randint(0, 10, 16))
    (tmp_path / "images").mkdir()
    for i in range(8):
        Image.fromarray(rng.randint(0, 256, (8, 8)).astype(np.uint8), mode="L").save(tmp_path / "images" / f"{i}.png")


def test_every_sh_block_runs_in_order(tmp_path):
    blocks = sh_blocks()
    assert len(blocks) >= 6
    _folder(tmp_path)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("COLUMNS", None)
    for block in blocks:
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                           text=True)
        assert p.returncode == 0, (block, p.stdout[-2000:], p.stderr[-2000:])
        assert "Traceback" not in p.stderr
    for made in ("model.q.nnp", "three.q.nnp", "acts.npz", "acts", "maps", "ref.npz", "out.nnp", "deploy.recipe.nnp"):
        assert (tmp_path / made).exists(), made
