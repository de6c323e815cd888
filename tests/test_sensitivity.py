"""sensitivity, quantize --auto-exclude and compare with labels, on a digits classifier trained here with
NNabla (scikit-learn's digits, no downloads). Every number is checked against plain NnpLoader runs of
separately quantized models and numpy."""
import json
import os
from collections import OrderedDict

import numpy as np
import pytest

from nnsurgeon.model import read_nnp

from .conftest import assert_user_error, files_in, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A trained 64-32-10 MLP on digits, and the same MLP with one fc1 unit made an outlier (weights -40,
    bias -100: its huge negative output dies at the ReLU, so the float model predicts the same, but it
    stretches the range a quantizer after fc1 must cover). Returns a namespace of paths and arrays."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    from nnabla.utils.save import save
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("sens")
    data = load_digits()
    x_all = (data.data / 16.0).astype(np.float32)
    y_all = data.target.astype(np.int64)
    order = np.random.RandomState(0).permutation(len(x_all))
    train, test = order[:1400], order[1400:]
    scope = OrderedDict()
    nn.seed(0)
    paths = {}
    with nn.parameter_scope("", scope):
        def mlp(x):
            h = F.relu(PF.affine(x, 32, name="fc1", rng=np.random.RandomState(1)))
            return PF.affine(h, 10, name="fc2", rng=np.random.RandomState(2))

        x = nn.Variable((64, 64))
        t = nn.Variable((64, 1))
        loss = F.mean(F.softmax_cross_entropy(mlp(x), t))
        solver = S.Adam(0.01)
        solver.set_parameters(nn.get_parameters())
        rng = np.random.RandomState(0)
        for _ in range(300):
            idx = rng.choice(train, 64)
            x.d, t.d = x_all[idx], y_all[idx, None]
            loss.forward()
            solver.zero_grad()
            loss.backward()
            solver.update()
        xr = nn.Variable((1, 64))
        y = mlp(xr)
        contents = {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": xr}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]}
        paths["plain"] = str(folder / "digits.nnp")
        save(paths["plain"], contents)
        params = nn.get_parameters()
        params["fc1/affine/W"].d[:, 0] = -40.0
        params["fc1/affine/b"].d[0] = -100.0
        paths["outlier"] = str(folder / "outlier.nnp")
        save(paths["outlier"], contents)
    np.save(folder / "calib.npy", x_all[train])
    np.save(folder / "test.npy", x_all[test])
    np.save(folder / "labels.npy", y_all[test])

    class D:
        pass

    d = D()
    d.folder, d.plain, d.outlier = folder, paths["plain"], paths["outlier"]
    d.calib, d.test, d.labels = str(folder / "calib.npy"), str(folder / "test.npy"), str(folder / "labels.npy")
    d.x, d.y = x_all[test], y_all[test]
    return d


def outputs(path, x, batch_size=32):
    """y of network Runtime for every row of x, run with plain NnpLoader (nothing of nnsurgeon)."""
    import nnabla as nn
    from nnabla.utils.nnp_graph import NnpLoader

    parts = []
    with nn.parameter_scope("", OrderedDict()):
        loader = NnpLoader(path)
        nets = {}
        for start in range(0, len(x), batch_size):
            chunk = x[start:start + batch_size]
            if len(chunk) not in nets:
                nets[len(chunk)] = loader.get_network("Runtime", batch_size=len(chunk))
            net = nets[len(chunk)]
            net.inputs["x"].d = chunk
            net.outputs["y"].forward()
            parts.append(np.array(net.outputs["y"].d))
    return np.concatenate(parts)


def sqnr(ref, q):
    ref, q = ref.astype(np.float64), q.astype(np.float64)
    return 10 * np.log10((ref ** 2).sum() / ((ref - q) ** 2).sum())


def quantized(src, tmp_path, name, *args):
    out = tmp_path / f"{name}.nnp"
    r = run("quantize", src, *args, "-o", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return str(out), json.loads(r.stdout)


def test_each_trial_equals_the_model_quantized_that_way(digits, tmp_path):
    """A trial's numbers are those of a real model with exactly that quantizer (quantize --name), and the
    cumulative 'all' those of the fully quantized model: the variants are exact."""
    common = ["--after", "ReLU,Affine", "--calibrate", digits.calib, "--bits", "4"]
    r = run("sensitivity", digits.plain, *common, "--input", digits.test, "--labels", digits.labels, "--cumulative",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["forward_passes"] == 1 + 3 + 3 + 1  # float, each alone, all but each, all
    ref = outputs(digits.plain, digits.x)
    float_acc = (ref.argmax(1) == digits.y).mean()
    assert report["float_accuracy"]["y"] == pytest.approx(float_acc)
    rows = {row["after"]: row for row in report["quantizers"]}
    assert sorted(rows) == ["@Runtime/Affine", "@Runtime/Affine_1", "@Runtime/ReLU"]
    for after, row in rows.items():
        path, _ = quantized(digits.plain, tmp_path, after.split("/")[-1], *common, "--name", after)
        q = outputs(path, digits.x)
        assert row["sqnr_db"] == pytest.approx(sqnr(ref, q), rel=1e-4)
        assert row["top1"] == pytest.approx((ref.argmax(1) == q.argmax(1)).mean())
        assert row["accuracy_drop"] == pytest.approx(100 * (float_acc - (q.argmax(1) == digits.y).mean()))
    full, _ = quantized(digits.plain, tmp_path, "all", *common)
    q = outputs(full, digits.x)
    assert report["all"]["sqnr_db"] == pytest.approx(sqnr(ref, q), rel=1e-4)
    badness = [(-r["accuracy_drop"], r["sqnr_db"]) for r in report["quantizers"]]
    assert badness == sorted(badness)  # worst first


def test_outlier_quantizer_ranks_first(digits):
    r = run("sensitivity", digits.outlier, "--after", "ReLU,Affine", "--calibrate", digits.calib, "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["quantizers"]
    assert rows[0]["after"] == "@Runtime/Affine"  # the fc1 output with the outlier unit
    assert rows[0]["sqnr_db"] < rows[1]["sqnr_db"] - 10
    assert json.loads(r.stdout)["forward_passes"] == 1 + 3


def test_narrow_range_ranks_first(digits):
    """A quantizer whose stored range is far too narrow (set by hand after calibration) ranks first."""
    import nnsurgeon
    from nnsurgeon.model.nnp import Parameter
    from nnsurgeon.runtime.data import DataSource
    from nnsurgeon.runtime.sensitivity import Evaluator, Variants, added_functions, find_quantizers, sweep

    model = nnsurgeon.load(digits.plain)
    q = model.copy()
    nnsurgeon.quantize(q, after=["ReLU", "Affine"], calibrate=digits.calib)
    found = find_quantizers(q, "Runtime", added_functions(model, q, "Runtime"))
    assert [f.after for f in found] == ["@Runtime/Affine", "@Runtime/ReLU", "@Runtime/Affine_1"]
    damaged = found[1]  # the ReLU's: range [0, 0.01] instead of [0, ~10]
    fn = q.view("Runtime").functions[damaged.name]
    q.parameters[fn.input[2]] = Parameter(np.full((1, 1), 0.01, np.float32), False)
    ev = Evaluator(Variants(q, "Runtime", found), DataSource(digits.test, {"x": (64,)}), 50, progress=False)
    report = sweep(ev, [f.name for f in found])
    assert report["quantizers"][0]["quantizer"] == damaged.name
    assert ev.passes == 4


def test_sensitivity_table_and_csv(digits):
    args = ["sensitivity", digits.plain, "--after", "Affine", "--calibrate", digits.calib, "--input", digits.test,
            "--labels", digits.labels]
    r = run(*args)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["rank", "quantizer", "after", "sqnr_db", "cosine", "top1", "acc_drop_pt"]
    assert len(lines) == 4 and lines[2].startswith("1 ") and lines[3].startswith("2 ")
    assert r.stderr.strip().endswith("in 3 forward pass(es) of the evaluation data; worst: "
                                     + lines[2].split()[1])
    r = run(*args, "--format", "csv", "--cumulative")
    lines = r.stdout.splitlines()
    assert lines[0] == ("rank,quantizer,after,sqnr_db,cosine,top1,acc_drop_pt,without_sqnr_db,without_top1,"
                        "without_acc_drop_pt")
    assert len(lines) == 3


def test_auto_exclude_meets_sqnr_target_where_plain_4bit_does_not(digits, tmp_path):
    common = ["--after", "ReLU,Affine", "--calibrate", digits.calib, "--bits", "4"]
    ref = outputs(digits.outlier, digits.x)
    plain, _ = quantized(digits.outlier, tmp_path, "plain4", *common)
    target = 20.0
    assert sqnr(ref, outputs(plain, digits.x)) < target
    path, report = quantized(digits.outlier, tmp_path, "auto4", *common, "--auto-exclude", "--min-sqnr", target,
                             "--eval-input", digits.test)
    assert sqnr(ref, outputs(path, digits.x)) >= target
    kept = [n for n in report["notes"] if n.startswith("auto-exclude: kept ")]
    assert kept and kept[0].startswith("auto-exclude: kept @Runtime/Affine at float (alone it gives SQNR")
    assert len(report["quantizers"]) == 3 - len(kept)
    assert "met with" in report["notes"][-1] and "NOT" not in report["notes"][-1]
    assert "@Runtime/Affine" not in [q["after"] for q in report["quantizers"]]


def test_auto_exclude_accuracy_target_with_fallback_bits(digits, tmp_path):
    common = ["--after", "ReLU,Affine", "--calibrate", digits.calib, "--bits", "3"]
    ref = outputs(digits.plain, digits.x)
    acc = (ref.argmax(1) == digits.y).mean()
    plain, _ = quantized(digits.plain, tmp_path, "plain3", *common)
    assert 100 * (acc - (outputs(plain, digits.x).argmax(1) == digits.y).mean()) > 1.0
    path, report = quantized(digits.plain, tmp_path, "auto3", *common, "--auto-exclude", "--max-accuracy-drop", 1,
                             "--labels", digits.labels, "--eval-input", digits.test, "--fallback-bits", 8)
    assert 100 * (acc - (outputs(path, digits.x).argmax(1) == digits.y).mean()) <= 1.0
    fallback = [q for q in report["quantizers"] if q.get("bits") == 8]
    assert fallback and all("accuracy drop" in q["auto_exclude"] for q in fallback)
    m = read_nnp(path)
    levels = {f.name: m.parameters[f.input[4]].data.item() for f in m.network("Runtime").function
              if f.type == "MinMaxQuantize"}
    assert len(levels) == 3
    assert sorted(levels.values()) == sorted(255.0 if q.get("bits") == 8 else 7.0 for q in report["quantizers"])


def test_auto_exclude_and_sensitivity_errors(digits, tmp_path, examples):
    out = tmp_path / "out"
    out.mkdir()
    q = out / "q.nnp"
    base = ["quantize", digits.plain, "--after", "ReLU", "-o", q]
    assert_user_error(run(*base, "--auto-exclude", "--min-sqnr", 20), "--auto-exclude needs --calibrate")
    assert_user_error(run(*base, "--min-sqnr", 20), "--min-sqnr only apply with --auto-exclude")
    assert_user_error(run(*base, "--calibrate", digits.calib, "--auto-exclude"), "needs a target: --min-sqnr")
    assert_user_error(run(*base, "--calibrate", digits.calib, "--auto-exclude", "--max-accuracy-drop", 1),
                      "--max-accuracy-drop needs --labels")
    assert_user_error(run(*base, "--calibrate", digits.calib, "--auto-exclude", "--max-accuracy-drop", 1,
                          "--labels", digits.labels), "hold 397 labels", "holds 1400 samples")
    assert_user_error(run("sensitivity", digits.plain, "--after", "ReLU"), "sensitivity needs calibration data")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((4, 1, 8, 8), np.float32))
    model = tmp_path / "classifier.nnp"
    assert run("example", "classifier", "-o", model).exit_code == 0
    assert_user_error(run("sensitivity", model, "--after", "ReLU", "--calibrate", x),
                      "draw new random numbers", "@Runtime/ImageAugmentation", "strip-training.yaml")
    assert files_in(out) == []


@pytest.fixture(scope="module")
def pair(digits, tmp_path_factory):
    """(float model, its 4-bit quantization, float outputs, quantized outputs) on the digits test set."""
    folder = tmp_path_factory.mktemp("pair")
    q4 = folder / "q4.nnp"
    r = run("quantize", digits.plain, "--after", "ReLU,Affine", "--calibrate", digits.calib, "--bits", 4, "-o", q4)
    assert r.exit_code == 0, r.stderr
    return digits.plain, str(q4), outputs(digits.plain, digits.x), outputs(str(q4), digits.x)


def test_compare_with_labels_matches_numpy(digits, pair, tmp_path):
    a, b, ya, yb = pair
    acc_a, acc_b = (ya.argmax(1) == digits.y).mean(), (yb.argmax(1) == digits.y).mean()
    onehot = tmp_path / "onehot.npy"
    np.save(onehot, np.eye(10, dtype=np.float32)[digits.y])
    both = tmp_path / "both.npz"
    np.savez(both, x=digits.x, labels=digits.y)
    for data, labels in ((digits.test, digits.labels), (digits.test, onehot), (both, "labels"), (both, both)):
        r = run("compare", a, b, "--input", data, "--labels", labels, "--format", "json")
        assert r.exit_code == 0, r.stderr
        out = json.loads(r.stdout)["outputs"][0]
        assert out["accuracy_a"] == pytest.approx(acc_a) and out["accuracy_b"] == pytest.approx(acc_b)
        assert out["accuracy_drop"] == pytest.approx(100 * (acc_a - acc_b))
        assert out["sqnr_db"] == pytest.approx(sqnr(ya, yb), rel=1e-4)
    r = run("compare", a, b, "--input", digits.test, "--labels", digits.labels)
    header = r.stdout.splitlines()[0].split()
    assert header == ["kind", "name", "max_abs", "mean_abs", "median_abs", "q99_abs", "cosine", "sqnr_db", "top1",
                      "accuracy_a", "accuracy_b", "drop_pt", "ok"]
    assert r.stderr.strip().splitlines()[-1] == (
        f"PASSED: 1 output(s) compared on {len(ya)} sample(s); y accuracy {100 * acc_a:.2f}% -> {100 * acc_b:.2f}% "
        f"(drop {100 * (acc_a - acc_b):.2f} pt)")
    r = run("compare", a, b, "--input", digits.test)
    assert r.stdout.splitlines()[0].split() == ["kind", "name", "max_abs", "mean_abs", "median_abs", "q99_abs",
                                                "cosine", "sqnr_db", "top1", "ok"]


def test_compare_thresholds_exit_1(digits, pair):
    a, b, ya, yb = pair
    s = sqnr(ya, yb)
    cos = float((ya * yb).sum() / np.sqrt((ya ** 2).sum() * (yb ** 2).sum()))
    top1 = (ya.argmax(1) == yb.argmax(1)).mean()
    drop = 100 * ((ya.argmax(1) == digits.y).mean() - (yb.argmax(1) == digits.y).mean())
    assert drop > 0.1
    base = ["compare", a, b, "--input", digits.test, "--labels", digits.labels]
    passing = ["--min-sqnr", s - 0.5, "--min-cosine", cos - 1e-3, "--min-top1", top1 - 0.01,
               "--max-accuracy-drop", drop + 0.1]
    assert run(*base, *passing).exit_code == 0
    for flag, value, text in (("--min-sqnr", s + 0.5, "SQNR"), ("--min-cosine", min(cos + 1e-3, 1.0), "cosine"),
                              ("--min-top1", top1 + 0.01, "top1"), ("--max-accuracy-drop", drop - 0.1,
                                                                   "accuracy drop")):
        r = run(*base, flag, value)
        assert r.exit_code == 1, (flag, r.stderr)
        assert r.stderr.strip().splitlines()[-1].startswith(f"FAILED: outputs break the thresholds: y: {text}")
    assert_user_error(run("compare", a, b, "--input", digits.test, "--rtol", "0.1"), "--rtol needs --atol")
    assert_user_error(run("compare", a, b, "--input", digits.test, "--max-accuracy-drop", 1),
                      "--max-accuracy-drop needs --labels")
    short = digits.folder / "short.npy"
    np.save(short, digits.y[:10])
    assert_user_error(run(*base[:-1], short), "holds 10 labels", "397 samples")


def test_recipe_expect_compare_with_labels(digits, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"version: 1\nsteps:\n  - quantize: {{after: [ReLU, Affine], bits: 3, calibrate: {digits.calib}}}\n"
                      f"expect:\n  compare: {{input: {digits.test}, labels: {digits.labels}, max-accuracy-drop: 0.01, "
                      "min-sqnr: 5}\n")
    out = tmp_path / "q.nnp"
    r = run("apply", recipe, digits.plain, "-o", out)
    assert r.exit_code == 1 and not out.exists()
    assert "accuracy drop" in r.stdout and "SQNR" in r.stdout


def test_python_api_leaves_the_model_alone(digits):
    import nnsurgeon
    from nnsurgeon.errors import OptionError

    model = nnsurgeon.load(digits.plain)
    before = [f.type for f in model.network("Runtime").function]
    report = nnsurgeon.sensitivity(model, after=["Affine"], calibrate=digits.calib, data=digits.test)
    assert [r["after"] for r in sorted(report["quantizers"], key=lambda r: r["after"])] == \
        ["@Runtime/Affine", "@Runtime/Affine_1"]
    assert report["forward_passes"] == 3 and report["samples"] == len(digits.x)
    assert [f.type for f in model.network("Runtime").function] == before
    with pytest.raises(OptionError, match="auto_exclude and its options belong to quantize"):
        nnsurgeon.sensitivity(model, after=["Affine"], calibrate=digits.calib, auto_exclude=True, min_sqnr=1)


def test_qdq_and_weight_quantizers_are_measured_exactly(digits, tmp_path):
    """QuantizeLinear -> DequantizeLinear pairs and weight quantizers are quantizers too: 'all' equals the
    model quantize writes with the same options, run by plain NnpLoader."""
    common = ["--after", "ReLU,Affine", "--weights", "8", "--quant-format", "qdq", "--symmetric",
              "--calibrate", digits.calib]
    r = run("sensitivity", digits.plain, *common, "--input", digits.test, "--cumulative", "--format", "json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert sorted(q["type"] for q in report["quantizers"]) == ["QuantizeLinear+DequantizeLinear"] * 5
    assert {"fc1/affine/W", "fc2/affine/W"} <= {q["after"] for q in report["quantizers"]}
    path, _ = quantized(digits.plain, tmp_path, "qdq", *common)
    assert report["all"]["sqnr_db"] == pytest.approx(sqnr(outputs(digits.plain, digits.x), outputs(path, digits.x)),
                                                     rel=1e-4)
