"""Static quantizers run through their faster equivalent in nnsurgeon's own runs: bit-identical to NNabla
running the saved model's MinMaxQuantize; the saved model is unchanged."""
import numpy as np
import pytest

from nnsurgeon.model import load_model
from nnsurgeon.runtime.fastquant import measurement_model
from nnsurgeon.runtime.runner import Runner

from .conftest import nnabla_outputs, run


@pytest.mark.parametrize("name,bits,signed,weights", [("residual", "8", False, False), ("zoo", "4", False, False),
                                                       ("residual", "8", True, False), ("zoo", "3", True, False),
                                                       ("zoo", "8", False, True)])
def test_runs_equal_nnablas_minmaxquantize_bit_for_bit(examples, tmp_path, name, bits, signed, weights):
    """Per-tensor quantizers run as scalar functions, per-channel weight quantizers as broadcast ones."""
    src = examples[(name, "nntxt+h5")]
    shapes = Runner(load_model(src), "Runtime").input_shapes
    calib = tmp_path / "calib.npz"
    rng = np.random.RandomState(5)
    np.savez(calib, **{k: rng.randn(16, *s).astype(np.float32) * 2 for k, s in shapes.items()})
    out = tmp_path / "q.nnp"
    types = "ReLU,Affine,Convolution,Add2" if name == "zoo" else "ReLU,Affine,Add2"
    args = ["quantize", src, "--after", types, "--calibrate", calib, "--bits", bits, "-o", out, "--allow-empty"]
    r = run(*args, *(["--signed"] if signed else []), *(["--weights", "8"] if weights else []))
    assert r.exit_code == 0, r.stderr
    model = load_model(str(out))
    quantizers = [f for f in model.network("Runtime").function if f.type == "MinMaxQuantize"]
    assert quantizers and all(not f.min_max_quantize_param.x_min_max for f in quantizers)
    fast = measurement_model(model, "Runtime")
    assert fast is not model and not any(f.type == "MinMaxQuantize" for f in fast.network("Runtime").function)
    assert [f.type for f in model.network("Runtime").function].count("MinMaxQuantize") == len(quantizers)
    run_types = [f.type for f in fast.network("Runtime").function]
    assert "MaximumScalar" in run_types and ("Maximum2" in run_types) == weights
    for seed in (0, 1):
        inputs, want = nnabla_outputs(str(out), "Runtime", seed=seed)
        inputs = {k: v * 4 for k, v in inputs.items()}  # values beyond the calibrated range: clipping too
        _, want = nnabla_outputs(str(out), "Runtime", inputs=inputs)
        runner = Runner(model, "Runtime", watch=list(want))
        got = runner.run(inputs)
        for k in want:
            assert got[k].tobytes() == want[k].tobytes(), k


def test_models_without_static_quantizers_run_as_they_are(examples):
    model = load_model(examples[("residual", "nntxt+h5")])
    assert measurement_model(model, "Runtime") is model


def test_runner_uses_the_equivalent_on_cpu(examples, tmp_path):
    src = examples[("residual", "nntxt+h5")]
    calib = tmp_path / "c.npy"
    np.save(calib, np.random.RandomState(0).randn(8, 1, 8, 8).astype(np.float32))
    out = tmp_path / "q.nnp"
    assert run("quantize", src, "--after", "ReLU", "--calibrate", calib, "-o", out).exit_code == 0
    runner = Runner(load_model(str(out)), "Runtime")
    assert not any(f.type == "MinMaxQuantize" for f in runner.run_model.network("Runtime").function)


def test_a_range_that_overflows_keeps_the_broadcast_sequence(examples, tmp_path):
    """Regression: with a range whose width overflows float32 the nudged range is NaN, and AddScalar(-min)
    gives a NaN of the other sign than MinMaxQuantize's x - min: such quantizers keep the broadcast form."""
    from nnsurgeon.model import write_nnp

    src = examples[("residual", "nntxt+h5")]
    calib = tmp_path / "c.npy"
    np.save(calib, np.random.RandomState(0).randn(8, 1, 8, 8).astype(np.float32))
    out = tmp_path / "q.nnp"
    assert run("quantize", src, "--after", "ReLU", "--calibrate", calib, "-o", out).exit_code == 0
    model = load_model(str(out))
    first = next(f for f in model.network("Runtime").function if f.type == "MinMaxQuantize")
    model.parameters[first.input[1]].data[...] = -1e38
    model.parameters[first.input[2]].data[...] = 3e38
    wide = tmp_path / "wide.nnp"
    write_nnp(model, str(wide))
    model = load_model(str(wide))
    run_types = [f.type for f in measurement_model(model, "Runtime").network("Runtime").function]
    assert "Maximum2" in run_types and "MaximumScalar" in run_types
    inputs, want = nnabla_outputs(str(wide), "Runtime", seed=3)
    got = Runner(model, "Runtime", watch=list(want)).run(inputs)
    for k in want:
        assert got[k].tobytes() == want[k].tobytes(), k
