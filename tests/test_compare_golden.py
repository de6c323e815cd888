"""compare: golden outputs saved and loaded, per-output tolerances, median and quantile against numpy,
--check-finite, the final PASSED/FAILED line, and the same thresholds in recipes."""
import json

import numpy as np
import pytest

from .conftest import assert_user_error, nnabla_outputs, run, save_log_model


@pytest.fixture()
def pair(examples, tmp_path):
    """The chain example and a quantized copy of it (outputs differ a little)."""
    path = examples[("chain", "nntxt+h5")]
    q = tmp_path / "q.nnp"
    assert run("quantize", path, "--after", "ReLU,Affine", "-o", q).exit_code == 0
    return path, str(q)


def _random_x(samples=8, seed=0):
    return np.random.RandomState(seed).randn(samples, 1, 8, 8).astype(np.float32)


def test_save_then_load_outputs(pair, tmp_path):
    path, q = pair
    ref = tmp_path / "ref.npz"
    r = run("compare", path, "--random", "--save-outputs", ref)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines()[-2:] == [f"note: saved 1 output(s) of 8 sample(s) to {ref}",
                                          "PASSED: ran 8 sample(s); nothing to compare with"]
    x = _random_x()
    np.testing.assert_allclose(np.load(ref)["y"], nnabla_outputs(path, "Runtime", {"x": x}, batch_size=8)[1]["y"],
                               rtol=1e-6)
    r = run("compare", path, "--random", "--load-outputs", ref, "--atol", "0")
    assert r.exit_code == 0 and r.stderr.splitlines()[-1] == \
        "PASSED: 1 output(s) compared on 8 sample(s), all within (atol=0, rtol=0)", r.stderr
    r = run("compare", q, "--random", "--load-outputs", ref, "--atol", "1e-6")
    assert r.exit_code == 1 and r.stderr.splitlines()[-1] == \
        "FAILED: outputs over the threshold (atol=1e-06, rtol=0): y", r.stderr
    r = run("compare", q, "--random", "--samples", "4", "--load-outputs", ref)
    assert_user_error(r, "holds 8 sample(s)", "give the same inputs as when it was saved")
    r = run("compare", path, "--random", "--save-outputs", ref)
    assert_user_error(r, "--force")


def test_statistics_match_numpy(pair):
    path, q = pair
    r = run("compare", path, q, "--random", "--quantile", "0.9", "--format", "json")
    assert r.exit_code == 0, r.stderr
    [out] = json.loads(r.stdout)["outputs"]
    x = _random_x()
    a = nnabla_outputs(path, "Runtime", {"x": x}, batch_size=8)[1]["y"].astype(np.float64)
    b = nnabla_outputs(q, "Runtime", {"x": x}, batch_size=8)[1]["y"].astype(np.float64)
    d = np.abs(a - b)
    assert out["max_abs"] == pytest.approx(d.max(), rel=1e-5)
    assert out["median_abs"] == pytest.approx(np.median(d), rel=1e-4)
    assert out["quantile_abs"] == pytest.approx(np.quantile(d, 0.9), rel=1e-4)
    assert out["quantile"] == 0.9 and out["median_abs"] > 0


def test_per_output_tolerances(examples, tmp_path):
    path = examples[("multi-output", "nntxt+h5")]
    q = tmp_path / "q.nnp"
    assert run("quantize", path, "--after", "Affine", "-o", q).exit_code == 0
    r = run("compare", path, q, "--random", "--atol", "ya:1e-9", "--atol", "10", "--format", "json")
    assert r.exit_code == 1
    ok = {o["name"]: (o["ok"], o["atol"]) for o in json.loads(r.stdout)["outputs"]}
    assert ok == {"ya": (False, 1e-9), "yb": (True, 10.0)}
    assert r.stderr.splitlines()[-1] == "FAILED: outputs over the threshold (atol=ya:1e-09,10, rtol=0): ya"
    r = run("compare", path, q, "--random", "--atol", "ya:oops")
    assert_user_error(r, "--atol 'ya:oops': give a number >= 0, or OUTPUT:NUMBER")


@pytest.fixture()
def log_model(tmp_path):
    """y = log(x): NaN for negative inputs."""
    return save_log_model(tmp_path / "log.nnp", batch_size=2)


def test_check_finite(log_model):
    r = run("compare", log_model, log_model, "--random")
    assert r.exit_code == 0 and r.stderr.splitlines()[-1].startswith("PASSED"), r.stderr
    r = run("compare", log_model, log_model, "--random", "--check-finite", "--format", "json")
    assert r.exit_code == 1
    [out] = json.loads(r.stdout)["outputs"]
    x = np.random.RandomState(0).randn(8, 3)
    assert out["nonfinite"] == [int((x < 0).sum())] * 2
    assert r.stderr.splitlines()[-1] == "FAILED: outputs over the threshold: y; NaN/Inf in y"
    r = run("compare", log_model, log_model, "--random", "--val-range", "0.5,2", "--check-finite")
    assert r.exit_code == 0 and r.stderr.splitlines()[-1] == \
        "PASSED: 1 output(s) compared on 8 sample(s), all finite", r.stderr


def test_recipe_thresholds(pair, tmp_path):
    path, _ = pair
    recipe = tmp_path / "r.yaml"
    recipe.write_text("version: 1\nsteps:\n  - quantize: {after: [ReLU]}\nexpect:\n"
                      "  compare: {random: true, output-atol: {y: 0.0}, check-finite: true}\n")
    r = run("apply", recipe, path, "-o", tmp_path / "o.nnp")
    assert r.exit_code == 1 and not (tmp_path / "o.nnp").exists()
    assert "; atol 0.0 rtol 0, finite" in r.stdout
    recipe.write_text("version: 1\nsteps:\n  - quantize: {after: [ReLU]}\nexpect:\n"
                      "  compare: {random: true, output-atol: {y: 5}, check-finite: true, quantile: 0.5}\n")
    r = run("apply", recipe, path, "-o", tmp_path / "o.nnp")
    assert r.exit_code == 0, r.stdout
    recipe.write_text("version: 1\nsteps:\n  - quantize: {after: [ReLU]}\nexpect:\n"
                      "  compare: {random: true, output-atol: {y: fast}}\n")
    r = run("check", recipe)
    assert_user_error(r, "the tolerance of 'y' must be a number >= 0")


def test_python_api_saves_and_loads_outputs(pair, tmp_path):
    import nnsurgeon

    path, q = pair
    ref = str(tmp_path / "ref.npz")
    report = nnsurgeon.compare(path, random=True, samples=4, save_outputs=ref)
    assert report["ok"] and report["outputs"] == [] and report["samples"] == 4
    report = nnsurgeon.compare(q, random=True, samples=4, reference=ref, atol={"y": 1e-9})
    assert report["ok"] is False and report["outputs"][0]["violations"] > 0
