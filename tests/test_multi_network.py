"""Files with several networks (Training with a label input, Validation, Runtime), as Neural Network Console
and nnabla.models write them: the first steps a new user takes work with no --network."""
import json

import numpy as np
import pytest

from nnsurgeon.model import read_nnp

from .conftest import assert_user_error, count_type, nnabla_outputs, run


@pytest.fixture()
def three(examples):
    return examples[("multi-network", "nntxt+h5")]


@pytest.fixture()
def x_npy(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.random.RandomState(3).randn(16, 4).astype(np.float32))
    return path


def _reference_ranges(path, x):
    """Ranges of Runtime's Affine, ReLU, Affine_1 outputs computed with numpy from the stored parameters,
    widened to contain 0 (the quantize rule)."""
    m = read_nnp(path)
    w1, b1 = m.parameters["fc1/affine/W"].data, m.parameters["fc1/affine/b"].data
    w2, b2 = m.parameters["fc2/affine/W"].data, m.parameters["fc2/affine/b"].data
    h = x @ w1 + b1
    r = np.maximum(h, 0)
    o = r @ w2 + b2
    return [[min(float(v.min()), 0.0), max(float(v.max()), 0.0)] for v in (h, r, o)]


def test_quantize_calibrates_without_network(three, x_npy, tmp_path):
    out = tmp_path / "q.nnp"
    r = run("quantize", three, "--after", "ReLU,Affine", "--calibrate", x_npy, "-o", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert "calibrated network 'Runtime' (run by the first executor); gave Training, Validation the same ranges" \
        in r.stdout
    report = json.loads(r.stdout)
    want = _reference_ranges(three, np.load(x_npy))
    by_net = {}
    for q in report["quantizers"]:
        by_net.setdefault(q["network"], []).append(q["range"])
    assert sorted(by_net) == ["Runtime", "Training", "Validation"]
    for net, ranges in by_net.items():
        np.testing.assert_allclose(ranges, want, rtol=1e-5, atol=1e-6, err_msg=net)
    for net in ("Training", "Validation", "Runtime"):
        assert count_type(str(out), net, "MinMaxQuantize") == 3
    _, outs = nnabla_outputs(str(out), "Training")  # the quantized training network still runs in NNabla
    assert np.isfinite(outs["loss"]).all()


def test_quantize_one_network_does_not_demand_the_label(three, x_npy, tmp_path):
    out = tmp_path / "q.nnp"
    r = run("quantize", three, "--after", "ReLU", "--network", "Training", "--calibrate", x_npy, "-o", out,
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    [q] = json.loads(r.stdout)["quantizers"]
    assert q["network"] == "Training" and q["range"] == pytest.approx(
        _reference_ranges(three, np.load(x_npy))[1], rel=1e-5)


def test_data_commands_default_to_the_first_executors_network(three, x_npy, tmp_path):
    note = ("note: using network 'Runtime' (run by the first executor, 'runtime'); choose another "
            "(Training, Validation) with --network")
    r = run("extract", three, "--input", x_npy, "-o", tmp_path / "a.npz")
    assert r.exit_code == 0, r.stderr
    assert note in r.stderr.splitlines()
    acts = np.load(tmp_path / "a.npz")
    _, outs = nnabla_outputs(three, "Runtime", {"x": np.load(x_npy)[:2]}, batch_size=2)
    np.testing.assert_allclose(acts["@Runtime/Softmax"][:2], outs["y"], rtol=1e-6)
    r = run("featuremaps", three, "--random", "-o", tmp_path / "maps")
    assert r.exit_code == 0 and note in r.stderr.splitlines(), r.stderr
    r = run("compare", three, three, "--input", x_npy)
    assert r.exit_code == 0 and note in r.stderr.splitlines(), r.stderr
    assert r.stderr.splitlines()[-1].startswith("PASSED: 1 output(s) compared on 16 sample(s)")


def test_extract_from_training_without_the_label(three, x_npy, tmp_path):
    r = run("extract", three, "--network", "Training", "--input", x_npy, "--name", "@Training/ReLU",
            "-o", tmp_path / "a.npz")
    assert r.exit_code == 0, r.stderr
    want = np.maximum(np.load(x_npy) @ read_nnp(three).parameters["fc1/affine/W"].data
                      + read_nnp(three).parameters["fc1/affine/b"].data, 0)
    np.testing.assert_allclose(np.load(tmp_path / "a.npz")["@Training/ReLU"], want, rtol=1e-5, atol=1e-6)


def test_errors_name_the_network_and_suggest_network(three, tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 5), np.float32))
    r = run("extract", three, "--input", bad, "-o", tmp_path / "a.npz")
    assert_user_error(r, "network 'Runtime'", "--network", "takes (N, 4)")
    r = run("quantize", three, "--after", "ReLU", "--calibrate", bad, "-o", tmp_path / "q.nnp")
    assert_user_error(r, "network 'Runtime'", "--network")
    assert not (tmp_path / "a.npz").exists() and not (tmp_path / "q.nnp").exists()


def test_recipe_networks_scope_steps_and_expectations(three, tmp_path):
    recipe = tmp_path / "deploy.yaml"
    recipe.write_text("version: 1\nnetworks: [Runtime]\nsteps:\n  - quantize: {after: [ReLU]}\n"
                      "expect:\n  counts: {MinMaxQuantize: 1, SoftmaxCrossEntropy: 0}\n"
                      "  compare: {random: true, min-cosine: 0.9}\n")
    out = tmp_path / "out.nnp"
    r = run("apply", recipe, three, "-o", out)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert "count SoftmaxCrossEntropy  yes  0 (expected 0) in network Runtime" in r.stdout
    assert count_type(str(out), "Runtime", "MinMaxQuantize") == 1
    assert count_type(str(out), "Training", "MinMaxQuantize") == 0


def test_apply_network_option_and_default_output(three, tmp_path):
    import shutil

    model = tmp_path / "model.nnp"
    shutil.copy(three, model)
    recipe = tmp_path / "q8.yaml"
    recipe.write_text("version: 1\nsteps:\n  - quantize: {types: [ReLU]}\nexpect:\n  counts: {MinMaxQuantize: 1}\n")
    r = run("apply", recipe, model, "--network", "Validation")
    assert r.exit_code == 0, (r.stdout, r.stderr)
    out = tmp_path / "model.q8.nnp"
    assert out.exists() and r.stderr.strip().endswith(f"wrote {out}")
    assert [count_type(str(out), n, "MinMaxQuantize") for n in ("Training", "Validation", "Runtime")] == [0, 1, 0]


def test_python_apply_scopes_expectations_too(three, tmp_path):
    """A loaded model through nnsurgeon.apply: the recipe's networks scope the counts, as on the CLI."""
    import nnsurgeon

    recipe = tmp_path / "r.yaml"
    recipe.write_text("version: 1\nnetworks: [Runtime]\nsteps:\n  - quantize: {after: [ReLU]}\n"
                      "expect:\n  counts: {MinMaxQuantize: 1, SoftmaxCrossEntropy: 0}\n")
    m = nnsurgeon.load(three)
    _, _, checks = nnsurgeon.apply(str(recipe), m)
    assert [c["ok"] for c in checks] == [True, True]
    m = nnsurgeon.load(three)
    from nnsurgeon.errors import CheckFailed

    with pytest.raises(CheckFailed, match=r"1 expectation\(s\) failed \(count SoftmaxCrossEntropy\)"):
        nnsurgeon.apply(str(recipe), m, networks=["Training"])
    assert sum(f.type == "MinMaxQuantize" for f in m.network("Training").function) == 0  # left unchanged
