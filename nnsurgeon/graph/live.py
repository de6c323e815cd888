"""A network of a model as a live NNabla graph (``nn.Variable`` objects), built by NNabla's own loader path
(``nnabla.core.graph_def.ProtoNetwork`` + ``nnabla.utils.nnp_graph.NnpNetwork``), so it holds exactly the
functions ``NnpLoader.get_network`` builds, with computed shapes, ready to run forward.
"""
from collections import OrderedDict
from typing import Dict, Optional

import numpy as np

from .._nnabla import nnabla_quiet
from ..errors import ModelError


def parameter_scope(model, values: bool = True) -> "OrderedDict":
    """An NNabla parameter scope holding the model's parameters as ``nn.Variable`` (built once per model).
    ``values=False``: variables of the parameters' shapes with no data (nothing allocated or copied), enough
    to build the graph and infer shapes, not to run it."""
    key = model.parameters_key()
    attr = "_live_scope" if values else "_shape_scope"
    cached = getattr(model, attr, None)
    if cached is not None and cached[0] == key:
        return cached[1]
    nn = nnabla_quiet()
    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        for name, p in model.parameters.items():
            nn.parameter.set_parameter(name, nn.Variable.from_numpy_array(p.data, need_grad=p.need_grad) if values
                                       else nn.Variable(p.data.shape, need_grad=p.need_grad))
    setattr(model, attr, (key, scope))
    return scope


def share_parameter_scope(source, target) -> None:
    """Let ``target`` (a copy of ``source`` with the same parameter arrays) use ``source``'s live parameter
    scope instead of building its own copy of every weight."""
    scope = parameter_scope(source)
    if target.parameters_key() == source.parameters_key():
        target._live_scope = (source.parameters_key(), scope)


class LiveNetwork:
    """The live graph of network ``name``: ``inputs``, ``outputs`` and ``variables`` by name (``nn.Variable``),
    and ``functions``: NNabla's ProtoFunctions in forward order (name, type, args, inputs, outputs).
    ``values=False`` builds it on parameters without data: a check that NNabla can build it, cheap.

    Example::

        live = LiveNetwork(model, "Runtime", batch_size=1)
        live.inputs["x"].d = np.zeros(live.inputs["x"].shape)
        live.outputs["y"].forward()
    """

    def __init__(self, model, name: Optional[str] = None, batch_size: Optional[int] = None, context=None,
                 values: bool = True):
        nn = nnabla_quiet()
        from nnabla.core.graph_def import ProtoGraph, ProtoNetwork
        from nnabla.utils.nnp_graph import NnpNetwork

        proto = model.network(name)
        if batch_size is not None:
            proto = _batch_as_placeholder(proto)
        self.name = proto.name
        graph = ProtoGraph(parameter_scope=parameter_scope(model, values))
        ctx = context or nn.get_current_context()
        try:
            with nn.context_scope(ctx), nn.parameter_scope("", OrderedDict()):
                proto_network = ProtoNetwork.from_proto(graph, proto, np.random.RandomState(1223), batch_size)
                graph.networks[proto.name] = proto_network
                self._nnp = NnpNetwork(proto_network, batch_size, callback=None)
        except (ValueError, RuntimeError, KeyError, IndexError, TypeError, AttributeError) as e:
            err = ModelError(f"{model.source}: NNabla cannot build network '{proto.name}' ({_first_line(e)}); "
                             "check the model with 'nnsurgeon info'")
            err.detail = _first_line(e)
            raise err from None
        self.proto_network = self._nnp.proto_network
        self.inputs: Dict[str, object] = dict(self._nnp.inputs)
        self.outputs: Dict[str, object] = dict(self._nnp.outputs)
        self.variables: Dict[str, object] = dict(self._nnp.variables)

    @property
    def functions(self):
        return list(self.proto_network.forward_sequence())

    def shape(self, variable: str):
        v = self.variables.get(variable)
        return tuple(v.shape) if v is not None else None


class StaticNetwork:
    """Network ``name`` as NNabla's loader orders it (``ProtoNetwork.forward_sequence``, with each function's
    arguments as NNabla reads them), shapes as the file stores them, the batch dimension (-1) as the network's
    batch size: what :class:`LiveNetwork` gives for ``functions`` and ``shape`` without building the graph
    (no ``nn.Variable``, no parameters, no shape inference). :func:`static_network` says when it applies.

    Example::

        net = static_network(model, "Runtime")  # None: build a LiveNetwork instead
    """

    def __init__(self, model, proto):
        nnabla_quiet()
        from nnabla.core.graph_def import ProtoGraph, ProtoNetwork

        self.name = proto.name
        graph = ProtoGraph()
        try:
            self.proto_network = ProtoNetwork.from_proto(graph, proto, np.random.RandomState(1223), None)
        except (ValueError, RuntimeError, KeyError, IndexError, TypeError, AttributeError) as e:
            err = ModelError(f"{model.source}: NNabla cannot read network '{proto.name}' ({_first_line(e)}); "
                             "check the model with 'nnsurgeon info'")
            err.detail = _first_line(e)
            raise err from None
        batch = proto.batch_size
        self._shapes = {v.name: tuple(batch if d < 0 else d for d in v.shape.dim) for v in proto.variable}
        for pf in self.proto_network.functions.values():
            # what NNabla's graph_call does to a leading -1 in a 'shape' argument (Reshape, Broadcast, ...)
            if pf.args is not None and pf.args.get("shape") and pf.args["shape"][0] == -1:
                pf.args["shape"] = [batch] + list(pf.args["shape"][1:])

    @property
    def functions(self):
        return list(self.proto_network.forward_sequence())

    def shape(self, variable: str):
        return self._shapes.get(variable)


def static_network(model, name: Optional[str] = None, batch_size: Optional[int] = None):
    """A :class:`StaticNetwork` when the file's stored shapes give every shape NNabla would compute: no other
    batch size asked for, every variable's shape stored, and only the leading (batch) dimension left open
    (-1, which NNabla sets to the network's batch size). None otherwise: NNabla's shape inference is needed
    (build a :class:`LiveNetwork`)."""
    proto = model.network(name)
    if batch_size is not None and batch_size != proto.batch_size:
        return None
    if proto.batch_size < 1 or any(v.type == "Buffer" and not len(v.shape.dim) for v in proto.variable):
        return None
    for v in proto.variable:
        dims = v.shape.dim
        if any(d < 1 for d in dims[1:]) or (len(dims) and dims[0] < 1 and dims[0] != -1):
            return None
    if any(f.type in ("RepeatStart", "RepeatEnd", "RecurrentInput", "RecurrentOutput", "Delay")
           for f in proto.function):
        return None  # loop control: NNabla unrolls it when it builds the graph
    return StaticNetwork(model, proto)


def _batch_as_placeholder(proto):
    """A copy of the network whose buffers' stored batch dimension is -1, so NNabla fills in the batch size
    asked for (files written with a fixed batch size store it in every buffer's first dimension)."""
    if proto.batch_size <= 0 or not any(
            v.type == "Buffer" and len(v.shape.dim) and v.shape.dim[0] == proto.batch_size for v in proto.variable):
        return proto
    copy = type(proto)()
    copy.CopyFrom(proto)
    for v in copy.variable:
        if v.type == "Buffer" and len(v.shape.dim) and v.shape.dim[0] == proto.batch_size:
            v.shape.dim[0] = -1
    return copy


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[-1] if text else type(e).__name__
