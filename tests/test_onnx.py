"""ONNX out and in: every export checked against onnxruntime, imports canonicalised and checked at load, the
defects found on imported models (names h5 collapses, fixed batch sizes)."""
import json
import os
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

from nnsurgeon.examples import build_example
from nnsurgeon.model import load_model, read_nnp

from . import onnx_models
from .conftest import assert_user_error, nnabla_outputs, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPUT_SHAPES = {"chain": (1, 8, 8), "residual": (1, 8, 8), "multi-output": (6,), "zoo": (3, 8, 8),
                "classifier": (1, 8, 8)}


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    return {name: onnx_models.save(getattr(onnx_models, name.replace("-", "_"))(), folder / f"{name}.onnx")
            for name in ["chain", "residual", "multi-output", "gap_5d"]}


def _names(model):
    net = model.network()
    return [f.name for f in net.function], [v.name for v in net.variable], list(model.parameters)


# -- import -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["chain", "residual", "multi-output"])
def test_imported_model_is_canonical_and_runs_as_onnxruntime_does(onnx_files, tmp_path, name):
    path = onnx_files[name]
    model = load_model(path)
    functions, variables, params = _names(model)
    assert all("//" not in n and not n.startswith("/") for n in functions + variables + params)
    types = {f.name: f.type for f in model.network().function}
    assert "Identity" not in types.values() and "BatchMatmul" not in types.values()
    expected = {"chain": {"conv1/Conv": "Convolution", "relu2/Relu": "ReLU", "fc/Gemm": "Affine"},
                "residual": {"stem/Conv": "Convolution", "block/Conv": "Convolution", "Add": "Add2",
                             "head/MatMul": "Affine"},
                "multi-output": {"fc/Gemm": "Affine", "Split/Slice": "Slice", "Split/Slice_1": "Slice", "Relu": "ReLU",
                                 "Sigmoid": "Sigmoid"}}[name]
    assert {k: types.get(k) for k in expected} == expected
    # the .nnp nnsurgeon writes runs in plain NNabla exactly as onnxruntime runs the .onnx
    out = tmp_path / "m.nnp"
    r = run("convert", path, "-o", out)
    assert r.exit_code == 0, r.stderr
    inputs, got = nnabla_outputs(str(out), model.network().name)
    want = onnx_models.run_onnxruntime(path, inputs)
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k].reshape(got[k].shape), atol=1e-4, rtol=1e-4)


def test_read_only_commands_take_onnx(onnx_files):
    r = run("list-layers", onnx_files["chain"], "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["name"] for x in rows] == ["conv1/Conv", "relu1/Relu", "conv2/Conv", "relu2/Relu", "Flatten",
                                         "fc/Gemm"]
    fc = rows[-1]
    assert fc["type"] == "Affine" and [p["shape"] for p in fc["parameters"]] == [[256, 10], [10]]
    assert run("info", onnx_files["residual"]).exit_code == 0


def test_conversion_that_changes_the_numbers_is_refused(onnx_files):
    r = run("info", onnx_files["gap_5d"])
    assert_user_error(r, "NNabla's conversion changes output 'y'", "refused")


def test_onnx_files_that_cannot_be_read_are_one_error_line(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all \xff\xfe")
    assert_user_error(run("info", bad), "not a valid ONNX file")
    gelu = helper.make_model(helper.make_graph(
        [helper.make_node("Gelu", ["x"], ["y"], name="/Gelu")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]),
        opset_imports=[helper.make_opsetid("", 20)])
    onnx.save(gelu, str(tmp_path / "new.onnx"))
    assert_user_error(run("info", tmp_path / "new.onnx"), "opset 20", "reads opsets 6, 7, 9, 10, 11, 12, 13, 14",
                      "dynamo=False, opset_version=14")
    # weights in an external data file are not followed
    external = onnx_models.chain()
    onnx.save(external, str(tmp_path / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    assert_user_error(run("info", tmp_path / "ext.onnx"), "external data", "save_as_external_data=False")


def test_newer_opset_is_converted_down_and_checked(tmp_path):
    path = onnx_models.save(onnx_models.chain(opset=17), tmp_path / "c17.onnx")
    r = run("-v", "list-layers", path)
    assert r.exit_code == 0, r.stderr
    assert "opset 17 converted to 14" in r.stderr


def test_safe_name():
    from nnsurgeon.model.onnx_import import safe_name

    assert safe_name("/conv1/Conv_output_0") == "conv1/Conv_output_0"
    assert safe_name("a//b/./c/") == "a/b/c"
    assert safe_name("//") == "v"


def test_imported_model_quantizes_saves_and_reloads(onnx_files, tmp_path):
    """Defect 5a: names the importer writes ('main_graph//fc/...', '/conv1/...') were collapsed by h5 and the
    quantized .nnp could not be read back."""
    import onnx

    model = onnx.load(onnx_files["chain"])
    for init in model.graph.initializer:  # names h5 would collapse or misplace
        init.name = {"conv1.weight": "//stem//w", "fc.bias": "/fc/./b/"}.get(init.name, init.name)
    for node in model.graph.node:
        for i, x in enumerate(node.input):
            node.input[i] = {"conv1.weight": "//stem//w", "fc.bias": "/fc/./b/"}.get(x, x)
    path = onnx_models.save(model, tmp_path / "odd.onnx")
    np.save(tmp_path / "calib.npy", np.random.RandomState(0).randn(6, 1, 8, 8).astype(np.float32))
    out = tmp_path / "q.nnp"
    r = run("quantize", path, "--after", "ReLU,Affine", "--calibrate", tmp_path / "calib.npy", "-o", out)
    assert r.exit_code == 0, r.stderr
    back = read_nnp(str(out))
    assert "stem/w" in back.parameters and "fc/b" in back.parameters
    assert sum(f.type == "MinMaxQuantize" for f in back.network().function) == 3
    _, outs = nnabla_outputs(str(out), back.network().name)
    assert np.isfinite(outs["y"]).all()


def test_fixed_batch_runs_slice_by_slice(onnx_files, tmp_path):
    """Defect 5b: a network with batch 1 fixed inside (every imported ONNX) ended in an internal error in
    extract, compare and calibration at batch sizes above 1."""
    path = onnx_models.save(onnx_models.chain(batch=1), tmp_path / "b1.onnx")
    x = np.random.RandomState(3).randn(5, 1, 8, 8).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = run("extract", path, "--input", tmp_path / "x.npy", "--layers", "fc/Gemm,relu1/Relu", "--batch-size", "4",
            "-o", tmp_path / "acts.npz")
    assert r.exit_code == 0, r.stderr
    assert "note: network 'main_graph' has its batch size fixed to 1" in r.stderr
    got = np.load(tmp_path / "acts.npz")["fc/Gemm"]
    want = np.concatenate([onnx_models.run_onnxruntime(path, {"x": x[i:i + 1]})["y"] for i in range(5)])
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    assert run("convert", path, "-o", tmp_path / "b1.nnp").exit_code == 0
    r = run("compare", path, tmp_path / "b1.nnp", "--random", "--samples", "5", "--batch-size", "4", "--atol", "0")
    assert r.exit_code == 0, r.stderr
    r = run("quantize", path, "--after", "ReLU", "--calibrate", tmp_path / "x.npy", "--batch-size", "4",
            "-o", tmp_path / "q.nnp")
    assert r.exit_code == 0, r.stderr
    qr_max = read_nnp(str(tmp_path / "q.nnp")).parameters["relu1/Relu/quantize/qr_max"].data
    assert float(qr_max) == pytest.approx(float(np.load(tmp_path / "acts.npz")["relu1/Relu"].max()), rel=1e-6)


def test_import_quantize_export_round_trip(onnx_files, tmp_path):
    np.save(tmp_path / "calib.npy", np.random.RandomState(0).randn(16, 3, 8, 8).astype(np.float32))
    q = tmp_path / "q.nnp"
    r = run("quantize", onnx_files["residual"], "--after", "ReLU,Affine,Add2", "--calibrate", tmp_path / "calib.npy",
            "-o", q)
    assert r.exit_code == 0, r.stderr
    out = tmp_path / "q.onnx"
    r = run("export", q, "-o", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["check"]["ok"] and report["quantizers"] == 4
    x = np.random.RandomState(1).randn(1, 3, 8, 8).astype(np.float32)
    float_y = onnx_models.run_onnxruntime(onnx_files["residual"], {"x": x})["y"]
    quant_y = onnx_models.run_onnxruntime(out, {"x": x})["y"]
    cosine = float((float_y * quant_y).sum() / np.linalg.norm(float_y) / np.linalg.norm(quant_y))
    assert cosine > 0.99 and not np.array_equal(float_y, quant_y)


# -- export -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def example_models(tmp_path_factory):
    """Every built-in example (classifier in its deployment form, made by the shipped recipe) with
    calibration data."""
    folder = tmp_path_factory.mktemp("export")
    out = {}
    for name in INPUT_SHAPES:
        path = folder / f"{name}.nnp"
        build_example(name, str(path), batch=2, seed=3)
        if name == "classifier":
            deploy = folder / "classifier.deploy.nnp"
            r = run("apply", os.path.join(ROOT, "recipes", "strip-training.yaml"), path, "-o", deploy)
            assert r.exit_code == 0, r.stderr
            path = deploy
        np.save(folder / f"{name}.calib.npy",
                np.random.RandomState(0).randn(32, *INPUT_SHAPES[name]).astype(np.float32))
        out[name] = (path, folder / f"{name}.calib.npy")
    return out


def _export(model, out, *args):
    r = run("export", model, "-o", out, "--format", "json", *args)
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["check"]["ok"] and os.path.exists(out)
    return report


@pytest.mark.parametrize("name", list(INPUT_SHAPES))
def test_every_example_exports_float_and_quantized(example_models, tmp_path, name):
    import onnx

    path, calib = example_models[name]
    report = _export(path, tmp_path / "f.onnx")
    assert report["quantizers"] == 0 and report["check"]["atol"] == pytest.approx(1e-4)
    for signed in ([], ["--signed"]):
        q = tmp_path / f"q{len(signed)}.nnp"
        r = run("quantize", path, "--after", "ReLU,Affine,Convolution,Add2,Sigmoid,Softmax", "--calibrate", calib,
                "-o", q, *signed)
        assert r.exit_code == 0, r.stderr
        report = _export(q, tmp_path / f"q{len(signed)}.onnx")
        assert report["quantizers"] > 0 and report["check"]["atol"] > 1e-4
        proto = onnx.load(str(tmp_path / f"q{len(signed)}.onnx"))
        zero_points = [i for i in proto.graph.initializer if i.name.endswith("/zero_point")]
        assert zero_points and {z.data_type for z in zero_points} == {
            onnx.TensorProto.INT8 if signed else onnx.TensorProto.UINT8}
        assert all(len(i.dims) == 0 for i in proto.graph.initializer if i.name.endswith("/scale"))
    report = _export(q, tmp_path / "sym.onnx", "--symmetric")
    proto = onnx.load(str(tmp_path / "sym.onnx"))
    from onnx import numpy_helper

    zps = [numpy_helper.to_array(i) for i in proto.graph.initializer if i.name.endswith("/zero_point")]
    assert zps and all(z.dtype == np.int8 and (z == 0).all() for z in zps)


def test_minmax_grid_is_nnabla_grid():
    """The exported scale and zero point reproduce NNabla's MinMaxQuantize on a range that needs nudging."""
    import nnabla as nn
    import nnabla.functions as F
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from nnsurgeon.model.onnx_export import mmq_grid

    x = (np.random.RandomState(0).randn(1, 10000) * 4 + 3).astype(np.float32)
    lo, hi, ql = np.float32(-1.3), np.float32(7.7), (np.float32(0), np.float32(255))
    with nn.parameter_scope("", OrderedDict()):
        v = [nn.Variable.from_numpy_array(np.full((1, 1), a, np.float32)) for a in (lo, hi) + ql]
        y = F.min_max_quantize(nn.Variable.from_numpy_array(x), *v, x_min_max=False, ema=True)
        y.forward()
        want = np.array(y.d)
    scale, zp, _, _ = mmq_grid(lo, hi, *ql, 0.01)
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
         helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(x.shape))],
        [numpy_helper.from_array(np.float32(scale), "s"), numpy_helper.from_array(np.uint8(zp), "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        ["y"], {"x": x})[0]
    diff = np.abs(got - want)
    # the same grid: equal everywhere except where float rounding puts a value on the other side of a
    # halfway point (NNabla divides x - m, ONNX divides x), and there by exactly one step
    assert (diff > 1e-5).sum() <= 10 and diff.max() <= float(scale) * 1.001
    assert len(np.unique(want)) > 200  # a real grid, not a constant


def _per_channel_model(path):
    """A conv whose weight goes through per-channel QuantizeLinear/DequantizeLinear (scale shaped (O,1,1,1))
    and whose activation is quantized per tensor, built with NNabla's own functions."""
    import nnabla as nn
    import nnabla.functions as F
    from nnabla.parameter import get_parameter_or_create
    from nnabla.utils.save import save

    rng = np.random.RandomState(5)
    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        x = nn.Variable((2, 3, 8, 8))
        w_data = rng.randn(4, 3, 3, 3).astype(np.float32) * np.array([0.1, 1, 3, 0.5], np.float32).reshape(4, 1, 1, 1)
        w = get_parameter_or_create("conv/W", w_data.shape, w_data, need_grad=False)
        s = get_parameter_or_create("conv/W_scale", (4, 1, 1, 1),
                                    (np.abs(w_data).reshape(4, -1).max(1) / 127).reshape(4, 1, 1, 1), need_grad=False)
        z = get_parameter_or_create("conv/W_zero_point", (4, 1, 1, 1), np.zeros((4, 1, 1, 1), np.float32),
                                    need_grad=False)
        wq = F.dequantize_linear(F.quantize_linear(w, s, z, round_mode="HALF_TO_EVEN", dtype=np.int8), s, z)
        h = F.relu(F.convolution(x, wq, pad=(1, 1)))
        a_s = get_parameter_or_create("act/scale", (1, 1, 1, 1), np.full((1, 1, 1, 1), 0.05, np.float32),
                                      need_grad=False)
        a_z = get_parameter_or_create("act/zero_point", (1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.float32),
                                      need_grad=False)
        y = F.dequantize_linear(F.quantize_linear(h, a_s, a_z, dtype=np.uint8), a_s, a_z)
        save(str(path), {"networks": [{"name": "Runtime", "batch_size": 2, "outputs": {"y": y}, "names": {"x": x}}],
                         "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})
    return str(path)


def test_per_channel_quantize_linear_keeps_its_axis(tmp_path):
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    path = _per_channel_model(tmp_path / "pc.nnp")
    r = run("export", path, "-o", tmp_path / "pc.onnx", "--format", "json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["check"]["ok"] and report["quantizers"] == 3  # the weight's pair, the activation's two
    assert any("rounds halfway values away from zero" in n for n in report["notes"])  # the activation's default
    proto = onnx.load(str(tmp_path / "pc.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    weight_nodes = [n for n in proto.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                    and inits.get(n.input[1], np.zeros(())).shape == (4,)]
    assert len(weight_nodes) == 2
    assert all([(a.name, a.i) for a in n.attribute] == [("axis", 0)] for n in weight_nodes)
    act = [n for n in proto.graph.node if n.op_type == "QuantizeLinear" and n not in weight_nodes]
    assert len(act) == 1 and inits[act[0].input[1]].shape == () and inits[act[0].input[2]].dtype == np.uint8
    # onnxruntime with its default (fusing) optimizations loads it and agrees
    x = np.random.RandomState(0).randn(2, 3, 8, 8).astype(np.float32)
    fused = ort.InferenceSession(str(tmp_path / "pc.onnx"), providers=["CPUExecutionProvider"]).run(
        ["y"], {"x": x})[0]
    _, want = nnabla_outputs(path, "Runtime", {"x": x})
    assert np.abs(fused - want["y"]).max() <= 0.05 + 1e-4  # within one activation step


def test_export_errors_are_one_line_and_write_nothing(example_models, tmp_path):
    classifier = tmp_path / "classifier.nnp"
    build_example("classifier", str(classifier))
    out = tmp_path / "x.onnx"
    assert_user_error(run("export", classifier, "-o", out), "'@Runtime/ImageAugmentation' has type "
                      "ImageAugmentation", "strip-training.yaml")
    chain, _ = example_models["chain"]
    dynamic = tmp_path / "dyn.nnp"
    assert run("quantize", chain, "--after", "ReLU", "-o", dynamic).exit_code == 0
    assert_user_error(run("export", dynamic, "-o", out), "dynamic", "calibrate first")
    assert_user_error(run("export", chain, "-o", tmp_path / "x.nnp"), "must end in .onnx")
    assert_user_error(run("export", chain, "-o", chain), "must end in .onnx")
    assert not out.exists()


def test_failed_check_exits_1_and_removes_the_file_unless_kept(example_models, tmp_path):
    chain, _ = example_models["chain"]
    out = tmp_path / "c.onnx"
    r = run("export", chain, "-o", out, "--atol", "0", "--rtol", "0", "--samples", "32")
    assert r.exit_code == 1 and "differ on output(s) y" in r.stderr and "nothing written" in r.stderr
    assert not out.exists() and os.listdir(tmp_path) == []
    r = run("export", chain, "-o", out, "--atol", "0", "--rtol", "0", "--samples", "32", "--keep-failed")
    assert r.exit_code == 1 and out.exists()
    r = run("export", chain, "-o", out, "--no-check", "--force")
    assert r.exit_code == 0 and "not checked" in r.stderr


def test_several_networks_pick_by_executor_or_network(tmp_path):
    path = tmp_path / "mn.nnp"
    build_example("multi-network", str(path))
    r = run("export", path, "-o", tmp_path / "a.onnx", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["network"] == "Runtime"  # the runtime executor
    r = run("export", path, "-o", tmp_path / "b.onnx", "--network", "Runtime", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["executor"] == "runtime", r.stderr
    # the validation executor's network computes a loss, which does not export: the error names it
    assert_user_error(run("export", path, "-o", tmp_path / "c.onnx", "--executor", "validation"),
                      "network 'Validation'", "SoftmaxCrossEntropy")
    r = run("export", path, "-o", tmp_path / "c.onnx", "--executor", "nope")
    assert_user_error(r, "no executor named 'nope'", "runtime (network Runtime)", "validation (network Validation)")


def test_python_export_and_batch_size(example_models, tmp_path):
    import onnx

    import nnsurgeon

    chain, calib = example_models["chain"]
    report = nnsurgeon.export(chain, str(tmp_path / "c.onnx"), batch_size=5, opset=11, data=str(calib))
    assert report["batch_size"] == 5 and report["check"]["ok"] and report["check"]["samples"] == 32
    proto = onnx.load(str(tmp_path / "c.onnx"))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 5
    assert proto.opset_import[0].version == 11


def test_without_the_extra_onnx_commands_say_how_to_install(tmp_path, example_models):
    chain, _ = example_models["chain"]
    code = ("import sys; sys.modules['onnx'] = None\n"
            "from nnsurgeon.cli import main\n"
            f"main(['export', {str(chain)!r}, '-o', {str(tmp_path / 'x.onnx')!r}])")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert "pip install 'nnsurgeon[onnx]'" in lines[0] and "--no-deps nnabla-converter" in lines[0]


def test_readme_lists_the_convertible_types_from_the_converter_tables():
    from nnsurgeon.model.onnx_support import supported_types_markdown

    readme = open(os.path.join(ROOT, "README.md")).read()
    assert supported_types_markdown() in readme, "regenerate: python -m nnsurgeon.model.onnx_support"


def test_export_is_a_recipe_step(example_models, tmp_path):
    chain, calib = example_models["chain"]
    recipe = tmp_path / "r.yaml"
    recipe.write_text("version: 1\nsteps:\n  - quantize:\n      after: [ReLU, Affine]\n"
                      f"      calibrate: {calib}\n  - export:\n      output: {tmp_path / 'q.onnx'}\n"
                      "      symmetric: true\n")
    r = run("apply", recipe, chain, "-o", tmp_path / "q.nnp", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "q.onnx").exists() and (tmp_path / "q.nnp").exists()
    report = json.loads(r.stdout)
    assert "match NNabla" in json.dumps(report)
    # the step's options are checked before anything runs, like every step's
    recipe.write_text("version: 1\nsteps:\n  - export:\n      output: x.nnp\n")
    assert_user_error(run("apply", recipe, chain, "-o", tmp_path / "z.nnp"), "must end in .onnx")


def test_per_channel_minmax_quantize_with_narrow_levels(tmp_path):
    """A MinMaxQuantize with per-channel ranges shaped (1, C, 1, 1) and 4-bit levels: one axis, clipped as
    NNabla clips, the same numbers."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import onnx
    from nnabla.parameter import get_parameter_or_create
    from nnabla.utils.save import save

    def param(name, values):
        return get_parameter_or_create(name, (1, 4, 1, 1), np.asarray(values, np.float32).reshape(1, 4, 1, 1),
                                       need_grad=False)

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((2, 3, 8, 8))
        h = PF.convolution(x, 4, (3, 3), pad=(1, 1), name="conv")
        y = F.min_max_quantize(h, param("q/qr_min", [-1, -2, -0.5, 0]), param("q/qr_max", [1, 3, 0.5, 2]),
                               param("q/ql_min", [0] * 4), param("q/ql_max", [15] * 4), x_min_max=False, ema=True)
        save(str(tmp_path / "pc.nnp"), {
            "networks": [{"name": "Runtime", "batch_size": 2, "outputs": {"y": y}, "names": {"x": x}}],
            "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})
    report = _export(tmp_path / "pc.nnp", tmp_path / "pc.onnx")
    assert report["check"]["outputs"][0]["max_abs"] < 1e-5
    nodes = [(n.op_type, [(a.name, a.i) for a in n.attribute]) for n in onnx.load(str(tmp_path / "pc.onnx")).graph.node]
    assert nodes[1:] == [("Max", []), ("Min", []), ("QuantizeLinear", [("axis", 1)]),
                         ("DequantizeLinear", [("axis", 1)])]


def test_unnamed_graph_and_nodes_get_names(tmp_path):
    model = onnx_models.chain()
    model.graph.name = ""
    for node in model.graph.node:
        node.name = ""
    m = load_model(onnx_models.save(model, tmp_path / "anon.onnx"))
    assert m.network_names == ["network"]
    assert [f.name for f in m.network().function] == ["Convolution", "ReLU", "Convolution_1", "ReLU_1", "Reshape",
                                                      "Affine"]


@pytest.mark.parametrize("args", [["--preset", "deploy", "--quant-format", "qdq"]])
def test_weight_quantization_from_the_quantize_pass_exports(example_models, tmp_path, args):
    """Weights quantized by the quantize pass (per output channel, symmetric narrow int8), as
    QuantizeLinear/DequantizeLinear or MinMaxQuantize on the parameter: written on the ONNX initializers, so
    NNabla's exporter still sees a parameter (it refuses an Affine whose weight is computed)."""
    import onnx

    path, calib = example_models["residual"]
    q = tmp_path / "q.nnp"
    r = run("quantize", path, *args, "--calibrate", calib, "-o", q)
    assert r.exit_code == 0, r.stderr
    report = _export(q, tmp_path / "q.onnx")
    assert max(o["max_abs"] for o in report["check"]["outputs"]) < 1e-4
    proto = onnx.load(str(tmp_path / "q.onnx"))
    weights = [n for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.output[0].endswith("/dequantized")]
    assert len(weights) == 5  # stem, conv_a, conv_b, fc1, fc2
    readers = {x for n in proto.graph.node for x in n.input}
    assert all(w.output[0] in readers for w in weights)
