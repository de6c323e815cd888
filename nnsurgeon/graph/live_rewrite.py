"""Quantize a graph built in Python (``nn.Variable`` objects), in place, the way the architecture describes:
for each matched function ``f``, rebuild it from ``f.info.type_name`` and ``f.info.args`` through NNabla's
function registry, put a MinMaxQuantize on the rebuilt output, and ``f.outputs[i].rewire_on(q)``: every
consumer of the old output, and the output variable itself when it is a network output, now read the
quantized value; no consumer is rebuilt, so forks and multi-output functions work.

For .nnp files the same rewrite happens on the file's own protobuf (:mod:`nnsurgeon.passes.quantize`), which
keeps everything else in the file; this module is for graphs that live in a training script.
"""
from typing import List, Optional, Sequence, Union

from .._nnabla import nnabla_quiet
from ..errors import SelectionError
from .functions import check_type, make_function
from .naming import assign_function_names


def quantize_graph(outputs, after: Sequence[str], bits: int = 8, signed: bool = False,
                   ql_min: Optional[float] = None, ql_max: Optional[float] = None,
                   scope: str = "quantize") -> List[dict]:
    """Insert MinMaxQuantize (dynamic: min/max of each batch) after every function of a type in ``after``
    in the graph that computes ``outputs`` (an ``nn.Variable`` or a list). Quantizer parameters are created
    by ``PF.min_max_quantize`` in the current parameter scope under
    ``<scope>/<Type>[_<k>][/<i>]/min_max_quantize/`` (functions numbered per type in forward order, as
    :mod:`nnsurgeon.graph.naming` names them; ``/<i>`` per output of a multi-output function). Returns one
    record per quantizer.

    Example::

        x = nn.Variable((8, 4)); y = PF.affine(F.relu(PF.affine(x, 16, name="fc1")), 3, name="fc2")
        quantize_graph(y, after=["ReLU", "Affine"])   # y now computes through 3 quantizers
    """
    nn = nnabla_quiet()
    import nnabla.parametric_functions as PF
    from nnabla.utils.load_function import _create_function_instance

    from .levels import levels

    lo, hi = levels(bits, signed, ql_min, ql_max)
    wanted = {check_type(t) for t in after}
    roots: List = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    functions: List = []
    seen = set()

    def collect(f):
        key = hash(f)
        if key not in seen:
            seen.add(key)
            functions.append(f)

    for root in roots:
        root.visit(collect)
    names = python_graph_names(roots, functions)
    records = []
    for f, name in zip(functions, names):
        if f.info.type_name not in wanted or f.info.type_name == "MinMaxQuantize":
            continue
        proto = make_function(name, f.info.type_name, [], [], dict(f.info.args))
        rebuilt = _create_function_instance(nn.get_current_context(), proto)
        new_outputs: Union[list, tuple] = rebuilt(*f.inputs, n_outputs=len(f.outputs))
        if not isinstance(new_outputs, (list, tuple)):
            new_outputs = [new_outputs]
        old_outputs = list(f.outputs)
        for i, (old, new) in enumerate(zip(old_outputs, new_outputs)):
            qname = f"{scope}/{name.split('/', 1)[-1]}" + (f"/{i}" if len(old_outputs) > 1 else "")
            with nn.parameter_scope(qname):
                q = PF.min_max_quantize(new, ql_min=lo, ql_max=hi, x_min_max=True, ema=False)
            old.rewire_on(q)
            records.append({"function": name, "type": f.info.type_name, "output": i, "scope": qname})
    if not records:
        raise SelectionError(f"no function of type {', '.join(sorted(wanted))} in the graph")
    return records


PYTHON_GRAPH_NETWORK = "network"


def python_graph_names(roots, functions) -> List[str]:
    """The stable names of a graph built in Python, ``functions`` in forward order: the names NNabla's
    ``create_graph_from_variable`` gives them in network :data:`PYTHON_GRAPH_NETWORK` (``@network/ReLU_1``),
    which is also what ``nnsurgeon.extract`` of that graph is keyed by."""
    nn = nnabla_quiet()
    from ..errors import InternalError

    graph = nn.graph_def.create_graph_from_variable(PYTHON_GRAPH_NETWORK, list(roots))
    protos = [pf for pf in graph.networks[PYTHON_GRAPH_NETWORK].functions.values() if pf.type != "Sink"]
    if [pf.type for pf in protos] != [f.info.type_name for f in functions]:
        raise InternalError("NNabla's graph walk and Variable.visit disagree on the function order")
    names = [pf.name for pf in protos]
    assign = [type("F", (), {"name": n, "type": t})() for n, t in zip(names, (pf.type for pf in protos))]
    return assign_function_names(assign)
