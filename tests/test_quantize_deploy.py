"""quantize for deployment: weights per channel/tensor on every weighted type, shared weights, the qdq format,
symmetric ranges, mixed precision, explicit ranges, the deploy preset and folding into depthwise convolutions.
References are numpy computations written here or hand-built NNabla graphs, never the pass's own numbers."""
import json
from collections import OrderedDict

import numpy as np
import pytest

from nnsurgeon.model import read_nnp

from .conftest import assert_user_error, count_type, files_in, nnabla_outputs, run


def _save(path, build, batch=2, seed=0):
    """A one-network .nnp (Runtime, executor) of ``build(x) -> y`` with seeded random parameters."""
    import nnabla as nn
    from nnabla.utils.save import save

    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        x, y = build(batch)
        rng = np.random.RandomState(seed)
        for k, v in nn.get_parameters(grad_only=False).items():
            v.d = np.abs(rng.randn(*v.shape)) + 0.5 if k.endswith("var") else rng.randn(*v.shape) * 0.5
        save(str(path), {"networks": [{"name": "Runtime", "batch_size": batch, "outputs": {"y": y},
                                       "names": {"x": x}}],
                         "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})
    return str(path)


def _weighted(batch):
    """Every weighted type: Convolution, DepthwiseConvolution (multiplier 2), Deconvolution, Affine."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF

    x = nn.Variable((batch, 3, 6, 6))
    h = F.relu(PF.convolution(x, 4, (3, 3), pad=(1, 1), name="conv"))
    h = F.relu(PF.depthwise_convolution(h, (3, 3), pad=(1, 1), multiplier=2, name="dw"))
    h = F.relu(PF.deconvolution(h, 3, (2, 2), stride=(2, 2), name="deconv"))
    return x, PF.affine(h, (5,), name="fc")


def _mobilenet(batch):
    """MobileNet-style: conv-BN-ReLU, depthwise-BN-ReLU, pointwise conv-BN-ReLU, affine."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF

    x = nn.Variable((batch, 3, 8, 8))
    h = F.relu(PF.batch_normalization(PF.convolution(x, 8, (3, 3), pad=(1, 1), with_bias=False, name="c1"),
                                      batch_stat=False, name="bn1"))
    h = F.relu(PF.batch_normalization(PF.depthwise_convolution(h, (3, 3), pad=(1, 1), with_bias=False, name="dw"),
                                      batch_stat=False, name="bn2"))
    h = F.relu(PF.batch_normalization(PF.convolution(h, 16, (1, 1), with_bias=False, name="pw"),
                                      batch_stat=False, name="bn3"))
    return x, PF.affine(F.average_pooling(h, (2, 2)), 10, name="fc")


def _ref_weight(w, axes, bits=8):
    """Symmetric narrow quantization of a weight, written independently: scale = max|w| / (2^(b-1) - 1)."""
    top = 2 ** (bits - 1) - 1
    reduce = tuple(i for i in range(w.ndim) if i not in axes)
    m = np.abs(w).max(axis=reduce, keepdims=True)
    s = m / top
    return np.clip(np.round(w / s), -top, top) * s


def _outputs_with(path, replace, inputs):
    """Run ``path`` with plain NnpLoader after replacing parameters ``{name: array}`` (a hand-made reference)."""
    import nnabla as nn
    from nnabla.utils.nnp_graph import NnpLoader

    with nn.parameter_scope("", OrderedDict()):
        net = NnpLoader(path).get_network("Runtime")
        params = nn.get_parameters(grad_only=False)
        for k, v in replace.items():
            params[k].d = v
        for k, v in net.inputs.items():
            v.d = inputs[k]
        y = net.outputs["y"]
        y.forward()
        return np.array(y.d)


def _params(path):
    return {k: p.data for k, p in read_nnp(str(path)).parameters.items()}


def _quantize(*args):
    r = run("quantize", *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


# (weight, its output-channel axes) for _weighted: conv W (O,I,k,k) axis 0; depthwise W (C*m,k,k) axis 0;
# deconv W (I,O,k,k) axis 1; affine W (inputs, outputs) the output axis 1
AXES = {"conv/conv/W": (0,), "dw/depthwise_conv/W": (0,), "deconv/deconv/W": (1,), "fc/affine/W": (1,)}


@pytest.mark.parametrize("granularity", ["channel", "tensor"])
def test_weights_every_type_match_a_numpy_reference(tmp_path, granularity):
    src = _save(tmp_path / "m.nnp", _weighted)
    out = tmp_path / "q.nnp"
    report = _quantize(src, "--weights", "8", "--weights-granularity", granularity, "-o", out)
    recs = {r["output"]: r for r in report["quantizers"]}
    assert set(recs) == set(AXES) and all(r["kind"] == "weight" for r in recs.values())
    original = _params(src)
    channels = {w: int(np.prod([original[w].shape[a] for a in axes])) for w, axes in AXES.items()}
    assert channels == {"conv/conv/W": 4, "dw/depthwise_conv/W": 8, "deconv/deconv/W": 3, "fc/affine/W": 5}
    for w in AXES:
        assert recs[w]["channels"] == (channels[w] if granularity == "channel" else 1)
    assert count_type(out, "Runtime", "MinMaxQuantize") == 4
    ref = {w: _ref_weight(original[w], axes if granularity == "channel" else ()) for w, axes in AXES.items()}
    inputs, got = nnabla_outputs(str(out), "Runtime", seed=3)
    want = _outputs_with(src, ref, inputs)
    np.testing.assert_allclose(got["y"], want, rtol=1e-4, atol=1e-4)
    _, float_out = nnabla_outputs(src, "Runtime", inputs=inputs)
    assert np.abs(float_out["y"] - got["y"]).max() > 1e-4  # the weights really changed


def test_shared_weight_quantized_in_every_network_with_one_set_of_parameters(examples, tmp_path):
    src = examples[("multi-network", "nntxt+h5")]
    out = tmp_path / "q.nnp"
    report = _quantize(src, "--weights", "8", "-o", out)
    assert sorted({r["network"] for r in report["quantizers"]}) == ["Runtime", "Training", "Validation"]
    m = read_nnp(str(out))
    quant_params = sorted(k for k in m.parameters if "_quantize/" in k)
    assert quant_params == sorted(f"{w}_quantize/{k}" for w in ("fc1/affine/W", "fc2/affine/W")
                                  for k in ("qr_min", "qr_max", "ql_min", "ql_max"))
    original = _params(src)
    ref = {w: _ref_weight(original[w], (1,)) for w in ("fc1/affine/W", "fc2/affine/W")}
    for net in ("Training", "Validation", "Runtime"):
        assert count_type(out, net, "MinMaxQuantize") == 2
        inputs, got = nnabla_outputs(str(out), net, seed=4)
        if net == "Runtime":
            np.testing.assert_allclose(got["y"], _outputs_with(src, ref, inputs), rtol=1e-5, atol=1e-6)
    # only Runtime selected: the other networks still read the float weight and give the same outputs
    out_rt = tmp_path / "rt.nnp"
    _quantize(src, "--weights", "8", "--network", "Runtime", "-o", out_rt)
    for net in ("Training", "Validation"):
        inputs, want = nnabla_outputs(src, net, seed=5)
        _, got = nnabla_outputs(str(out_rt), net, inputs=inputs)
        assert all(want[k].tobytes() == got[k].tobytes() for k in want)


@pytest.fixture()
def calibrated(tmp_path, examples):
    src = examples[("residual", "nntxt+h5")]
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.RandomState(0).randn(64, 1, 8, 8).astype(np.float32))
    return src, calib


def test_qdq_and_minmax_agree_within_one_step_and_qdq_loads_in_nnabla(calibrated, tmp_path):
    src, calib = calibrated
    a, b = tmp_path / "minmax.nnp", tmp_path / "qdq.nnp"
    ra = _quantize(src, "--preset", "deploy", "--calibrate", calib, "-o", a)
    rb = _quantize(src, "--preset", "deploy", "--calibrate", calib, "--quant-format", "qdq", "-o", b)
    assert ra["quantizers"] == rb["quantizers"]  # same selection, same calibration, same records
    assert count_type(b, "Runtime", "QuantizeLinear") == count_type(b, "Runtime", "DequantizeLinear") == 12
    assert count_type(b, "Runtime", "MinMaxQuantize") == 0
    inputs, ya = nnabla_outputs(str(a), "Runtime", seed=7)
    _, yb = nnabla_outputs(str(b), "Runtime", inputs=inputs)  # plain NnpLoader runs the qdq model
    (out_rec,) = [r for r in ra["quantizers"] if r["output"] == "y"]
    step = (out_rec["range"][1] - out_rec["range"][0]) / 254
    assert np.abs(ya["y"] - yb["y"]).max() <= step + 1e-6
    m = read_nnp(str(b))
    for f in m.network("Runtime").function:
        if f.type == "QuantizeLinear":
            assert np.all(m.parameters[f.input[2]].data == 0)  # symmetric: zero point 0


def test_symmetric_minmax_has_zero_point_zero(calibrated, tmp_path):
    src, calib = calibrated
    out = tmp_path / "s.nnp"
    report = _quantize(src, "--after", "ReLU,Convolution", "--symmetric", "--calibrate", calib, "-o", out)
    m = read_nnp(str(out))
    kinds = set()
    for f in m.network("Runtime").function:
        if f.type != "MinMaxQuantize":
            continue
        qr_min, qr_max, ql_min, ql_max = (m.parameters[n].data.item() for n in f.input[1:])
        scale = (qr_max - qr_min) / (ql_max - ql_min)
        assert ql_min - qr_min / scale == pytest.approx(0, abs=1e-4)  # NNabla's zero point, before any nudge
        kinds.add((ql_min, ql_max))
    assert kinds == {(0.0, 255.0), (-127.0, 127.0)}  # ReLU outputs unsigned, convolution outputs signed
    relu = [r for r in report["quantizers"] if r["type"] == "ReLU"]
    assert all(r["range"][0] == 0 for r in relu)


def test_qdq_or_symmetric_without_static_ranges_is_refused(examples, tmp_path):
    src = examples[("residual", "nntxt+h5")]
    for args, fragment in ((["--quant-format", "qdq"], "--quant-format qdq needs static activation ranges"),
                           (["--symmetric"], "--symmetric needs static activation ranges")):
        r = run("quantize", src, "--after", "ReLU", *args, "-o", tmp_path / "q.nnp")
        assert_user_error(r, fragment, "add --calibrate DATA or --range")
    r = run("quantize", src, "--after", "ReLU", "--quant-format", "qdq", "--bits", "4", "-o", tmp_path / "q.nnp")
    assert_user_error(r, "--quant-format qdq stores 8-bit integers")
    assert files_in(tmp_path) == []
    # weights alone need no data, in either format
    _quantize(src, "--weights", "8", "--quant-format", "qdq", "-o", tmp_path / "w.nnp")
    nnabla_outputs(str(tmp_path / "w.nnp"), "Runtime")


def test_overrides_precedence(examples, tmp_path):
    src = examples[("residual", "nntxt+h5")]
    import nnsurgeon

    model = nnsurgeon.load(src)
    result = nnsurgeon.quantize(model, after=["ReLU", "Affine"], bits=4, keep=["7:@Runtime/ReLU_1"],
                                overrides=[{"name": "@Runtime/Affine*", "bits": 3},
                                           {"type": "Affine", "bits": 6},
                                           {"name": "@Runtime/Affine_1", "bits": 8},
                                           {"type": "ReLU", "bits": 5},
                                           {"name": "@Runtime/ReLU_1", "bits": 2}])
    bits = {r["after"]: r["bits"] for r in result.records}
    assert bits == {"@Runtime/ReLU": 5,  # type rule
                    "@Runtime/ReLU_1": 7,  # keep comes after the overrides' name rules
                    "@Runtime/ReLU_2": 5, "@Runtime/ReLU_3": 5,
                    "@Runtime/Affine": 3,  # a name rule beats any type rule
                    "@Runtime/Affine_1": 8}  # the last matching name rule wins
    levels = {}
    for f in model.network("Runtime").function:
        if f.type == "MinMaxQuantize":
            levels[f.name] = model.parameters[f.input[4]].data.item()
    assert levels["@Runtime/Affine_1/quantize"] == 255 and levels["@Runtime/ReLU_1/quantize"] == 127
    assert levels["@Runtime/ReLU/quantize"] == 31 and levels["@Runtime/Affine/quantize"] == 7


def test_keep_on_the_cli_and_bad_keep(examples, tmp_path):
    src = examples[("residual", "nntxt+h5")]
    report = _quantize(src, "--after", "ReLU,Affine", "--bits", "4", "--keep", "8:@Runtime/Affine_1,@Runtime/ReLU",
                       "-o", tmp_path / "q.nnp")
    assert {r["after"]: r["bits"] for r in report["quantizers"]}["@Runtime/Affine_1"] == 8
    assert {r["after"]: r["bits"] for r in report["quantizers"]}["@Runtime/ReLU"] == 8
    assert {r["after"]: r["bits"] for r in report["quantizers"]}["@Runtime/ReLU_1"] == 4
    r = run("quantize", src, "--after", "ReLU", "--keep", "@Runtime/ReLU", "-o", tmp_path / "x.nnp")
    assert_user_error(r, "--keep takes BITS:NAME")


def test_explicit_ranges(examples, tmp_path):
    src = examples[("residual", "nntxt+h5")]
    out = tmp_path / "q.nnp"
    report = _quantize(src, "--after", "Affine", "--range", "y=-3,5", "--range", "@Runtime/Affine=-1,2", "-o", out)
    assert {r["output"]: r["range"] for r in report["quantizers"]} == {"@Runtime/Affine_out": [-1.0, 2.0],
                                                                        "y": [-3.0, 5.0]}
    m = read_nnp(str(out))
    assert m.parameters["@Runtime/Affine_1/quantize/qr_min"].data.item() == -3
    assert m.parameters["@Runtime/Affine_1/quantize/qr_max"].data.item() == 5
    r = run("quantize", src, "--after", "Affine", "--range", "nope=-1,1", "-o", tmp_path / "x.nnp")
    assert_user_error(r, "--range names 'nope', which this step does not quantize")
    r = run("quantize", src, "--after", "Affine", "--range", "y=1", "-o", tmp_path / "x.nnp")
    assert_user_error(r, "--range takes TENSOR=LOW,HIGH")
    assert not (tmp_path / "x.nnp").exists()


def test_bias_int32_is_a_multiple_of_input_times_weight_scale(calibrated, tmp_path):
    src, calib = calibrated
    out = tmp_path / "q.nnp"
    report = _quantize(src, "--preset", "deploy", "--calibrate", calib, "--bias", "int32", "-o", out)
    m = read_nnp(str(out))
    fc2 = next(f for f in m.network("Runtime").function if f.name == "@Runtime/Affine_1")
    assert fc2.input[2] == "fc2/affine/b_int32"
    x_rec = next(r for r in report["quantizers"] if r["after"] == "@Runtime/ReLU_3")  # fc2's input
    s_x = x_rec["range"][1] / 255  # unsigned symmetric ReLU output
    w = _params(src)["fc2/affine/W"]
    s_w = np.abs(w).max(axis=0) / 127
    b = m.parameters["fc2/affine/b_int32"].data
    k = b / (s_x * s_w)
    np.testing.assert_allclose(k, np.round(k), atol=1e-2)
    np.testing.assert_allclose(b, _params(src)["fc2/affine/b"], atol=(s_x * s_w).max())
    nnabla_outputs(str(out), "Runtime")


def test_deploy_preset_needs_folded_batchnorm(tmp_path):
    src = _save(tmp_path / "mb.nnp", _mobilenet)
    r = run("quantize", src, "--preset", "deploy", "-o", tmp_path / "q.nnp")
    assert_user_error(r, "run fold-batchnorm first")
    assert files_in(tmp_path) == ["mb.nnp"]


def test_fold_into_depthwise_and_recipe_on_mobilenet_style(tmp_path):
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = _save(tmp_path / "mb.nnp", _mobilenet)
    folded = tmp_path / "f.nnp"
    from nnsurgeon.plan import Plan, Step, run_plan

    results, _, _ = run_plan(src, Plan([Step("fold-batchnorm", {})]), str(folded))
    assert sorted(r["type"] for r in results[0].records) == ["Convolution", "Convolution", "DepthwiseConvolution"]
    assert count_type(folded, "Runtime", "BatchNormalization") == 0
    inputs, want = nnabla_outputs(src, "Runtime", seed=2)
    _, got = nnabla_outputs(str(folded), "Runtime", inputs=inputs)
    np.testing.assert_allclose(got["y"], want["y"], rtol=1e-4, atol=1e-4)
    recipe = os.path.join(root, "recipes", "fold-bn-quantize.yaml")
    for model in (src, _save(tmp_path / "plain.nnp", _weighted)):  # with BN, and without any (allow-empty)
        out = tmp_path / ("q-" + os.path.basename(model))
        r = run("apply", recipe, model, "-o", out)
        assert r.exit_code == 0, r.stderr
        assert count_type(out, "Runtime", "BatchNormalization") == 0 and count_type(out, "Runtime", "MinMaxQuantize")
        nnabla_outputs(str(out), "Runtime")


RECIPE_ERRORS = [
    ("overrides:\n        - {name: fc1, typ: Affine, bits: 4}",
     "recipe.yaml:6:9: 'overrides' in step 1 (quantize), entry 1 must be {name: PATTERN, bits: N} or "
     "{type: TYPE, bits: N}"),
    ("overrides: [{type: Relu, bits: 4}]", "entry 1: unknown function type 'Relu'; did you mean 'ReLU'?"),
    ("format: qdq\n      bits: 4", "'format: qdq' stores 8-bit integers (NNabla's QuantizeLinear has int8 and "
                                   "uint8 only), not levels [0, 15]: use 'bits: 8' there"),
    ("ranges: {y: [3, 1]}", "'ranges' in step 1 (quantize): 'y' must map to [low, high] with low < high"),
    ("keep: [fc1]", "'keep' takes BITS:NAME"),
    ("symmetric: true\n      ql-min: -3", "'symmetric' chooses its own levels"),
]


@pytest.mark.parametrize("text,fragment", RECIPE_ERRORS)
def test_recipe_errors_name_the_option(tmp_path, text, fragment):
    path = tmp_path / "recipe.yaml"
    path.write_text("version: 1\nsteps:\n  - quantize:\n      after: [ReLU]\n      " + text + "\n")
    assert_user_error(run("check", path), fragment)


def test_before_quantizes_the_data_inputs_at_their_producers(examples, tmp_path):
    src = examples[("residual", "nntxt+h5")]
    out = tmp_path / "q.nnp"
    report = _quantize(src, "--before", "Add2,Convolution", "-o", out)
    got = {(r["after"], r["kind"]) for r in report["quantizers"]}
    assert got == {("x", "input"), ("@Runtime/ReLU", "input"), ("@Runtime/ReLU_1", "input"),
                   ("@Runtime/Convolution_2", "input")}  # the fork ReLU -> (conv_a, Add2) is quantized once
    from nnsurgeon.graph.network import Network

    net = Network(read_nnp(str(out)).network("Runtime"))
    (conv,) = [f for f in net.proto.function if f.name == "@Runtime/Convolution"]
    assert conv.input[0] == "x/quantized" and net.producer("x/quantized")[0].type == "MinMaxQuantize"
    assert [o.variable_name for o in read_nnp(str(out)).proto.executor[0].data_variable] == ["x"]
    nnabla_outputs(str(out), "Runtime")


def test_network_outputs_alone(examples, tmp_path):
    out = tmp_path / "q.nnp"
    report = _quantize(examples[("multi-output", "nntxt+h5")], "--network-outputs", "-o", out)
    assert sorted(r["output"] for r in report["quantizers"]) == ["ya", "yb"]
    assert {r["kind"] for r in report["quantizers"]} == {"output"}
    assert set(nnabla_outputs(str(out), "Runtime")[1]) == {"ya", "yb"}
