"""extract and featuremaps: arrays bit-identical to NNabla's own forward, pictures that follow activations."""
import json
from collections import OrderedDict

import numpy as np
import pytest
from PIL import Image

import nnsurgeon
from nnsurgeon.graph.network import Network
from nnsurgeon.model import read_nnp

from .conftest import assert_user_error, files_in, run


def _direct(path, network, inputs):
    """Every variable's value after a plain NnpLoader forward with all buffers kept."""
    import nnabla as nn
    from nnabla.utils.nnp_graph import NnpLoader

    n = len(next(iter(inputs.values())))
    with nn.parameter_scope("", OrderedDict()):
        net = NnpLoader(path).get_network(network, batch_size=n)
        for v in net.variables.values():
            v.persistent = True
        for k, v in net.inputs.items():
            v.d = inputs[k]
        nn.forward_all(list(net.outputs.values()))
        return {k: np.array(v.d) for k, v in net.variables.items()}


def _keys_to_variables(path, network):
    net = Network(read_nnp(path).network(network))
    out = {}
    for f in net.topological():
        for i, y in enumerate(f.output):
            out[f.name if len(f.output) == 1 else f"{f.name}:{i}"] = y
    return out


@pytest.mark.parametrize("name", ["chain", "residual", "multi-output", "zoo", "multi-network"])
def test_every_function_bit_identical(examples, tmp_path, name):
    path = examples[(name, "nntxt+h5")]
    shapes = {v.name: list(v.shape.dim)[1:] for v in read_nnp(path).network("Runtime").variable if v.name == "x"}
    x = np.random.RandomState(7).randn(5, *shapes["x"]).astype(np.float32)
    data = tmp_path / "in.npz"
    np.savez(data, x=x)
    out = tmp_path / "acts.npz"
    r = run("extract", path, "--network", "Runtime", "--input", data, "-o", out, "--batch-size", 5)
    assert r.exit_code == 0, r.stderr
    got = dict(np.load(out))
    want = _direct(path, "Runtime", {"x": x})
    keys = _keys_to_variables(path, "Runtime")
    assert sorted(got) == sorted(keys)  # every function output exactly once (forks, multi-output)
    for key, variable in keys.items():
        assert got[key].tobytes() == want[variable].tobytes(), key
    # in smaller batches: the same values up to BLAS rounding (matrix products are blocked by batch size)
    r = run("extract", path, "--network", "Runtime", "--input", data, "-o", tmp_path / "b.npz", "--batch-size", 2)
    small = dict(np.load(tmp_path / "b.npz"))
    for key, variable in keys.items():
        np.testing.assert_allclose(small[key], want[variable], rtol=1e-5, atol=1e-5)


def test_directory_output_matches_npz_and_streams(examples, tmp_path):
    path = examples[("residual", "nntxt+h5")]
    x = np.random.RandomState(1).randn(7, 1, 8, 8).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert run("extract", path, "--input", tmp_path / "x.npy", "-o", tmp_path / "a.npz", "--layers",
               "@Runtime/ReLU*,@Runtime/Affine_1", "--batch-size", 3).exit_code == 0
    r = run("extract", path, "--input", tmp_path / "x.npy", "-o", str(tmp_path / "acts") + "/", "--layers",
            "@Runtime/ReLU*,@Runtime/Affine_1", "--batch-size", 3)
    assert r.exit_code == 0, r.stderr
    index = json.load(open(tmp_path / "acts" / "index.json"))
    npz = np.load(tmp_path / "a.npz")
    assert [e["key"] for e in index["layers"]] == sorted(npz.files, key=[e["key"] for e in index["layers"]].index)
    assert len(index["layers"]) == 5 and index["samples"] == 7
    for e in index["layers"]:
        arr = np.load(tmp_path / "acts" / e["file"])
        assert arr.tobytes() == npz[e["key"]].tobytes() and list(arr.shape) == e["shape"]


def test_two_output_network_and_multi_output_keys(examples, tmp_path):
    path = examples[("multi-output", "nntxt+h5")]
    out = tmp_path / "a.npz"
    assert run("extract", path, "--random", "--samples", 3, "-o", out).exit_code == 0
    keys = set(np.load(out).files)
    assert {"@Runtime/Split:0", "@Runtime/Split:1"} <= keys
    out2 = tmp_path / "b.npz"
    assert run("extract", path, "--random", "--samples", 3, "-o", out2, "--layers", "@Runtime/Split:1").exit_code == 0
    assert np.load(out2).files == ["@Runtime/Split:1"]


def test_python_api_on_files_and_on_python_graphs(examples):
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF

    path = examples[("chain", "nntxt+h5")]
    x = np.random.RandomState(2).randn(3, 1, 8, 8).astype(np.float32)
    acts = nnsurgeon.extract(path, x, layers=["@Runtime/ReLU_1"])
    want = _direct(path, "Runtime", {"x": x})
    assert acts["@Runtime/ReLU_1"].tobytes() == want[_keys_to_variables(path, "Runtime")["@Runtime/ReLU_1"]].tobytes()

    with nn.parameter_scope("", OrderedDict()):
        xv = nn.Variable((1, 3, 6, 6))
        h = F.relu(PF.convolution(xv, 4, (3, 3), name="conv"))
        y = F.sigmoid(F.sum(h, axis=(2, 3)))
        data = np.random.RandomState(3).randn(4, 3, 6, 6).astype(np.float32)
        acts = nnsurgeon.extract(y, {xv: data})
        xv2 = nn.Variable((4, 3, 6, 6))
        xv2.d = data
        h2 = F.relu(PF.convolution(xv2, 4, (3, 3), name="conv"))
        h2.forward()
        relu_keys = [k for k in acts if k.endswith("ReLU")]
        assert len(relu_keys) == 1
        np.testing.assert_allclose(acts[relu_keys[0]], h2.d, rtol=1e-6, atol=1e-6)
        assert acts[[k for k in acts if k.endswith("Sigmoid")][0]].shape == (4, 4)


def test_images_are_read_scaled_and_normalised(examples, tmp_path):
    path = examples[("chain", "nntxt+h5")]  # input x: (1, 8, 8)
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.RandomState(0)
    pixels = [rng.randint(0, 256, (16, 16)).astype(np.uint8) for _ in range(3)]
    for i, p in enumerate(pixels):
        Image.fromarray(p, mode="L").save(folder / f"{i}.png")
    r = run("extract", path, "--input", folder, "--size", "8x8", "--scale", 1 / 255, "--mean", 0.5, "--std", 0.25,
            "-o", tmp_path / "a.npz", "--layers", "@Runtime/Convolution")
    assert r.exit_code == 0, r.stderr
    expected = np.stack([np.asarray(Image.fromarray(p).resize((8, 8), Image.BILINEAR), np.float32) for p in pixels])
    expected = ((expected * np.float32(1 / 255) - 0.5) / 0.25)[:, None]
    want = _direct(path, "Runtime", {"x": expected.astype(np.float32)})
    got = np.load(tmp_path / "a.npz")["@Runtime/Convolution"]
    np.testing.assert_allclose(got, want[_keys_to_variables(path, "Runtime")["@Runtime/Convolution"]], atol=1e-5)


def _zero_channel_model(path):
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((1, 1, 6, 6))
        c = PF.convolution(x, 3, (1, 1), name="conv")
        params = nn.get_parameters()
        w = params["conv/conv/W"]
        w.d = np.array([0.0, 1.0, -1.0]).reshape(3, 1, 1, 1)  # channel 0 all zero, 1 = x, 2 = -x
        params["conv/conv/b"].d = 0
        y = F.relu(c)
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": x}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})


def test_bad_inputs(examples, tmp_path):
    path = examples[("chain", "nntxt+h5")]
    out = tmp_path / "out"
    out.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8), mode="RGB").save(tmp_path / "rgb.png")
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3, 8, 8), np.float32))
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 8, 8), np.float32))
    cases = [
        (["--input", tmp_path / "rgb.png"], "image has 3 channel(s)"),
        (["--input", tmp_path / "wrong.npy"], "takes (N, 1, 8, 8)"),
        (["--input", tmp_path / "x.npy", "--layers", "@Runtime/Relu_1"], "did you mean '@Runtime/ReLU_1'"),
    ]
    for args, fragment in cases:
        for target in (out / "a.npz", str(out / "d") + "/"):
            r = run("extract", path, *args, "-o", target)
            assert_user_error(r, fragment)
            assert files_in(out) == []
        r = run("featuremaps", path, *args, "-o", out / "m")
        assert_user_error(r, fragment)
        assert files_in(out) == []
    r = run("extract", path, "--input", tmp_path / "x.npy", "--layers", "nope", "-o", out / "a.npz")
    assert_user_error(r, "list-layers")
