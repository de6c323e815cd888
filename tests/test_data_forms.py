"""One data reader for every command that feeds data: .npy, .npz (extra arrays ignored with a note), folders of
.npy, image files and folders, --random with --val-range, conversions said out loud, 0 samples refused,
--input-shapes. Values are checked against plain NNabla runs on the same arrays."""
import json
from collections import OrderedDict

import numpy as np
import pytest
from PIL import Image

from nnsurgeon.runtime.data import RandomSource, parse_val_range

from .conftest import assert_user_error, nnabla_outputs, run


@pytest.fixture()
def chain(examples):
    return examples[("chain", "nntxt+h5")]


@pytest.fixture()
def pixels(tmp_path):
    """Eight 8x8 grayscale PNGs in images/ and the same pixels as a float array."""
    rng = np.random.RandomState(5)
    arr = rng.randint(0, 256, (8, 8, 8)).astype(np.uint8)
    folder = tmp_path / "images"
    folder.mkdir()
    for i, a in enumerate(arr):
        Image.fromarray(a, mode="L").save(folder / f"{i:02d}.png")
    return folder, arr.astype(np.float32)[:, None]


def _y(path, x):
    return nnabla_outputs(path, "Runtime", {"x": x}, batch_size=len(x))[1]["y"]


def _extract(chain, data, tmp_path, *extra):
    out = tmp_path / "a.npz"
    if out.exists():
        out.unlink()
    r = run("extract", chain, "--input", data, "--name", "@Runtime/Affine", "--batch-size", 100, "-o", out, *extra)
    assert r.exit_code == 0, r.stderr
    return np.load(out)["@Runtime/Affine"], r.stderr


def test_npy_npz_and_folder(chain, tmp_path):
    x = np.random.RandomState(0).randn(6, 1, 8, 8).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    got, _ = _extract(chain, tmp_path / "x.npy", tmp_path)
    np.testing.assert_allclose(got, _y(chain, x), rtol=1e-5, atol=1e-6)
    np.savez(tmp_path / "x.npz", x=x, labels=np.arange(6))
    got, err = _extract(chain, tmp_path / "x.npz", tmp_path)
    np.testing.assert_allclose(got, _y(chain, x), rtol=1e-5, atol=1e-6)
    assert f"note: {tmp_path / 'x.npz'}: ignored array(s) labels (not inputs of the network; inputs: x)" in err
    folder = tmp_path / "parts"
    folder.mkdir()
    np.save(folder / "a.npy", x[:4])
    np.save(folder / "b.npy", x[4:])
    got, _ = _extract(chain, folder, tmp_path)
    np.testing.assert_allclose(got, _y(chain, x), rtol=1e-5, atol=1e-6)


def test_image_file_and_folder(chain, pixels, tmp_path):
    folder, x = pixels
    got, err = _extract(chain, folder, tmp_path, "--scale", "0.00392")
    np.testing.assert_allclose(got, _y(chain, x * np.float32(0.00392)), rtol=1e-5, atol=1e-5)
    assert "8-bit pixels (0-255) converted to float32 as (pixels * 0.00392 - mean) / std: values in [0, 0.9996]" \
        in err
    got, _ = _extract(chain, folder / "03.png", tmp_path)
    np.testing.assert_allclose(got, _y(chain, x[3:4]), rtol=1e-5, atol=1e-4)


def test_uint8_arrays_are_converted_with_a_note(chain, pixels, tmp_path):
    _, x = pixels
    np.save(tmp_path / "u8.npy", x.astype(np.uint8))
    got, err = _extract(chain, tmp_path / "u8.npy", tmp_path)
    np.testing.assert_allclose(got, _y(chain, x), rtol=1e-5, atol=1e-4)
    assert "array 'x' (uint8) converted to float32" in err


def test_image_folder_calibrates_like_the_same_pixels(chain, pixels, tmp_path):
    folder, x = pixels
    np.save(tmp_path / "same.npy", x * np.float32(0.5))
    ranges = []
    for data, extra in ((folder, ["--scale", "0.5"]), (tmp_path / "same.npy", [])):
        out = tmp_path / f"q{len(ranges)}.nnp"
        r = run("quantize", chain, "--after", "ReLU,Affine", "--calibrate", data, *extra, "-o", out,
                "--format", "json")
        assert r.exit_code == 0, r.stderr
        ranges.append([q["range"] for q in json.loads(r.stdout)["quantizers"]])
    assert len(ranges[0]) == 3 and ranges[0] == ranges[1]
    # the ReLU range is [0, max] of the network's own second ReLU output on those pixels
    import nnabla as nn
    from nnabla.utils.nnp_graph import NnpLoader

    with nn.parameter_scope("", OrderedDict()):
        net = NnpLoader(chain).get_network("Runtime", batch_size=8)
        net.inputs["x"].d = x * 0.5
        found = {}
        net.outputs["y"].visit(lambda f: found.setdefault(f.info.type_name + str(len(found)), f))
        net.outputs["y"].forward()
        relu_max = max(float(f.outputs[0].d.max()) for k, f in found.items() if k.startswith("ReLU"))
    assert max(r[1] for r in ranges[0][:2]) == pytest.approx(relu_max, rel=1e-5)


def test_zero_samples_and_bad_values(chain, tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros((0, 1, 8, 8), np.float32))
    r = run("extract", chain, "--input", tmp_path / "empty.npy", "-o", tmp_path / "a.npz")
    assert_user_error(r, "holds 0 samples")
    r = run("quantize", chain, "--after", "ReLU", "--calibrate", tmp_path / "empty.npy", "-o", tmp_path / "q.nnp")
    assert_user_error(r, "holds 0 samples")
    r = run("extract", chain, "--random", "--val-range", "z:0,1", "-o", tmp_path / "a.npz")
    assert_user_error(r, "--val-range names z, not inputs of the network")
    r = run("extract", chain, "--random", "--val-range", "1,0", "-o", tmp_path / "a.npz")
    assert_user_error(r, "LO must be below HI")
    assert not (tmp_path / "a.npz").exists() and not (tmp_path / "q.nnp").exists()


def test_random_val_range():
    assert parse_val_range(["0,1", "y:-2,2"]) == {"": (0.0, 1.0), "y": (-2.0, 2.0)}
    src = RandomSource({"x": (3,), "y": (2,)}, samples=500, seed=1, val_range=parse_val_range(["x:2,3"]))
    batch = next(src.batches(500))
    assert batch["x"].min() >= 2 and batch["x"].max() < 3 and abs(batch["x"].mean() - 2.5) < 0.05
    assert batch["y"].min() < -1 and batch["y"].max() > 1  # no range: standard normal


def test_input_shapes_override(tmp_path):
    """A fully convolutional network saved for 8x8 runs 16x16 inputs with --input-shapes."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    path = str(tmp_path / "conv.nnp")
    with nn.parameter_scope("", OrderedDict()) as scope:
        x = nn.Variable((1, 1, 8, 8))
        y = F.relu(PF.convolution(x, 2, (3, 3), pad=(1, 1), name="c"))
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": x}}],
                    "executors": [{"name": "e", "network": "Runtime", "data": ["x"], "output": ["y"]}]})
        w, b = [np.array(p.d) for p in nn.get_parameters().values()]
    del scope
    big = np.random.RandomState(2).randn(3, 1, 16, 16).astype(np.float32)
    np.save(tmp_path / "big.npy", big)
    r = run("extract", path, "--input", tmp_path / "big.npy", "--input-shapes", "x:1x1x16x16", "-o",
            tmp_path / "a.npz")
    assert r.exit_code == 0, r.stderr
    got = np.load(tmp_path / "a.npz")["@Runtime/ReLU"]
    # numpy reference: 3x3 convolution with padding 1, then ReLU
    pad = np.pad(big[:, 0], ((0, 0), (1, 1), (1, 1)))
    want = np.zeros((3, 2, 16, 16), np.float32)
    for o in range(2):
        for i in range(3):
            for j in range(3):
                want[:, o] += w[o, 0, i, j] * pad[:, i:i + 16, j:j + 16]
        want[:, o] += b[o]
    np.testing.assert_allclose(got, np.maximum(want, 0), rtol=1e-4, atol=1e-5)
    r = run("extract", path, "--input", tmp_path / "big.npy", "-o", tmp_path / "b.npz")
    assert_user_error(r, "takes (N, 1, 8, 8)")
