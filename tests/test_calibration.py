"""Calibrated quantization on a real classifier trained here with NNabla on scikit-learn's digits (no
downloads), plus calibration-data errors and compare."""
import json
from collections import OrderedDict

import numpy as np
import pytest

from nnsurgeon.model import read_nnp

from .conftest import assert_user_error, files_in, run


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A trained 64-64-10 MLP on digits: (model path, calibration .npy, test x, test labels, folder)."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    from nnabla.utils.save import save
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("digits")
    data = load_digits()
    x_all = (data.data / 16.0).astype(np.float32)
    y_all = data.target.astype(np.int32)
    order = np.random.RandomState(0).permutation(len(x_all))
    train, test = order[:1400], order[1400:]
    scope = OrderedDict()
    nn.seed(0)
    with nn.parameter_scope("", scope):
        def mlp(x):
            h = F.relu(PF.affine(x, 64, name="fc1", rng=np.random.RandomState(1)))
            return PF.affine(h, 10, name="fc2", rng=np.random.RandomState(2))

        x = nn.Variable((64, 64))
        t = nn.Variable((64, 1))
        loss = F.mean(F.softmax_cross_entropy(mlp(x), t))
        solver = S.Adam(0.01)
        solver.set_parameters(nn.get_parameters())
        rng = np.random.RandomState(0)
        for _ in range(400):
            idx = rng.choice(train, 64)
            x.d, t.d = x_all[idx], y_all[idx, None]
            loss.forward()
            solver.zero_grad()
            loss.backward()
            solver.update()
        xr = nn.Variable((1, 64))
        y = mlp(xr)
        path = str(folder / "digits.nnp")
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": xr}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})
    calib = str(folder / "calib.npy")
    np.save(calib, x_all[train])
    return path, calib, x_all[test], y_all[test], folder


def _accuracy(path, x, labels):
    import nnabla as nn
    from nnabla.utils.nnp_graph import NnpLoader

    with nn.parameter_scope("", OrderedDict()):
        net = NnpLoader(path).get_network("Runtime", batch_size=len(x))
        net.inputs["x"].d = x
        y = net.outputs["y"]
        y.forward()
        return float((y.d.argmax(1) == labels).mean())


def test_8bit_within_one_point_and_4bit_worse(digits, tmp_path):
    path, calib, x, labels, _ = digits
    float_acc = _accuracy(path, x, labels)
    accs = {}
    for bits in (8, 4):
        out = tmp_path / f"q{bits}.nnp"
        r = run("quantize", path, "--after", "ReLU,Affine", "--calibrate", calib, "--bits", bits, "-o", out,
                "--format", "json", "--batch-size", 100)
        assert r.exit_code == 0, r.stderr
        report = json.loads(r.stdout)
        assert len(report["quantizers"]) == 3 and all(q["range"] is not None for q in report["quantizers"])
        m = read_nnp(str(out))
        for f in m.network("Runtime").function:
            if f.type == "MinMaxQuantize":  # static: stored ranges, what a deployed model wants
                assert not f.min_max_quantize_param.x_min_max and f.min_max_quantize_param.ema
                qmin = m.parameters[f.input[1]].data.item()
                qmax = m.parameters[f.input[2]].data.item()
                assert qmin <= 0 <= qmax and qmax > qmin
        accs[bits] = _accuracy(str(out), x, labels)
    print(f"digits accuracy: float {float_acc:.4f}, 8-bit {accs[8]:.4f}, 4-bit {accs[4]:.4f}")
    assert float_acc > 0.9
    assert abs(float_acc - accs[8]) <= 0.01
    assert accs[4] < accs[8] - 0.005


def test_calibration_ranges_match_the_data(digits, tmp_path):
    """minmax calibration stores exactly the min/max that the float network produces on the data."""
    import nnabla as nn
    from nnabla.utils.nnp_graph import NnpLoader

    path, calib, *_ = digits
    out = tmp_path / "q.nnp"
    r = run("quantize", path, "--after", "Affine", "--name", "*Affine_1", "--calibrate", calib, "-o", out,
            "--format", "json")
    (q,) = json.loads(r.stdout)["quantizers"]
    data = np.load(calib)
    with nn.parameter_scope("", OrderedDict()):
        net = NnpLoader(path).get_network("Runtime", batch_size=len(data))
        net.inputs["x"].d = data
        net.outputs["y"].forward()
        want = (min(float(net.outputs["y"].d.min()), 0.0), max(float(net.outputs["y"].d.max()), 0.0))
    assert q["range"] == pytest.approx(list(want), rel=1e-5)


@pytest.mark.parametrize("method", ["ema", "percentile"])
def test_other_methods_run(digits, tmp_path, method):
    path, calib, x, labels, _ = digits
    out = tmp_path / "q.nnp"
    r = run("quantize", path, "--after", "ReLU,Affine", "--calibrate", calib, "--method", method, "-o", out,
            "--calib-batches", 3)
    assert r.exit_code == 0, r.stderr
    assert _accuracy(str(out), x, labels) > 0.8


def test_calibration_data_errors(digits, tmp_path):
    path, calib, *_ = digits
    bad = tmp_path / "bad"
    bad.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    good = np.load(calib)[:10]
    np.save(bad / "shape.npy", good[:, :60])
    np.savez(bad / "name.npz", xx=good)
    np.save(bad / "dtype.npy", np.array([["a"] * 64] * 3))
    nan = good.copy()
    nan[3, 5] = np.nan
    np.save(bad / "nan.npy", nan)
    cases = {"shape.npy": "takes (N, 64)", "name.npz": "no array for network input 'x' (it has 'xx'",
             "dtype.npy": "dtype", "nan.npy": "NaN or inf at sample 3", "missing.npy": "which does not exist"}
    for name, fragment in cases.items():
        r = run("quantize", path, "--after", "ReLU", "--calibrate", bad / name, "-o", out / "q.nnp")
        assert_user_error(r, fragment)
        assert files_in(out) == []


def test_compare(digits, tmp_path):
    path, calib, x, labels, folder = digits
    q4 = tmp_path / "q4.nnp"
    run("quantize", path, "--after", "ReLU,Affine", "--calibrate", calib, "--bits", "4", "-o", q4)
    data = tmp_path / "x.npz"
    np.savez(data, x=x)
    r = run("compare", path, path, "--input", data, "--atol", "0", "--format", "json")
    assert r.exit_code == 0, r.stderr
    same = json.loads(r.stdout)["outputs"][0]
    assert same["max_abs"] == 0 and same["cosine"] == pytest.approx(1.0) and same["top1"] == 1.0
    r = run("compare", path, q4, "--input", data, "--atol", "1e-3", "--per-layer", "--format", "json")
    assert r.exit_code == 1
    report = json.loads(r.stdout)
    out = report["outputs"][0]
    assert 0 < out["max_abs"] and 0.5 < out["top1"] < 1.0 and out["ok"] is False
    assert report["layers"] and "first layer over the threshold: @Runtime/Affine" in report["summary"]
    assert r.stderr.strip().splitlines()[-1].startswith("FAILED: outputs over the threshold")
    r = run("compare", path, q4, "--random", "--seed", "1")
    assert r.exit_code == 0 and "cosine" in r.stdout


def test_ranges_read_in_place_equal_nnablas_reductions(digits):
    """On CPU each batch's min and max are read in place with numpy; on other devices NNabla reduces them
    in the graph (stacked into one output). Both give the same numbers, batch by batch."""
    from nnsurgeon.model import load_model
    from nnsurgeon.runtime.runner import Runner

    path, calib, *_ = digits
    model = load_model(path)
    watched = [f.output[0] for f in model.network("Runtime").function]
    data = np.load(calib)
    in_place = Runner(model, "Runtime", ranges=watched, only_watched=True)
    in_graph = Runner(model, "Runtime", ranges=watched, only_watched=True, ranges_in_graph=True)
    assert not in_place.ranges_in_graph
    for start in range(0, 150, 50):
        batch = {"x": data[start:start + 50]}
        in_place.run(batch, copy=False)
        in_graph.run(batch, copy=False)
        assert in_place.last_ranges() == in_graph.last_ranges()
        lo, hi = in_place.last_ranges()[watched[-1]]
        assert lo < hi


def test_a_nan_in_an_activation_does_not_make_the_range_nan(tmp_path):
    """Regression: numpy's min/max carry NaN (a Log of a negative value) where NNabla's reductions skip it;
    the range read in place became NaN (minmax saved NaN ranges, percentile ended in an internal error)."""
    from nnsurgeon.model import load_model
    from nnsurgeon.runtime.runner import Runner

    from .conftest import save_log_model

    model = load_model(save_log_model(tmp_path / "log.nnp", batch_size=4))
    name = model.network("Runtime").function[0].output[0]
    batch = {"x": np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0], [2.0, 2.0, 2.0], [1.5, 0.25, 9.0]], np.float32)}
    ranges = []
    for in_graph in (False, True):
        runner = Runner(model, "Runtime", ranges=[name], only_watched=True, ranges_in_graph=in_graph)
        runner.run(batch, copy=False)
        ranges.append(runner.last_ranges()[name])
    finite = np.log(batch["x"][batch["x"] > 0])
    assert ranges[0] == ranges[1] == (float(finite.min()), float(finite.max()))
