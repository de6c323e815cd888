"""NnpModel -> ONNX through NNabla's own ``OnnxExporter``, with the quantizers written by nnsurgeon.

NNabla's exporter converts float networks. It cannot export MinMaxQuantize, drops the ``axis`` of per-channel
QuantizeLinear/DequantizeLinear and writes one-element scales as shape [1] (onnxruntime's QDQ handling wants
0-D). So every quantizer is handed to the exporter as an Identity placeholder, and the placeholders are then
replaced in the ONNX graph by QuantizeLinear/DequantizeLinear nodes with:

- MinMaxQuantize (static ranges only: ``x_min_max=False``): the same grid NNabla computes, scale =
  (M - m) / (ql_max - ql_min) after NNabla's eps nudge of the range, zero point from NNabla's nudged
  minimum (round(ql_min - m / scale), clamped to the levels); uint8 for levels within [0, 255], int8 within
  [-128, 127]; levels narrower than the type are clipped first (Max/Min), as NNabla clips.
- ``symmetric=True``: every MinMaxQuantize becomes int8 with zero point 0 and scale max(|m|, |M|) / 127
  (TensorRT's form); the reference the check compares with is the model with that grid.
- QuantizeLinear/DequantizeLinear already in the model: their scales and zero points as stored, 0-D when
  one element, else 1-D with ``axis`` = the axis the scale broadcasts over.

Only this module and :mod:`nnsurgeon.model.onnx_import` touch NNabla's converter.
"""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import ModelError, SelectionError
from ..graph.naming import unique_name
from .nnp import NnpModel, Parameter
from .onnx_support import DEFAULT_EXPORT_OPSET, EXPORT_OPSETS, require_onnx

_QUANTIZERS = ("MinMaxQuantize", "QuantizeLinear", "DequantizeLinear")


@dataclass
class Quantizer:
    """One quantizer as written to ONNX: ``kind`` mmq (quantize + dequantize), q or dq."""

    function: str
    kind: str
    x: str
    y: str
    scale: np.ndarray  # float32, 0-D or 1-D
    zero_point: np.ndarray  # int8/uint8, same shape
    axis: Optional[int] = None
    clip: Optional[Tuple[np.ndarray, np.ndarray]] = None  # float bounds shaped to broadcast over x
    note: str = ""
    weight: bool = False  # quantizes a stored parameter: written on the ONNX initializer, consumers read it


@dataclass
class Exported:
    """The ONNX model and what the check needs: the NNabla model it must match (``reference``: the input, or
    with ``symmetric`` the input with symmetric grids), the network, batch size and quantizers."""

    proto: object  # onnx.ModelProto
    reference: NnpModel
    network: str
    executor: str
    batch_size: int
    opset: int
    quantizers: List[Quantizer] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def step(self) -> float:
        """The coarsest quantization step (0 for a float model)."""
        return max((float(np.max(q.scale)) for q in self.quantizers), default=0.0)


def choose_network(model: NnpModel, network: Optional[str] = None, executor: Optional[str] = None):
    """(network name, executor message or None): by executor name, by network name, or the runtime executor
    (the only executor, or the one named 'runtime'); an error listing the choices otherwise."""
    executors = list(model.proto.executor)
    listing = "; ".join([f"networks: {', '.join(model.network_names)}"]
                        + ([f"executors: {', '.join(f'{e.name} (network {e.network_name})' for e in executors)}"]
                           if executors else []))
    if network and executor:
        raise SelectionError("give --network or --executor, not both")
    if executor:
        for e in executors:
            if e.name == executor:
                return e.network_name, e
        raise SelectionError(f"{model.source}: no executor named '{executor}'; {listing}")
    if network:
        model.network(network)  # raises with the list when unknown
        mine = [e for e in executors if e.network_name == network]
        return network, (mine[0] if len(mine) == 1 else None)
    if len(executors) == 1:
        return executors[0].network_name, executors[0]
    runtime = [e for e in executors if e.name.lower() == "runtime"]
    if len(runtime) == 1:
        return runtime[0].network_name, runtime[0]
    if not executors and len(model.network_names) == 1:
        return model.network_names[0], None
    raise SelectionError(f"{model.source}: holds several networks; choose one with --executor or --network "
                         f"({listing})")


def export_onnx(model: NnpModel, network: Optional[str] = None, executor: Optional[str] = None,
                opset: Optional[int] = None, batch_size: Optional[int] = None,
                symmetric: bool = False) -> Exported:
    """Convert one network of ``model`` to an ONNX ``ModelProto`` (nothing is written; ``model`` is not
    changed). Raises :class:`ModelError` naming the function NNabla's exporter cannot convert.

    Example::

        exported = export_onnx(load_model("m.nnp"), opset=13)
        onnx.save(exported.proto, "m.onnx")
    """
    onnx, _, converter = require_onnx()
    from ..graph.network import Network

    opset = DEFAULT_EXPORT_OPSET if opset is None else int(opset)
    if opset not in EXPORT_OPSETS:
        raise SelectionError(f"opset {opset} cannot be exported; NNabla's exporter writes opsets "
                             f"{', '.join(map(str, EXPORT_OPSETS))} (default {DEFAULT_EXPORT_OPSET})")
    net_name, exe = choose_network(model, network, executor)
    reference = model.copy()
    net_proto = reference.network(net_name)
    if batch_size is not None and batch_size != net_proto.batch_size:
        _set_batch_size(net_proto, batch_size)
    batch = _batch_of(net_proto, batch_size)
    view = Network(net_proto, model.source)
    view.require_plain("export")
    notes: List[str] = []
    if symmetric:
        _make_symmetric(reference, view, notes)

    # the network handed to NNabla's exporter: quantizers as Identity placeholders
    work = type(net_proto)()
    work.CopyFrom(net_proto)
    quantizers = _placeholders(reference, Network(work, model.source), opset)
    table = _exporter_table(converter, opset)
    for f in work.function:
        if f.type not in table:
            raise ModelError(
                f"{model.source}: network '{net_name}', function '{f.name}' has type {f.type}, which NNabla's "
                f"ONNX exporter cannot convert (opset {opset}); remove or replace it first (a training-only function: "
                "nnsurgeon apply recipes/strip-training.yaml), or see README 'Leaving NNabla' for the types that "
                "export")
    pb = _exporter_input(reference, work, exe, Network(work, model.source))
    from types import SimpleNamespace

    try:
        exporter = converter.OnnxExporter(SimpleNamespace(protobuf=pb), batch, -1, str(opset))
        proto = exporter.export_model_proto()
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError) as e:
        raise ModelError(f"{model.source}: NNabla's ONNX exporter cannot convert network '{net_name}' "
                         f"(opset {opset}): {_one_line(e)}") from None
    _write_quantizers(onnx, proto, quantizers)
    _name_nodes(proto)
    proto.producer_name = "nnsurgeon"
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        raise ModelError(f"{model.source}: the ONNX model made from network '{net_name}' is not valid "
                         f"({_one_line(e)}); please report this") from None
    notes.extend(q.note for q in quantizers if q.note)
    return Exported(proto, reference, net_name, exe.name if exe is not None else "", batch, opset, quantizers,
                    notes)


# -- choosing and preparing the network -------------------------------------------------------------------------

def _set_batch_size(net_proto, batch_size: int) -> None:
    old = net_proto.batch_size
    net_proto.batch_size = batch_size
    for v in net_proto.variable:
        if v.type == "Buffer" and len(v.shape.dim) and old > 0 and v.shape.dim[0] == old:
            v.shape.dim[0] = batch_size


def _batch_of(net_proto, asked: Optional[int]) -> int:
    if asked:
        return asked
    if net_proto.batch_size > 0:
        return net_proto.batch_size
    return 1


def _exporter_table(converter, opset: int) -> Dict[str, object]:
    from types import SimpleNamespace

    from nnabla.utils import nnabla_pb2

    exporter = converter.OnnxExporter(SimpleNamespace(protobuf=nnabla_pb2.NNablaProtoBuf()), 1, -1, str(opset))
    return exporter.nnabla_function_type_to_onnx_optype


def _exporter_input(model: NnpModel, work, exe, view):
    """The NNablaProtoBuf NNabla's exporter reads: this network, one executor, the parameters it uses."""
    from nnabla.utils import nnabla_pb2

    pb = nnabla_pb2.NNablaProtoBuf()
    pb.network.add().CopyFrom(work)
    e = pb.executor.add()
    e.name = exe.name if exe is not None else "runtime"
    e.network_name = work.name
    inputs = [ref.variable_name for ref in exe.data_variable] if exe is not None else view.inputs
    outputs = [ref.variable_name for ref in exe.output_variable] if exe is not None else view.outputs
    for name in inputs:
        r = e.data_variable.add()
        r.variable_name = r.data_name = name
    for name in outputs:
        r = e.output_variable.add()
        r.variable_name = r.data_name = name
    used = {n for f in work.function for n in f.input if view.is_parameter(n)}
    for name, p in model.parameters.items():
        if name in used:
            message = pb.parameter.add()
            message.variable_name = name
            message.shape.dim.extend(p.data.shape)
            message.data.extend(np.asarray(p.data, dtype=np.float32).ravel())
            message.need_grad = False
    return pb


def _one_line(e: Exception) -> str:
    text = " ".join(str(e).split())
    return (text or type(e).__name__)[:300]


# -- quantizers -------------------------------------------------------------------------------------------------

def _param(model: NnpModel, view, name: str, function) -> np.ndarray:
    if not view.is_parameter(name) or name not in model.parameters:
        raise ModelError(f"{model.source}: {function.type} '{function.name}' reads '{name}', which is not a stored "
                         "parameter; only constant scales and ranges can be exported")
    return np.asarray(model.parameters[name].data, dtype=np.float32)


def _axis(shape: Tuple[int, ...], function, source: str) -> Optional[int]:
    """The one axis a per-channel array varies along (None when it is one element)."""
    axes = [i for i, d in enumerate(shape) if d != 1]
    if len(axes) > 1:
        raise ModelError(f"{source}: {function.type} '{function.name}' has scales of shape {tuple(shape)}, which "
                         "vary along more than one axis; ONNX takes one axis (per-channel) or one value")
    return axes[0] if axes else None


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + np.float32(0.5))


def mmq_grid(qr_min, qr_max, ql_min, ql_max, eps: float):
    """NNabla's MinMaxQuantize grid, computed as NNabla computes it (float32): (scale, zero point, nudged min,
    nudged max). See NNabla's ``min_max_quantize.cpp``: ``nudge_range`` then ``nudge_qr_min_max``."""
    f = np.float32
    qr_min, qr_max = np.asarray(qr_min, f), np.asarray(qr_max, f)
    ql_min, ql_max = np.asarray(ql_min, f), np.asarray(ql_max, f)
    qr_max = np.where(qr_max - qr_min < f(eps), qr_min + f(eps), qr_max).astype(f)
    scale = ((qr_max - qr_min) / (ql_max - ql_min)).astype(f)
    from_min = (ql_min - qr_min / scale).astype(f)
    zp = np.where(from_min <= ql_min, ql_min, np.where(from_min >= ql_max, ql_max, _round_half_away(from_min)))
    zp = zp.astype(f)
    return scale, zp, ((ql_min - zp) * scale).astype(f), ((ql_max - zp) * scale).astype(f)


def _int_type(lo: float, hi: float, where: str):
    if lo != int(lo) or hi != int(hi):
        raise ModelError(f"{where}: quantization levels [{lo:g}, {hi:g}] are not integers; ONNX stores int8/uint8")
    if lo >= 0 and hi <= 255:
        return np.uint8, (0, 255)
    if lo >= -128 and hi <= 127:
        return np.int8, (-128, 127)
    raise ModelError(f"{where}: quantization levels [{lo:g}, {hi:g}] do not fit 8 bits; ONNX QuantizeLinear "
                     "(opset 13) holds int8 or uint8: quantize with --bits 8 or fewer")


def _make_symmetric(model: NnpModel, view, notes: List[str]) -> None:
    """Give every static MinMaxQuantize the symmetric int8 grid: levels [-128, 127], range [-128 a/127, a]
    with a = max(|m|, |M|), so NNabla's own zero point is 0 and the scale is a / 127."""
    n = 0
    for f in view.proto.function:
        if f.type != "MinMaxQuantize" or f.min_max_quantize_param.x_min_max:
            continue
        names = list(f.input[1:5])
        qr_min, qr_max = (_param(model, view, k, f) for k in names[:2])
        a = np.maximum(np.maximum(np.abs(qr_min), np.abs(qr_max)), np.float32(1e-8)).astype(np.float32)
        values = {names[0]: -a * np.float32(128.0 / 127.0), names[1]: a,
                  names[2]: np.full_like(a, -128.0), names[3]: np.full_like(a, 127.0)}
        for k, v in values.items():
            model.parameters[k] = Parameter(v.astype(np.float32), model.parameters[k].need_grad)
        n += 1
    if n:
        notes.append(f"symmetric: {n} MinMaxQuantize given int8 grids with zero point 0 (scale max(|min|, |max|)"
                     "/127); the check compares with NNabla running those grids")


def _placeholders(model: NnpModel, view, opset: int) -> List[Quantizer]:
    """Turn every quantizer of the work network into an Identity on its data input; return what to write."""
    src = model.source
    out: List[Quantizer] = []
    # original producers' types (the loop turns quantizers into placeholders as it goes)
    producers = {y: (f.type, f.quantize_linear_param.dtype if f.type == "QuantizeLinear" else None)
                 for f in view.proto.function for y in f.output}
    # quantizers on stored weights are taken out of the network (NNabla's exporter needs e.g. an Affine's
    # weight to be a parameter) and written on the ONNX initializer instead
    weight_q: Dict[str, Quantizer] = {}  # QuantizeLinear output -> its quantizer, waiting for the DequantizeLinear
    redirect: Dict[str, str] = {}
    removed = set()
    for f in view.proto.function:
        if f.type not in _QUANTIZERS:
            continue
        where = f"{src}: {f.type} '{f.name}'"
        if opset < 10:
            raise ModelError(f"{where}: quantizers need ONNX opset 10 or later; export with --opset 13")
        if f.type == "MinMaxQuantize":
            p = f.min_max_quantize_param
            if p.x_min_max:
                raise ModelError(f"{where} computes its range from each batch (dynamic), which ONNX cannot "
                                 "express; calibrate first: nnsurgeon quantize MODEL --after TYPES --calibrate DATA")
            qr_min, qr_max, ql_min, ql_max = (_param(model, view, k, f) for k in f.input[1:5])
            lo, hi = float(ql_min.min()), float(ql_max.max())
            if float(ql_min.max()) != lo or float(ql_max.min()) != hi:
                raise ModelError(f"{where}: per-channel quantization levels differ between channels; ONNX takes "
                                 "one integer type per tensor")
            dtype, full = _int_type(lo, hi, where)
            scale, zp, m, big_m = mmq_grid(qr_min, qr_max, ql_min, ql_max, p.eps or 0.01)
            axis = _axis(scale.shape, f, src)
            clip = None if (lo, hi) == full else (m, big_m)
            q = Quantizer(f.name, "mmq", f.input[0], f.output[0], scale, zp, axis, clip)
        else:
            scale = _param(model, view, f.input[1], f)
            zp = _param(model, view, f.input[2], f)
            axis = _axis(scale.shape, f, src)
            if f.type == "QuantizeLinear":
                qp = f.quantize_linear_param
                dtype = {1: np.int8, 2: np.uint8}.get(qp.dtype)
                if dtype is None:
                    raise ModelError(f"{where} has dtype {qp.dtype}; ONNX QuantizeLinear (opset 13) holds int8 (1) "
                                     "or uint8 (2)")
                lo, hi = (-128, 127) if dtype is np.int8 else (0, 255)
                clip = None
                if qp.narrow_range:
                    lo += 1
                    clip = (((lo - zp) * scale).astype(np.float32), ((hi - zp) * scale).astype(np.float32))
                note = ""
                if qp.round_mode != "HALF_TO_EVEN":
                    note = (f"{f.name}: NNabla rounds halfway values away from zero, ONNX to even (values exactly "
                            "halfway between two levels may differ by one step)")
                q = Quantizer(f.name, "q", f.input[0], f.output[0], scale, zp, axis, clip, note)
            else:
                producer_type, producer_dtype = producers.get(f.input[0], (None, None))
                dtype = {1: np.int8, 2: np.uint8}.get(producer_dtype) if producer_type == "QuantizeLinear" else None
                q = Quantizer(f.name, "dq", f.input[0], f.output[0], scale, zp, axis)
                if dtype is None:
                    dtype = _stored_int_type(model, view, f)
        info = np.iinfo(dtype)
        zp_values = np.asarray(zp, np.float32).reshape(-1)
        if zp_values.min() < info.min or zp_values.max() > info.max or not np.array_equal(zp_values,
                                                                                        np.round(zp_values)):
            raise ModelError(f"{where}: zero point(s) {zp_values[:4].tolist()} are not {np.dtype(dtype).name} "
                             "integers; ONNX stores the zero point in the quantized type")
        q.zero_point = zp_values.astype(dtype)
        q.scale = np.asarray(q.scale, np.float32).reshape(-1)
        if q.axis is None:
            q.zero_point, q.scale = q.zero_point.reshape(()), q.scale.reshape(())
        elif opset < 13:
            raise ModelError(f"{where}: per-channel scales need ONNX opset 13; export with --opset 13")
        if q.kind == "q" and view.is_parameter(q.x):
            q.kind, q.weight = "mmq", True
            weight_q[q.y] = q
            removed.add(f.name)
            continue
        if q.kind == "dq" and q.x in weight_q:
            pair = weight_q.pop(q.x)
            pair.y = q.y
            redirect[q.y] = pair.x
            removed.add(f.name)
            out.append(pair)
            continue
        if q.kind == "mmq" and view.is_parameter(q.x):
            q.weight = True
            redirect[q.y] = q.x
            removed.add(f.name)
            out.append(q)
            continue
        out.append(q)
        data = f.input[0]
        del f.input[:]
        f.input.append(data)
        f.type = "Identity"
        for param in ("min_max_quantize_param", "quantize_linear_param", "dequantize_linear_param"):
            if param in type(f).DESCRIPTOR.fields_by_name:
                f.ClearField(param)
    if weight_q:
        name = next(iter(weight_q.values())).function
        raise ModelError(f"{src}: QuantizeLinear '{name}' on a weight feeds something other than a "
                         "DequantizeLinear; ONNX's QuantizeLinear gives integers, which only DequantizeLinear reads")
    _check_pairs(out, src)
    for f in view.proto.function:
        for i, x in enumerate(f.input):
            if x in redirect:
                f.input[i] = redirect[x]
    view.refresh()
    view.remove_functions(removed)
    view.prune_variables()
    return out


def _stored_int_type(model, view, f):
    """The integer type of integer values stored as a float parameter (a DequantizeLinear on stored codes)."""
    if not view.is_parameter(f.input[0]):
        raise ModelError(f"{model.source}: DequantizeLinear '{f.name}' reads '{f.input[0]}', which no "
                         "QuantizeLinear produces and which is not a stored parameter; ONNX needs integer input")
    data = np.asarray(model.parameters[f.input[0]].data)
    if not np.array_equal(data, np.round(data)):
        raise ModelError(f"{model.source}: DequantizeLinear '{f.name}' reads non-integer values from "
                         f"'{f.input[0]}'; ONNX needs int8/uint8 codes")
    if data.min() >= 0 and data.max() <= 255:
        return np.uint8
    if data.min() >= -128 and data.max() <= 127:
        return np.int8
    raise ModelError(f"{model.source}: DequantizeLinear '{f.name}' reads values outside int8/uint8")


def _check_pairs(quantizers: List[Quantizer], src: str) -> None:
    """A QuantizeLinear's output (integers in ONNX) may feed DequantizeLinear only."""
    dq_inputs = {q.x for q in quantizers if q.kind == "dq"}
    for q in quantizers:
        if q.kind == "q" and q.y not in dq_inputs:
            raise ModelError(f"{src}: QuantizeLinear '{q.function}' feeds something other than a "
                             "DequantizeLinear; ONNX's QuantizeLinear gives integers, which only DequantizeLinear "
                             "reads")


_SAFE = re.compile(r"[^A-Za-z0-9_./:-]")


def _write_quantizers(onnx, proto, quantizers: List[Quantizer]) -> None:
    """Replace each placeholder Identity by QuantizeLinear/DequantizeLinear nodes and their initializers."""
    from onnx import TensorProto, helper, numpy_helper

    by_output = {q.y: q for q in quantizers if not q.weight}
    graph = proto.graph
    taken = {i.name for i in graph.initializer} | {v for n in graph.node for v in list(n.input) + list(n.output)}
    int_inputs = set()
    nodes = []

    def unique(base):
        return unique_name(base, taken)

    def grid(q, x):
        """The quantizer's scale and zero point as initializers, and its input clipped to the range NNabla
        lets through when it has one: (base name, input to quantize, scale, zero point, axis attribute)."""
        base = _SAFE.sub("_", q.function)
        scale, zp = unique(base + "/scale"), unique(base + "/zero_point")
        graph.initializer.append(numpy_helper.from_array(q.scale, scale))
        graph.initializer.append(numpy_helper.from_array(q.zero_point, zp))
        if q.clip is not None:
            lo, hi = unique(base + "/clip_min"), unique(base + "/clip_max")
            graph.initializer.append(numpy_helper.from_array(np.asarray(q.clip[0], np.float32), lo))
            graph.initializer.append(numpy_helper.from_array(np.asarray(q.clip[1], np.float32), hi))
            low = unique(base + "/clipped_low")
            nodes.append(helper.make_node("Max", [x, lo], [low], name=unique(base + "/Max")))
            x = unique(base + "/clipped")
            nodes.append(helper.make_node("Min", [low, hi], [x], name=unique(base + "/Min")))
        return base, x, scale, zp, ({} if q.axis is None else {"axis": q.axis})

    weights = {}
    for q in quantizers:
        if not q.weight:
            continue
        base, x, scale, zp, axis = grid(q, q.x)
        codes, dequantized = unique(q.x + "/quantized"), unique(q.x + "/dequantized")
        nodes.append(helper.make_node("QuantizeLinear", [x, scale, zp], [codes], name=base, **axis))
        nodes.append(helper.make_node("DequantizeLinear", [codes, scale, zp], [dequantized],
                                      name=unique(base + "/dequantize"), **axis))
        weights[q.x] = dequantized
    for node in graph.node:
        for i, x in enumerate(node.input):
            if x in weights:
                node.input[i] = weights[x]
    for node in graph.node:
        q = by_output.get(node.output[0]) if node.op_type == "Identity" and node.output else None
        if q is None:
            nodes.append(node)
            continue
        base, x, scale, zp, axis = grid(q, node.input[0])
        if q.kind == "mmq":
            codes = unique(q.y + "/quantized")
            nodes.append(helper.make_node("QuantizeLinear", [x, scale, zp], [codes], name=base, **axis))
            nodes.append(helper.make_node("DequantizeLinear", [codes, scale, zp], [q.y],
                                          name=unique(base + "/dequantize"), **axis))
        elif q.kind == "q":
            nodes.append(helper.make_node("QuantizeLinear", [x, scale, zp], [q.y], name=base, **axis))
        else:
            nodes.append(helper.make_node("DequantizeLinear", [x, scale, zp], [q.y], name=base, **axis))
            int_inputs.add((x, q.zero_point.dtype))
    del graph.node[:]
    graph.node.extend(nodes)
    # integer codes stored as parameters (DequantizeLinear on stored weights): integer initializers
    for x, dtype in int_inputs:
        for i, init in enumerate(graph.initializer):
            if init.name == x and init.data_type == TensorProto.FLOAT:
                graph.initializer[i].CopyFrom(numpy_helper.from_array(
                    numpy_helper.to_array(init).astype(dtype), x))
    used = {v for n in graph.node for v in n.input} | {o.name for o in graph.output}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def _name_nodes(proto) -> None:
    """Nodes the exporter left unnamed get their op type (unique), so onnxruntime's messages can point at them."""
    taken = {n.name for n in proto.graph.node if n.name}
    counts: "OrderedDict[str, int]" = OrderedDict()
    for n in proto.graph.node:
        if n.name:
            continue
        k = counts.get(n.op_type, 0)
        name = f"{n.op_type}_{k}"
        while name in taken:
            k += 1
            name = f"{n.op_type}_{k}"
        counts[n.op_type] = k + 1
        taken.add(name)
        n.name = name
