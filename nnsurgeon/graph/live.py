"""A network of a model as a live NNabla graph (``nn.Variable`` objects), built by NNabla's own loader path
(``nnabla.core.graph_def.ProtoNetwork`` + ``nnabla.utils.nnp_graph.NnpNetwork``), so it holds exactly the
functions ``NnpLoader.get_network`` builds, with computed shapes, ready to run forward.
"""
from collections import OrderedDict
from typing import Dict, Optional

import numpy as np

from .._nnabla import nnabla_quiet
from ..errors import ModelError


def parameter_scope(model) -> "OrderedDict":
    """An NNabla parameter scope holding the model's parameters as ``nn.Variable`` (built once per model)."""
    key = model.parameters_key()
    cached = getattr(model, "_live_scope", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    nn = nnabla_quiet()
    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        for name, p in model.parameters.items():
            nn.parameter.set_parameter(name, nn.Variable.from_numpy_array(p.data, need_grad=p.need_grad))
    model._live_scope = (key, scope)
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

    Example::

        live = LiveNetwork(model, "Runtime", batch_size=1)
        live.inputs["x"].d = np.zeros(live.inputs["x"].shape)
        live.outputs["y"].forward()
    """

    def __init__(self, model, name: Optional[str] = None, batch_size: Optional[int] = None, context=None):
        nn = nnabla_quiet()
        from nnabla.core.graph_def import ProtoGraph, ProtoNetwork
        from nnabla.utils.nnp_graph import NnpNetwork

        proto = model.network(name)
        if batch_size is not None:
            proto = _batch_as_placeholder(proto)
        self.name = proto.name
        graph = ProtoGraph(parameter_scope=parameter_scope(model))
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
