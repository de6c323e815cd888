"""Write an :class:`NnpModel` as a new .nnp: same layout as it was read unless told otherwise, atomically.

The zip is written to a temporary file beside the target, read back and checked, then renamed over the
target: the output appears whole or not at all, and the input is never touched.
"""
import os
import zipfile
from collections import OrderedDict
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from ..errors import ModelError, OutputError
from .nnp import NnpModel, is_text_definition
from .reader import DefinitionError, parse_definition

_EXT = {"nntxt": ".nntxt", "protobuf": ".protobuf", "h5": ".h5"}


def write_nnp(model: NnpModel, path: str, network_format: Optional[str] = None,
              param_format: Optional[str] = None, force: bool = False, inputs: Sequence[Optional[str]] = (),
              before_commit: Optional[Callable[[], None]] = None) -> str:
    """Save ``model`` to ``path`` (a name ending in .nnp); ``network_format`` nntxt|protobuf and
    ``param_format`` h5|protobuf override the formats the model was read with. Written through the one writer
    (:mod:`nnsurgeon.model.output`): refuses the model's own file and ``inputs``, an existing file unless
    ``force``; every member is parsed back before writing and the written file read back before it is renamed
    into place. ``before_commit`` (a check that raises) runs last, before the rename. Returns ``path``.

    Example::

        write_nnp(read_nnp("in.nnp"), "out.nnp", param_format="protobuf")
    """
    from .output import atomic_file, check_output

    refused = [model.source] + list(inputs)
    check_output(path, inputs=refused, force=force, extensions=(".nnp",))  # before the work; again at the write
    members = _render_checked(model, network_format, param_format, path)
    compression = _compression(model.layout, list(members))
    with atomic_file(path, inputs=refused, force=force, extensions=(".nnp",)) as tmp:
        with open(tmp, "wb") as f, zipfile.ZipFile(f, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data, compress_type=compression[name])
        _verify_written(tmp, members, path)
        if before_commit is not None:
            before_commit()
    return path


def _compression(layout, names: Sequence[str]) -> Dict[str, int]:
    """Each member's zip compression: as the input held it (Stored stays Stored, Deflate stays Deflate); a
    member renamed by a format change keeps the compression of the member it replaces; a new member follows
    the input's definition member; a model that was never a file gets Deflate."""
    had = layout.compression
    default = had.get(layout.definition, zipfile.ZIP_DEFLATED) if had else zipfile.ZIP_DEFLATED
    stems = {os.path.splitext(n)[0]: n for n in layout.members}
    out = {}
    for name in names:
        if name in had:
            out[name] = had[name]
        elif os.path.splitext(name)[0] in stems and stems[os.path.splitext(name)[0]] in had:
            out[name] = had[stems[os.path.splitext(name)[0]]]
        else:
            out[name] = default
    return out


def check_output_path(path: str, source: str = "", force: bool = False) -> None:
    """Raise :class:`OutputError` unless a model can be written to ``path`` (see
    :func:`nnsurgeon.model.output.check_output`)."""
    from .output import check_output

    check_output(path, inputs=[source], force=force, extensions=(".nnp",))


def _render_checked(model: NnpModel, network_format, param_format, path: str) -> "OrderedDict[str, bytes]":
    """Every member's bytes, in order, each parsed back as the reader parses it and compared with the model
    (:func:`_check_parsed`): bytes that read back wrong are never written. A large text definition is printed
    and parsed back in a child process (:mod:`.beside`) while this one writes and checks the parameters: the
    two libraries involved (protobuf's pure-Python text format, HDF5) each hold one core."""
    from .beside import beside, computed, text_worth_forking

    order, roles = _member_plan(model, network_format, param_format)
    text = roles["definition"] if is_text_definition(roles["definition"]) else None
    # the text is about three times the binary encoding's size
    large = text is not None and roles["parameters"] != text and text_worth_forking(
        model.proto.ByteSize() * 3, sum(p.data.nbytes for p in model.parameters.values()))
    with beside(_text_parsed_back, model, text, roles, fork=large) as text_job:
        rendered: "OrderedDict[str, Optional[bytes]]" = OrderedDict()
        checks = {}
        for name in order:
            if name == text:
                rendered[name] = None
                continue
            rendered[name] = _member_bytes(model, name, roles)
            if name not in model.extras:  # members kept byte for byte are not the model's: checked by bytes only
                checks[name] = computed(_parse_member, name, rendered[name], model)
        parsed = []
        for name in order:  # errors in member order, as when each member was parsed back in turn
            if name == text:
                rendered[name], result = _guarded(path, text_job.result)
                parsed.append(result)
            elif name in checks:
                parsed.append(_guarded(path, checks[name].result))
    _check_parsed(path, parsed, model)
    return rendered


def _guarded(path: str, fn, *args):
    """``fn(*args)``, a :class:`ModelError` from parsing a member back turned into the writer's error."""
    try:
        return fn(*args)
    except ModelError as e:
        raise OutputError(f"{path}: the written file does not load ({e}); nothing was saved") from None


def _text_parsed_back(model: NnpModel, name: str, roles) -> tuple:
    """(bytes, parse result) of the text definition member ``name`` (run beside the parameters' work)."""
    data = _member_bytes(model, name, roles)
    return data, _parse_member(name, data, model)


def _member_bytes(model: NnpModel, name: str, roles) -> bytes:
    if name == roles["version"]:
        return (model.version or _default_version()).encode("utf-8")
    if name == roles["definition"]:
        return _definition_bytes(model, name, with_parameters=(roles["parameters"] == name))
    if name == roles["parameters"]:
        return _parameter_bytes(model, name)
    return model.extras[name]


def _member_plan(model: NnpModel, network_format, param_format):
    """(member names in the order they are written, {"version"|"definition"|"parameters": member or None})."""
    layout = model.layout
    definition = _renamed(layout.definition, network_format) if layout.definition else "network.nntxt"
    if layout.parameters is None:
        parameters = _renamed("parameter.h5", param_format)
    elif layout.parameters == layout.definition:
        # combined with the definition: stays so unless a parameter format is asked for
        parameters = definition if param_format is None else _renamed("parameter.h5", param_format)
    else:
        parameters = _renamed(layout.parameters, param_format)
    if parameters == definition and not definition.lower().endswith((".nntxt", ".prototxt", ".protobuf")):
        parameters = _renamed("parameter.h5", param_format)
    if parameters != definition and os.path.splitext(parameters)[1] in (".nntxt", ".prototxt"):
        parameters = os.path.splitext(parameters)[0] + ".protobuf"

    version_member = layout.version_member or "nnp_version.txt"
    skip = {layout.definition, layout.parameters, layout.version_member}
    order = [version_member, definition, parameters] if layout.version_member is None else []
    for name in layout.members:
        if name == layout.version_member:
            order.append(version_member)
        elif name == layout.definition:
            order.append(definition)
        elif name == layout.parameters:
            order.append(parameters)
        elif name not in skip:
            order.append(name)
    if layout.parameters is None and not model.parameters and param_format is None:
        parameters = None  # a file without parameters stays without a parameter member
    for needed in (version_member, definition, parameters):
        if needed is not None and needed not in order:
            order.append(needed)
    unique = list(OrderedDict.fromkeys(order))
    return unique, {"version": version_member, "definition": definition, "parameters": parameters}


def _renamed(name: str, fmt: Optional[str]) -> str:
    if fmt is None:
        return name
    if fmt not in _EXT:
        raise ModelError(f"unknown format '{fmt}'; use nntxt or protobuf for networks, h5 or protobuf for parameters")
    return os.path.splitext(name)[0] + _EXT[fmt]


def _default_version() -> str:
    from nnabla.utils.nnp_format import nnp_version

    return nnp_version() + "\n"


def _proto_with_parameters(model: NnpModel, include_definition: bool):
    """The definition (or an empty message) with the parameters added as ``parameter`` entries (for nntxt)."""
    from nnabla.utils import nnabla_pb2

    proto = nnabla_pb2.NNablaProtoBuf()
    if include_definition:
        proto.CopyFrom(model.proto)
    if model.parameters:
        proto.MergeFromString(_parameter_messages(model))
    return proto


def _definition_bytes(model: NnpModel, name: str, with_parameters: bool) -> bytes:
    if name.lower().endswith(".protobuf"):
        if not with_parameters or not model.parameters:
            return model.proto.SerializeToString()
        return _with_parameter_field(model.proto, _parameter_messages(model))
    from google.protobuf import text_format

    proto = _proto_with_parameters(model, True) if with_parameters else model.proto
    return text_format.MessageToString(proto).encode("utf-8")


def _with_parameter_field(proto, parameters: bytes) -> bytes:
    """``proto`` serialised with the ``parameter`` entries (already encoded) in field-number order, the bytes
    ``SerializeToString`` gives for the merged message, without building it."""
    number = proto.DESCRIPTOR.fields_by_name["parameter"].number
    low, high = type(proto)(), type(proto)()
    for field, value in proto.ListFields():
        target = low if field.number < number else high
        if field.label == field.LABEL_REPEATED:
            getattr(target, field.name).extend(value)
        elif field.message_type is not None:
            getattr(target, field.name).CopyFrom(value)
        else:
            setattr(target, field.name, value)
    return low.SerializeToString() + parameters + high.SerializeToString()


def _parameter_bytes(model: NnpModel, name: str) -> bytes:
    if name.lower().endswith(".protobuf"):
        return _parameter_messages(model)
    return _h5_bytes(model)


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        bits = n & 0x7F
        n >>= 7
        if n:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _parameter_messages(model: NnpModel) -> bytes:
    """The parameters as the ``parameter`` field of an ``NNablaProtoBuf`` (serialised bytes), encoded from the
    arrays' buffers: ``repeated float data`` is packed little-endian float32, so no element becomes a Python
    float (``data.extend(array.tolist())`` took seconds on a ResNet)."""
    from nnabla.utils import nnabla_pb2

    fields = nnabla_pb2.Parameter.DESCRIPTOR.fields_by_name
    top = nnabla_pb2.NNablaProtoBuf.DESCRIPTOR.fields_by_name["parameter"].number
    n_name, n_shape, n_data = fields["variable_name"].number, fields["shape"].number, fields["data"].number
    need_grad_tag = _varint(fields["need_grad"].number << 3) + b"\x01"
    n_dim = nnabla_pb2.Shape.DESCRIPTOR.fields_by_name["dim"].number
    out = []
    for key, p in model.parameters.items():
        parts = [_field(n_name, key.encode("utf-8")) if key else b""]
        dims = b"".join(_varint(int(d)) for d in p.data.shape)
        if dims:
            parts.append(_field(n_shape, _field(n_dim, dims)))
        if p.data.size:
            parts.append(_field(n_data, np.ascontiguousarray(p.data, dtype="<f4").tobytes()))
        if p.need_grad:
            parts.append(need_grad_tag)
        out.append(_field(top, b"".join(parts)))
    return b"".join(out)


def _h5_bytes(model: NnpModel) -> bytes:
    """Parameters in NNabla's .h5 format, as ``nnabla.parameter.save_parameters`` writes it: one dataset per
    parameter (dtype kept), attributes ``need_grad`` and ``index`` (the stored order)."""
    from .h5params import write_h5

    return write_h5(OrderedDict((k, (p.data, p.need_grad)) for k, p in model.parameters.items()))


def _verify_written(tmp: str, members: "OrderedDict[str, bytes]", path: str) -> None:
    """Read the written zip back once: every member must pass its CRC check and hold exactly the bytes
    rendered (which :func:`_render_checked` parsed back before writing)."""
    try:
        with zipfile.ZipFile(tmp) as zf:
            ok = zf.namelist() == list(members) and all(zf.read(name) == data for name, data in members.items())
    except (zipfile.BadZipFile, OSError) as e:
        raise OutputError(f"{path}: the written file does not read back ({e}); nothing was saved") from None
    if not ok:
        raise OutputError(f"{path}: the written file does not match what was meant to be written; nothing was saved")


def _check_parsed(path: str, results: list, model: NnpModel) -> None:
    """The model members parsed back (each a :func:`_parse_member` result, in member order) must give back
    the same networks and parameters (names, order, shapes, dtypes, bits): a name that a storage format
    cannot hold (h5 collapses '//') is caught here, before anything is written."""
    networks, names, mismatch = [], [], None
    for nets, stored, differs in results:
        networks.extend(nets)
        names.extend(stored)
        mismatch = mismatch or differs
    if names != list(model.parameters):
        stored = set(names)
        lost = [k for k in model.parameters if k not in stored][:3] or list(model.parameters)[:3]
        raise OutputError(f"{path}: parameter names do not survive the chosen format (e.g. {', '.join(lost)}); "
                          "nothing was saved; choose another parameter format")
    if mismatch:
        raise OutputError(f"{path}: parameter '{mismatch}' does not read back as written; nothing was saved")
    if networks != _named_networks(model):
        raise OutputError(f"{path}: the networks do not read back as written; nothing was saved")


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
        np.require(a, requirements="C").view(np.uint8), np.require(b, requirements="C").view(np.uint8))


def _parse_member(name: str, data: bytes, model: NnpModel):
    """(serialised networks, stored parameter names in order, first parameter that does not read back as the
    model holds it (shape, dtype, bits, need_grad) or None) of one rendered member, parsed once as the reader
    parses it. An .h5 member is checked in place (its datasets' bytes compared where they lie in the image,
    nothing copied)."""
    from .nnp import DEFINITION_FORMATS

    networks, names, mismatch = [], [], None
    ext = os.path.splitext(name)[1].lower()
    if ext == ".h5":
        try:
            stored, differs = _check_h5(data, model)
        except (OSError, KeyError, ValueError, RuntimeError) as e:
            raise ModelError(f"member '{name}' does not read as .h5 ({e})") from None
        return networks, stored, differs
    if ext not in DEFINITION_FORMATS or os.path.basename(name) == "nnp_version.txt":
        return networks, names, mismatch
    try:
        message = parse_definition(data, ext)
    except DefinitionError as e:
        raise ModelError(f"member '{name}' does not parse ({e})") from None
    for p in message.parameter:
        names.append(p.variable_name)
        expected = model.parameters.get(p.variable_name)
        array = np.array(p.data, dtype=np.float32).reshape(tuple(p.shape.dim))
        if mismatch is None and expected is not None and (
                not _same_bits(array.astype(expected.data.dtype, copy=False), expected.data)
                or bool(p.need_grad) != expected.need_grad):
            mismatch = p.variable_name
    networks.extend(_named(n) for n in message.network)
    return networks, names, mismatch


def _check_h5(data: bytes, model: NnpModel):
    """(stored names in NNabla's order, first name whose data or need_grad differs from the model's or None)."""
    from .h5check import H5Refused, plain_datasets
    from .h5params import open_image

    image = memoryview(data)
    try:
        with open_image(data) as fid:
            entries = plain_datasets(fid, len(data) * 2 + (1 << 20))
            differs = None
            for e in entries:
                p = model.parameters.get(e.key)
                if p is not None and (e.need_grad != p.need_grad or not e.same_as(p.data, image)):
                    differs = e.key
                    break
            return [e.key for e in entries], differs
    except H5Refused as e:
        raise ModelError(str(e)) from None


def _named_networks(model: NnpModel):
    """The model's networks serialised with stable names assigned, as a reader of the file will see them."""
    return [_named(net) for net in model.proto.network]


def _named(net) -> bytes:
    from ..graph.naming import assign_function_names

    if any(not f.name for f in net.function) or len({f.name for f in net.function}) != len(net.function):
        net = type(net).FromString(net.SerializeToString())
        assign_function_names(net.function)
    return net.SerializeToString(deterministic=True)
