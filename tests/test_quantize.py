"""quantize on real graphs: each result reloads with plain NnpLoader, runs, and has the expected quantizers."""
import json

import numpy as np
import pytest

from nnsurgeon.graph.network import Network
from nnsurgeon.model import read_nnp

from .conftest import assert_user_error, count_type, files_in, nnabla_outputs, run


def _quantize(src, out, *args):
    r = run("quantize", src, "-o", out, "--format", "json", *args)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def _check_runs(path, network="Runtime"):
    _, outs = nnabla_outputs(str(path), network)
    for v in outs.values():
        assert np.isfinite(v).all()
    return outs


def test_chain(examples, tmp_path):
    out = tmp_path / "q.nnp"
    report = _quantize(examples[("chain", "nntxt+h5")], out, "--after", "ReLU,Affine")
    assert len(report["quantizers"]) == 3
    assert count_type(out, "Runtime", "MinMaxQuantize") == 3
    _check_runs(out)


def test_residual_fork_rewires_every_consumer(examples, tmp_path):
    src = examples[("residual", "nntxt+h5")]
    out = tmp_path / "q.nnp"
    _quantize(src, out, "--after", "ReLU")
    before = Network(read_nnp(src).network("Runtime"))
    after = Network(read_nnp(str(out)).network("Runtime"))
    assert count_type(out, "Runtime", "MinMaxQuantize") == 4  # exactly one per ReLU output
    for f in before.topological():
        g = after.functions[f.name]
        assert len(g.input) == len(f.input)  # no operand lost
        if f.type == "ReLU":
            (q, _), = after.consumers(g.output[0])  # the ReLU now feeds only its quantizer
            assert q.type == "MinMaxQuantize" and q.output[0] == f.output[0]
            # every former consumer still reads the same name, which the quantizer now produces
            assert sorted(c.name for c, _ in after.consumers(f.output[0])) == \
                sorted(c.name for c, _ in before.consumers(f.output[0]))
    fork = before.functions["@Runtime/ReLU"].output[0]
    assert len(before.consumers(fork)) == 2
    _check_runs(out)


def test_network_output_keeps_its_name_and_executor_runs(examples, tmp_path):
    out = tmp_path / "q.nnp"
    report = _quantize(examples[("chain", "nntxt+h5")], out, "--after", "Affine")
    (rec,) = report["quantizers"]
    assert rec["output"] == "y" and rec["network_output"] is True
    m = read_nnp(str(out))
    net = Network(m.network("Runtime"))
    assert net.outputs == ["y"] and net.producer("y")[0].type == "MinMaxQuantize"
    assert [o.variable_name for o in m.proto.executor[0].output_variable] == ["y"]
    outs = _check_runs(out)
    assert outs["y"].shape == (2, 10)


def test_multi_output_function_quantizes_each_output(examples, tmp_path):
    out = tmp_path / "q.nnp"
    report = _quantize(examples[("multi-output", "nntxt+h5")], out, "--after", "Split")
    assert len(report["quantizers"]) == 2
    names = {r["output"] for r in report["quantizers"]}
    assert len(names) == 2
    m = read_nnp(str(out))
    qnames = sorted(f.name for f in m.network("Runtime").function if f.type == "MinMaxQuantize")
    assert qnames == ["@Runtime/Split/quantize", "@Runtime/Split/quantize_1"]
    assert set(_check_runs(out)) == {"ya", "yb"}


@pytest.mark.parametrize("types", ["DepthwiseConvolution", "BatchNormalization", "Concatenate", "Add2",
                                   "Reshape", "Softmax"])
def test_types_from_no_list(examples, tmp_path, types):
    src = examples[("zoo", "nntxt+h5")]
    out = tmp_path / "q.nnp"
    _quantize(src, out, "--after", types)
    expected = count_type(src, "Runtime", types)
    assert expected >= 1 and count_type(out, "Runtime", "MinMaxQuantize") == expected
    _check_runs(out)


def test_three_networks_all_by_default_or_limited(examples, tmp_path):
    src = examples[("multi-network", "nntxt+h5")]
    out_all, out_rt = tmp_path / "all.nnp", tmp_path / "rt.nnp"
    _quantize(src, out_all, "--after", "ReLU")
    for net in ["Training", "Validation", "Runtime"]:
        assert count_type(out_all, net, "MinMaxQuantize") == 1
        nnabla_outputs(str(out_all), net)
    _quantize(src, out_rt, "--after", "ReLU", "--network", "Runtime")
    assert count_type(out_rt, "Runtime", "MinMaxQuantize") == 1
    for net in ["Training", "Validation"]:
        assert count_type(out_rt, net, "MinMaxQuantize") == 0
        inputs, want = nnabla_outputs(src, net, seed=5)
        _, got = nnabla_outputs(str(out_rt), net, inputs=inputs)
        assert all(want[k].tobytes() == got[k].tobytes() for k in want)
    a, b = read_nnp(src), read_nnp(str(out_rt))
    assert [e.name for e in a.proto.executor] == [e.name for e in b.proto.executor]
    assert len(b.proto.optimizer) == 1 and len(b.proto.monitor) == 1 and len(b.proto.dataset) == 1


def test_idempotent(examples, tmp_path):
    once, twice = tmp_path / "1.nnp", tmp_path / "2.nnp"
    _quantize(examples[("residual", "nntxt+h5")], once, "--after", "ReLU")
    r = run("quantize", once, "-o", twice, "--after", "ReLU", "--format", "json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["quantizers"] == [] and len(report["notes"]) == 4
    assert count_type(twice, "Runtime", "MinMaxQuantize") == 4


def test_parameters_named_after_function(examples, tmp_path):
    out = tmp_path / "q.nnp"
    _quantize(examples[("chain", "nntxt+h5")], out, "--after", "Affine", "--bits", "4", "--signed")
    params = read_nnp(str(out)).parameters
    base = "@Runtime/Affine/quantize/"
    assert {base + k for k in ("qr_min", "qr_max", "ql_min", "ql_max")} <= set(params)
    assert params[base + "ql_min"].data.item() == -8 and params[base + "ql_max"].data.item() == 7


def test_default_output_beside_input(examples, tmp_path):
    src = tmp_path / "model.nnp"
    src.write_bytes(open(examples[("chain", "nntxt+h5")], "rb").read())
    r = run("quantize", src, "--after", "ReLU")
    assert r.exit_code == 0, r.stderr
    assert files_in(tmp_path) == ["model.nnp", "model.quantized.nnp"]


def test_dry_run_writes_nothing(examples, tmp_path):
    r = run("quantize", examples[("residual", "nntxt+h5")], "--after", "ReLU", "--dry-run",
            "-o", tmp_path / "x.nnp")
    assert r.exit_code == 0 and "would insert 4" in r.stderr
    assert files_in(tmp_path) == []


def test_name_and_exclude_selectors(examples, tmp_path):
    src = examples[("residual", "nntxt+h5")]
    out = tmp_path / "q.nnp"
    report = _quantize(src, out, "--after", "ReLU", "--exclude", "@Runtime/ReLU_3")
    assert sorted(r["after"] for r in report["quantizers"]) == ["@Runtime/ReLU", "@Runtime/ReLU_1", "@Runtime/ReLU_2"]
    report = _quantize(src, tmp_path / "q2.nnp", "--name", "re:@Runtime/(ReLU|Affine)_1")
    assert sorted(r["after"] for r in report["quantizers"]) == ["@Runtime/Affine_1", "@Runtime/ReLU_1"]
    report = _quantize(src, tmp_path / "q3.nnp", "--after", "ReLU,Affine", "--exclude", "Affine")
    assert {r["type"] for r in report["quantizers"]} == {"ReLU"}


def test_unknown_type_suggests(examples, tmp_path):
    r = run("quantize", examples[("chain", "nntxt+h5")], "--after", "Relu", "-o", tmp_path / "x.nnp")
    assert_user_error(r, "unknown function type 'Relu'", "did you mean 'ReLU'")
    assert files_in(tmp_path) == []


def test_empty_match_is_an_error_unless_allowed(examples, tmp_path):
    src = examples[("chain", "nntxt+h5")]
    r = run("quantize", src, "--after", "Sigmoid", "-o", tmp_path / "x.nnp")
    assert_user_error(r, "no function matches type Sigmoid", "types present: Affine, Convolution, ReLU")
    assert files_in(tmp_path) == []
    r = run("quantize", src, "--after", "Sigmoid", "--allow-empty", "-o", tmp_path / "x.nnp")
    assert r.exit_code == 0 and count_type(tmp_path / "x.nnp", "Runtime", "MinMaxQuantize") == 0


def test_saved_model_runs_with_nnabla_graph_def(examples, tmp_path):
    """Another NNabla loader path: nn.graph_def.load, as NNabla's docs show."""
    import nnabla as nn

    out = tmp_path / "q.nnp"
    _quantize(examples[("residual", "nntxt+h5")], out, "--after", "ReLU,Affine")
    g = nn.graph_def.load(str(out))
    x = nn.Variable((2, 1, 8, 8))
    x.d = np.random.RandomState(0).randn(2, 1, 8, 8)
    y = g.networks["Runtime"](x)
    y.forward()
    assert y.shape == (2, 10) and np.isfinite(y.d).all()
