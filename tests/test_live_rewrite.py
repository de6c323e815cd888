"""quantize_graph: rebuild + rewire_on on graphs built in Python; results save with NNabla and load back."""
from collections import OrderedDict

import numpy as np
import pytest

import nnsurgeon

from .conftest import count_type, nnabla_outputs


def _quant(v, lo=0.0, hi=255.0):
    """NNabla's MinMaxQuantize with the range from the data (x_min_max), in numpy, nudge included."""
    m, big = float(v.min()), float(v.max())
    scale = (big - m) / (hi - lo)
    zp = np.clip(np.round(lo - m / scale), lo, hi)
    m_adj, big_adj = (lo - zp) * scale, (hi - zp) * scale
    return np.round((np.clip(v, m_adj, big_adj) - m_adj) / scale) * scale + m_adj


def test_fork_and_network_output(tmp_path):
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((3, 4))
        x.d = np.random.RandomState(0).randn(3, 4)
        h = F.relu(PF.affine(x, 4, name="fc"))
        a, b = F.tanh(h), F.sigmoid(h)  # h feeds two consumers
        y = F.add2(a, b)
        h.persistent = True
        y.forward()
        h_float = np.array(h.d)
        records = nnsurgeon.quantize_graph(y, after=["ReLU"])
        assert records == [{"function": "@network/ReLU", "type": "ReLU", "output": 0, "scope": "quantize/ReLU"}]
        assert h.parent.info.type_name == "MinMaxQuantize"  # the same Variable, now quantized
        y.forward()
        hq = _quant(h_float)
        np.testing.assert_allclose(h.d, hq, atol=1e-5)
        np.testing.assert_allclose(y.d, np.tanh(hq) + 1 / (1 + np.exp(-hq)), atol=1e-5)
        names = sorted(n for n in nn.get_parameters(grad_only=False) if n.startswith("quantize/"))
        assert names == ["quantize/ReLU/min_max_quantize/" + k for k in ("ql_max", "ql_min", "qr_max", "qr_min")], names
        path = str(tmp_path / "g.nnp")
        save(path, {"networks": [{"name": "net", "batch_size": 3, "outputs": {"y": y}, "names": {"x": x}}]})
    assert count_type(path, "net", "MinMaxQuantize") == 1
    _, outs = nnabla_outputs(path, "net", inputs={"x": x.d})
    np.testing.assert_allclose(outs["y"], np.tanh(hq) + 1 / (1 + np.exp(-hq)), atol=1e-5)


def test_network_output_and_multi_output():
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((2, 6))
        x.d = np.random.RandomState(1).randn(2, 6)
        s0, s1 = F.split(F.reshape(PF.affine(x, 4, name="fc"), (2, 2, 2)), axis=1)
        y = F.add2(s0, s1)
        records = nnsurgeon.quantize_graph([y, s1], after=["Split", "Add2"])
        assert sorted((r["function"], r["output"], r["scope"]) for r in records) == [
            ("@network/Add2", 0, "quantize/Add2"), ("@network/Split", 0, "quantize/Split/0"),
            ("@network/Split", 1, "quantize/Split/1")]
        assert y.parent.info.type_name == "MinMaxQuantize" and s1.parent.info.type_name == "MinMaxQuantize"
        nn.forward_all([y, s1])
        assert np.isfinite(y.d).all()
        with pytest.raises(nnsurgeon.NnsurgeonError):
            nnsurgeon.quantize_graph(y, after=["Convolution"])


def test_one_naming_function_for_python_graphs():
    """Defect: extract named a Python graph's functions '@network/ReLU_1' where quantize_graph said 'ReLU_1'."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF

    import nnsurgeon

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((2, 4))
        y = PF.affine(F.relu(F.relu(PF.affine(x, 8, name="fc1"))), 3, name="fc2")
        extracted = list(nnsurgeon.extract(y, {x: np.random.RandomState(0).randn(2, 4)}))
        quantized = [r["function"] for r in nnsurgeon.quantize_graph(y, after=["ReLU", "Affine"])]
    assert quantized == extracted == ["@network/Affine", "@network/ReLU", "@network/ReLU_1", "@network/Affine_1"]
