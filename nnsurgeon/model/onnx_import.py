"""ONNX -> NnpModel in memory through NNabla's own ``OnnxImporter``, then made to look like a native model.

Checks at the edge: the file parses as ONNX, keeps its weights inside (external data is refused: NNabla's
importer would read nothing, and following paths a file names is not something a model reader should do),
its opset is one NNabla reads (6, 7, 9-14; a newer one is brought down to 14 with onnx's version converter
when that works, else refused with what to do), its IR version is one NNabla's importer accepts.

Canonicalisation, so selectors work as on native models:

- names: functions are named after the ONNX node they came from (``conv1/Conv``; ``fc/Gemm`` for the Affine
  a Gemm becomes; ``<node>/<Type>`` when one node gave several functions; the type when the node had no
  name); variable and parameter names lose empty, ``.`` and ``..`` path parts (``/conv1/Conv_output_0`` ->
  ``conv1/Conv_output_0``), so every name is safe for every storage format (h5 collapses ``//``);
- the Identity functions the importer puts on weights are dropped (consumers read the parameter);
- Reshape + BatchMatmul + Reshape (+ Reshape + Add2 for the bias), which the importer makes of Gemm and of
  MatMul + Add, become one Affine when that is exact (2-D input, 2-D weight, no alpha/beta scaling, bias of the
  output size); the weight is stored (in, out) as NNabla's Affine reads it (transposed for Gemm's transB=1);
- the network's batch size is the ONNX input's batch (1 for a symbolic batch, as the importer computes shapes).

The numbers are checked against onnxruntime on random inputs by :func:`nnsurgeon.model.load_model`.
"""
import os
from collections import OrderedDict
from typing import Dict, List, Optional, Set

import numpy as np

from ..errors import ModelError
from ..graph.network import replace_messages
from .nnp import NnpModel, Parameter
from .onnx_support import IMPORT_OPSETS, PYTORCH_HINT, require_onnx

_MAX_BYTES = 4 * 1024 ** 3


def load_onnx_proto(path: str):
    """The ONNX ``ModelProto`` at ``path``, parsed without following external data; validated."""
    onnx, _, _ = require_onnx()
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such file; check the path")
    if os.path.isdir(path):
        raise ModelError(f"{path}: is a folder, not an .onnx file; give the path of the .onnx file")
    size = os.path.getsize(path)
    if size == 0:
        raise ModelError(f"{path}: the file is empty; export the model again")
    if size > _MAX_BYTES:
        raise ModelError(f"{path}: {size} bytes; ONNX files over 2 GiB keep weights outside, which is not read")
    from google.protobuf.message import DecodeError

    try:
        proto = onnx.load_model(path, load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as e:
        raise ModelError(f"{path}: not a valid ONNX file ({' '.join(str(e).split())[:200]}); export it again") \
            from None
    external = [t.name for t in _tensors(proto.graph) if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise ModelError(f"{path}: keeps {len(external)} tensor(s) in external data files (e.g. '{external[0]}'), "
                         "which nnsurgeon does not read; save the model with its weights inside: "
                         "onnx.save_model(onnx.load(PATH), OUT, save_as_external_data=False)")
    if not len(proto.graph.node):
        raise ModelError(f"{path}: the ONNX graph has no nodes; export the model again")
    return proto


def _tensors(graph):
    yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            if a.HasField("g"):
                yield from _tensors(a.g)
            for g in a.graphs:
                yield from _tensors(g)


def _opset(proto) -> int:
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    return versions[0] if versions else 1


def _readable_opset(onnx, proto, path: str, notes: List[str]):
    """``proto`` at an opset NNabla's importer reads (down-converted when newer), or a clear error."""
    version = _opset(proto)
    readable = ", ".join(map(str, IMPORT_OPSETS))
    others = sorted({o.domain for o in proto.opset_import if o.domain not in ("", "ai.onnx", "ai.onnx.ml")})
    if others:
        raise ModelError(f"{path}: uses operators from domain(s) {', '.join(others)}, which NNabla's importer does "
                         "not read; export with standard ONNX operators only")
    if version in IMPORT_OPSETS or version < 6:
        return proto
    target = max(IMPORT_OPSETS) if version > max(IMPORT_OPSETS) else 9
    try:
        from onnx import version_converter

        converted = version_converter.convert_version(proto, target)
    except Exception as e:  # onnx raises bare RuntimeError/ValueError/IndexError by adapter
        raise ModelError(
            f"{path}: ONNX opset {version}; NNabla's importer reads opsets {readable} only, and onnx's version "
            f"converter cannot bring this model down to {target} ({' '.join(str(e).split())[:120]}). "
            f"Re-export at opset {target} or lower; {PYTORCH_HINT}") from None
    notes.append(f"{path}: opset {version} converted to {target} with onnx's version converter "
                 "(NNabla reads opsets up to 14); checked against onnxruntime below")
    return converted


def read_onnx(path: str, notes: Optional[List[str]] = None) -> NnpModel:
    """Convert the ONNX file at ``path`` to an :class:`NnpModel` (not yet checked numerically; see
    :func:`nnsurgeon.model.load_model`).

    Example::

        model = read_onnx("resnet18.onnx")
        print(model.network_names)
    """
    return convert_onnx(load_onnx_proto(path), path, notes)


def convert_onnx(original, path: str, notes: Optional[List[str]] = None) -> NnpModel:
    """:func:`read_onnx` for an already parsed ``ModelProto`` (``path`` names it in messages)."""
    onnx, _, converter = require_onnx()
    notes = notes if notes is not None else []
    proto = type(original)()
    proto.CopyFrom(original)  # the importer and the fixes below must not touch what the check runs
    proto = _readable_opset(onnx, proto, path, notes)
    from nnabla.utils.converter.onnx.utils import ONNX_IR_VERSION

    if ONNX_IR_VERSION and proto.ir_version > ONNX_IR_VERSION:
        proto.ir_version = ONNX_IR_VERSION  # NNabla's importer refuses newer IR numbers; the graph is the same
    non_float = [i.name for i in _graph_inputs(proto) if i.type.tensor_type.elem_type != onnx.TensorProto.FLOAT]
    if non_float:
        raise ModelError(f"{path}: input '{non_float[0]}' is not float32; nnsurgeon imports float models only")
    if not proto.graph.name:
        proto.graph.name = "network"  # NNabla names the network after the graph; a network needs a name
    importer = converter.OnnxImporter()
    importer.import_from_onnx_model(proto)
    try:
        pb = importer.execute().protobuf
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError, RuntimeError) as e:
        raise ModelError(f"{path}: NNabla's ONNX importer cannot convert it ({' '.join(str(e).split())[:200]}); "
                         "see README 'Leaving NNabla' for the operators it reads") from None
    from .reader import model_from_proto

    arrays = _initializer_arrays(proto, {p.variable_name for p in pb.parameter})
    stored = OrderedDict()
    for p in pb.parameter:  # arrays from ONNX directly: reading NNabla's float lists back is slow
        a = arrays.get(p.variable_name)
        shape = tuple(p.shape.dim)
        if a is None or a.size != int(np.prod(shape, dtype=np.int64)):
            a = np.array(p.data, dtype=np.float32)
        stored[p.variable_name] = Parameter(np.ascontiguousarray(a, dtype=np.float32).reshape(shape), False)
    pb.ClearField("parameter")
    model = model_from_proto(pb, path)
    model.parameters = stored
    for net in model.proto.network:
        canonicalise(model, net, _batch(proto))
    return model


def _initializer_arrays(proto, names) -> Dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer if t.name in names}


def _graph_inputs(proto):
    initialized = {i.name for i in proto.graph.initializer}
    return [i for i in proto.graph.input if i.name not in initialized]


def _batch(proto) -> int:
    for i in _graph_inputs(proto):
        dims = i.type.tensor_type.shape.dim
        if len(dims) and dims[0].dim_value > 0:
            return int(dims[0].dim_value)
    return 1


# -- canonicalisation ------------------------------------------------------------------------------------------

def safe_name(name: str, fallback: str = "v") -> str:
    """``name`` without empty, '.' or '..' path parts: the same name in .nntxt, .protobuf and .h5."""
    parts = [p for p in name.split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or fallback


def canonicalise(model: NnpModel, net, batch: int = 1) -> None:
    """Make an imported network look native (module doc); in place."""
    graph_name = net.name
    origin = {f.name: _node_part(f.name, graph_name) for f in net.function}
    net.batch_size = batch
    for v in net.variable:
        if v.type == "Buffer" and len(v.shape.dim) and v.shape.dim[0] < 0:
            v.shape.dim[0] = batch
    _drop_weight_identities(model, net)
    _affines(model, net, origin)
    _rename_variables(model, net)
    _name_functions(net, origin)


def _node_part(function_name: str, graph_name: str) -> str:
    """The ONNX node name inside the importer's function name '<graph>/<node>/<Type>_<n>' ('' if none)."""
    rest = function_name[len(graph_name) + 1:] if function_name.startswith(graph_name + "/") else function_name
    return rest.rsplit("/", 1)[0] if "/" in rest else ""


def _producers(net) -> Dict[str, object]:
    return {y: f for f in net.function for y in f.output}


def _consumers(net) -> Dict[str, List[object]]:
    out: Dict[str, List[object]] = {}
    for f in net.function:
        for x in f.input:
            out.setdefault(x, []).append(f)
    return out


def _referenced(model: NnpModel, net) -> Set[str]:
    refs = set()
    for e in model.proto.executor:
        if e.network_name == net.name:
            refs.update(r.variable_name for r in list(e.data_variable) + list(e.output_variable))
    return refs


def _set_functions(net, functions) -> None:
    replace_messages(net.function, functions)


def _prune(model: NnpModel, net) -> None:
    used = {n for f in net.function for n in list(f.input) + list(f.output)}
    keep = [v for v in net.variable if v.name in used]
    if len(keep) != len(net.variable):
        replace_messages(net.variable, keep)
    params = {v.name for v in net.variable if v.type == "Parameter"}
    for name in [k for k in model.parameters if k not in params]:
        del model.parameters[name]
    for e in model.proto.executor:
        if e.network_name == net.name:
            gone = [r for r in e.parameter_variable if r.variable_name not in params]
            for r in gone:
                e.parameter_variable.remove(r)


def _drop_weight_identities(model: NnpModel, net) -> None:
    kinds = {v.name: v.type for v in net.variable}
    refs = _referenced(model, net)
    redirect = {}
    dropped = set()
    for f in net.function:
        if f.type == "Identity" and len(f.input) == 1 and kinds.get(f.input[0]) == "Parameter" \
                and f.output[0] not in refs:
            redirect[f.output[0]] = f.input[0]
            dropped.add(f.name)
    if not dropped:
        return
    for f in net.function:
        for i, x in enumerate(f.input):
            if x in redirect:
                f.input[i] = redirect[x]
    _set_functions(net, [f for f in net.function if f.name not in dropped])
    _prune(model, net)


def _affines(model: NnpModel, net, origin: Dict[str, str]) -> None:
    """Reshape + BatchMatmul + Reshape [+ Reshape + Add2] -> Affine, where exact (module doc)."""
    shapes = {v.name: list(v.shape.dim) for v in net.variable}
    kinds = {v.name: v.type for v in net.variable}
    refs = _referenced(model, net)
    replaced: Dict[str, object] = {}
    removed: Set[str] = set()
    for bm in list(net.function):
        producers, consumers = _producers(net), _consumers(net)
        if bm.type != "BatchMatmul" or bm.batch_matmul_param.transpose_a or bm.name in removed:
            continue
        r1, r2 = producers.get(bm.input[0]), producers.get(bm.input[1])
        if r1 is None or r2 is None or r1.type != "Reshape" or r2.type != "Reshape":
            continue
        x, w = r1.input[0], r2.input[0]
        if kinds.get(w) != "Parameter" or kinds.get(x) == "Parameter" or w not in model.parameters:
            continue
        xs, ws = shapes.get(x, []), list(model.parameters[w].data.shape)
        if len(xs) != 2 or len(ws) != 2 or any(d <= 0 for d in xs):
            continue
        b_, k = xs
        trans = bm.batch_matmul_param.transpose_b
        o = ws[0] if trans else ws[1]
        if (ws[1] if trans else ws[0]) != k or shapes.get(r1.output[0]) not in ([1, b_, k], [b_, 1, k]) \
                or shapes.get(r2.output[0]) != [1] + ws:
            continue
        after = consumers.get(bm.output[0], [])
        if len(after) != 1 or after[0].type != "Reshape" or bm.output[0] in refs:
            continue
        r3 = after[0]
        if shapes.get(r3.output[0]) != [b_, o]:
            continue
        out, bias, tail = r3.output[0], None, [r3]
        nxt = consumers.get(out, [])
        if len(nxt) == 1 and nxt[0].type == "Add2" and out not in refs:
            add = nxt[0]
            other = add.input[1] if add.input[0] == out else add.input[0]
            rb = producers.get(other)
            b_name = rb.input[0] if rb is not None and rb.type == "Reshape" else other
            if kinds.get(b_name) == "Parameter" and b_name in model.parameters \
                    and model.parameters[b_name].data.size == o and shapes.get(add.output[0]) == [b_, o] \
                    and (rb is None or len(consumers.get(other, [])) == 1):
                bias, out = b_name, add.output[0]
                tail += [add] + ([rb] if rb is not None else [])
        single = [r for r in (r1, r2) if len(consumers.get(r.output[0], [])) == 1]
        if len(single) != 2:
            continue
        weight = _affine_weight(model, net, w, trans)
        if bias is not None and model.parameters[bias].data.shape != (o,):
            bias = _reshaped_parameter(model, net, bias, (o,))
        inputs = [x, weight] + ([bias] if bias else [])
        affine = _affine(bm.name, inputs, out)
        replaced[bm.name] = affine
        removed.update(f.name for f in [r1, r2] + tail)
        # the Affine is named after the ONNX node of the BatchMatmul (Gemm or MatMul)
    if not replaced:
        return
    _set_functions(net, [replaced.get(f.name, f) for f in net.function if f.name not in removed])
    _prune(model, net)


def _affine(name: str, inputs: List[str], output: str):
    """An Affine function (base_axis 1; its only argument), made directly: this rewrite targets Affine alone."""
    from nnabla.utils import nnabla_pb2

    f = nnabla_pb2.Function(name=name, type="Affine")
    f.input.extend(inputs)
    f.output.append(output)
    f.affine_param.base_axis = 1
    return f


def _affine_weight(model: NnpModel, net, w: str, transposed: bool) -> str:
    """The (in, out) weight: ``w`` itself, or transposed (in place when nothing else reads it)."""
    if not transposed:
        return w
    readers = sum(1 for f in net.function for x in f.input if x == w)
    data = np.ascontiguousarray(model.parameters[w].data.T)
    if readers == 1:
        model.parameters[w] = Parameter(data, model.parameters[w].need_grad)
        for v in net.variable:
            if v.name == w:
                del v.shape.dim[:]
                v.shape.dim.extend(data.shape)
        return w
    return _new_parameter(model, net, w + "_t", data)


def _reshaped_parameter(model: NnpModel, net, name: str, shape) -> str:
    return _new_parameter(model, net, name + "_flat", model.parameters[name].data.reshape(shape))


def _new_parameter(model: NnpModel, net, base: str, data: np.ndarray) -> str:
    from ..graph.naming import unique_name

    name = unique_name(base, set(model.parameters) | {v.name for v in net.variable})
    model.parameters[name] = Parameter(np.asarray(data, np.float32), False)
    v = net.variable.add()
    v.name, v.type = name, "Parameter"
    v.shape.dim.extend(data.shape)
    return name


def _rename_variables(model: NnpModel, net) -> None:
    """Every variable name made safe (:func:`safe_name`); parameter names also never a path prefix of another
    (h5 cannot hold a dataset 'a' and a dataset 'a/b')."""
    from ..graph.naming import unique_name

    taken: Set[str] = set()
    mapping: Dict[str, str] = {}
    params = {v.name for v in net.variable if v.type == "Parameter"}
    for v in net.variable:
        new = safe_name(v.name)
        mapping[v.name] = unique_name(new, taken) if new != v.name or new in taken else new
        taken.add(mapping[v.name])
    groups = {p.rsplit("/", k)[0] for p in (mapping[n] for n in params) for k in range(1, p.count("/") + 1)}
    for n in params:
        if mapping[n] in groups:
            mapping[n] = unique_name(mapping[n] + "_", taken)
    if all(k == v for k, v in mapping.items()):
        return
    for v in net.variable:
        v.name = mapping[v.name]
    for f in net.function:
        for i, x in enumerate(f.input):
            f.input[i] = mapping.get(x, x)
        for i, y in enumerate(f.output):
            f.output[i] = mapping.get(y, y)
    for e in model.proto.executor:
        if e.network_name == net.name:
            for r in list(e.data_variable) + list(e.output_variable) + list(e.parameter_variable):
                r.variable_name = mapping.get(r.variable_name, r.variable_name)
                if getattr(r, "data_name", ""):
                    r.data_name = mapping.get(r.data_name, r.data_name)
    model.parameters = OrderedDict((mapping.get(k, k), p) for k, p in model.parameters.items())


def _name_functions(net, origin: Dict[str, str]) -> None:
    """Functions named after their ONNX node (module doc)."""
    from ..graph.naming import unique_name

    parts = [safe_name(origin.get(f.name, ""), "") for f in net.function]
    count: Dict[str, int] = {}
    for p in parts:
        count[p] = count.get(p, 0) + 1
    taken: Set[str] = set()
    for f, part in zip(net.function, parts):
        if not part:
            base = f.type
        elif count[part] == 1:
            base = part
        else:
            base = f"{part}/{f.type}"
        f.name = unique_name(base, taken)
