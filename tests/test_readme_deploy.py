"""Docs are executable: the shell blocks of README's "Quantizing for deployment" run as written, in a folder
holding model.nnp (the classifier example) and calib.npz."""
import os
import subprocess
import sys

import numpy as np

from nnsurgeon.examples import build_example

from .conftest import count_type, nnabla_outputs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _blocks(section):
    text = open(os.path.join(ROOT, "README.md")).read()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [b.split("```", 1)[0] for b in body.split("```sh\n")[1:]]


def test_deployment_section_runs(tmp_path):
    blocks = _blocks("Quantizing for deployment")
    assert blocks
    build_example("classifier", str(tmp_path / "model.nnp"), batch=4, seed=2)
    np.savez(tmp_path / "calib.npz", x=np.random.RandomState(0).randn(128, 1, 8, 8).astype(np.float32))
    shell = f'set -e\nnnsurgeon() {{ "{sys.executable}" -m nnsurgeon "$@"; }}\n' + "\n".join(blocks)
    p = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    int8 = tmp_path / "model.int8.nnp"
    assert count_type(int8, "Runtime", "QuantizeLinear") == 9 and count_type(int8, "Runtime", "BatchNormalization") == 0
    _, outs = nnabla_outputs(str(int8), "Runtime")
    assert np.isfinite(outs["y"]).all()
    assert "cosine" in p.stdout
