"""extract on large outputs: the size is estimated and said before the work, refused over --max-bytes, and
--reduce writes one value per channel (or a histogram) instead of whole activations."""
import json
import os

import numpy as np
import pytest

from .conftest import assert_user_error, files_in, run


@pytest.fixture()
def residual(examples):
    return examples[("residual", "nntxt+h5")]


def test_estimate_is_what_is_written(residual, tmp_path):
    out = tmp_path / "acts"
    r = run("extract", residual, "--random", "--samples", "10", "-o", str(out) + "/")
    assert r.exit_code == 0, r.stderr
    line = [x for x in r.stderr.splitlines() if x.startswith("extract: ")][0]
    index = json.load(open(out / "index.json"))
    data_bytes = sum(os.path.getsize(out / layer["file"]) for layer in index["layers"]) - sum(
        len(open(out / layer["file"], "rb").read(128).split(b"\n")[0]) + 1 for layer in index["layers"])
    assert data_bytes == sum(4 * int(np.prod(layer["shape"])) for layer in index["layers"])
    kib = data_bytes / 1024
    assert line == f"extract: {len(index['layers'])} layer(s) x 10 sample(s): about {kib:.1f} KiB to write"


def test_over_max_bytes_is_refused_before_anything_is_written(residual, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # every function of the residual example: 7 outputs of 4x8x8 plus 16 + 16 + 10 values = 1,834 float32 per
    # sample, x 1,000 samples = 7,336,000 bytes = 7.0 MiB
    r = run("extract", residual, "--random", "--samples", "1000", "--max-bytes", "1M", "-o", out / "a.npz")
    assert_user_error(r, "would be about 7.0 MiB, over --max-bytes 1M", "--reduce mean")
    assert files_in(out) == []
    r = run("extract", residual, "--random", "--max-bytes", "lots", "-o", out / "a.npz")
    assert_user_error(r, "--max-bytes 'lots'")


def test_reduce_per_channel(residual, tmp_path):
    full = tmp_path / "full.npz"
    assert run("extract", residual, "--random", "--samples", "5", "--type", "ReLU", "-o", full).exit_code == 0
    acts = np.load(full)
    for how, fn in (("mean", lambda v: v.mean(axis=(2, 3))), ("max", lambda v: v.max(axis=(2, 3))),
                    ("absmax", lambda v: np.abs(v).max(axis=(2, 3)))):
        out = tmp_path / f"{how}.npz"
        r = run("extract", residual, "--random", "--samples", "5", "--type", "ReLU", "--reduce", how, "-o", out)
        assert r.exit_code == 0, r.stderr
        got = np.load(out)
        conv_keys = [k for k in acts if acts[k].ndim == 4]
        assert conv_keys
        for k in conv_keys:
            np.testing.assert_allclose(got[k], fn(acts[k]), rtol=1e-5, atol=1e-6, err_msg=(how, k))
    out = tmp_path / "hist.npz"
    r = run("extract", residual, "--random", "--samples", "5", "--type", "ReLU", "--reduce", "hist", "-o", out)
    assert r.exit_code == 0, r.stderr
    hist = np.load(out)
    for k in conv_keys:
        counts, edges = hist[k], hist[k + "/edges"]
        v = acts[k]
        assert counts.shape == (v.shape[1], 64) and (counts.sum(1) == v.shape[0] * v.shape[2] * v.shape[3]).all()
        want = [np.histogram(np.clip(v[:, c], edges[0], edges[-1]), bins=edges)[0] for c in range(v.shape[1])]
        np.testing.assert_array_equal(counts, want)
    r = run("extract", residual, "--random", "--reduce", "hist", "-o", str(tmp_path / "d") + "/")
    assert r.exit_code == 2 and "--reduce hist writes an .npz" in r.stderr
