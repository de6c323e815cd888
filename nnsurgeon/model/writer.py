"""Write an :class:`NnpModel` as a new .nnp: same layout as it was read unless told otherwise, atomically.

The zip is written to a temporary file beside the target, read back and checked, then renamed over the
target: the output appears whole or not at all, and the input is never touched.
"""
import io
import os
import zipfile
from collections import OrderedDict
from typing import Optional, Sequence

from ..errors import ModelError, OutputError
from .nnp import NnpModel

_EXT = {"nntxt": ".nntxt", "protobuf": ".protobuf", "h5": ".h5"}


def write_nnp(model: NnpModel, path: str, network_format: Optional[str] = None,
              param_format: Optional[str] = None, force: bool = False, inputs: Sequence[Optional[str]] = ()) -> str:
    """Save ``model`` to ``path`` (a name ending in .nnp); ``network_format`` nntxt|protobuf and
    ``param_format`` h5|protobuf override the formats the model was read with. Written through the one writer
    (:mod:`nnsurgeon.model.output`): refuses the model's own file and ``inputs``, an existing file unless
    ``force``; the written file is read back and parsed before it is renamed into place. Returns ``path``.

    Example::

        write_nnp(read_nnp("in.nnp"), "out.nnp", param_format="protobuf")
    """
    from .output import atomic_file

    members = _render_members(model, network_format, param_format)
    with atomic_file(path, inputs=[model.source] + list(inputs), force=force, extensions=(".nnp",)) as tmp:
        with open(tmp, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        _verify(tmp, members, path, model)
    return path


def check_output_path(path: str, source: str = "", force: bool = False) -> None:
    """Raise :class:`OutputError` unless a model can be written to ``path`` (see
    :func:`nnsurgeon.model.output.check_output`)."""
    from .output import check_output

    check_output(path, inputs=[source], force=force, extensions=(".nnp",))


def _render_members(model: NnpModel, network_format, param_format) -> "OrderedDict[str, bytes]":
    layout = model.layout
    definition = _renamed(layout.definition, network_format) if layout.definition else "network.nntxt"
    if layout.parameters is None:
        parameters = _renamed("parameter.h5", param_format)
    elif layout.parameters == layout.definition:
        # combined with the definition: stays so unless a parameter format is asked for
        parameters = definition if param_format is None else _renamed("parameter.h5", param_format)
    else:
        parameters = _renamed(layout.parameters, param_format)
    if parameters == definition and not definition.endswith((".nntxt", ".prototxt", ".protobuf")):
        parameters = _renamed("parameter.h5", param_format)
    if parameters != definition and os.path.splitext(parameters)[1] in (".nntxt", ".prototxt"):
        parameters = os.path.splitext(parameters)[0] + ".protobuf"

    rendered = OrderedDict()
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
    for name in order:
        if name in rendered:
            continue
        if name == version_member:
            rendered[name] = (model.version or _default_version()).encode("utf-8")
        elif name == definition:
            rendered[name] = _definition_bytes(model, name, with_parameters=(parameters == definition))
        elif name == parameters:
            rendered[name] = _parameter_bytes(model, name)
        else:
            rendered[name] = model.extras[name]
    return rendered


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
    from nnabla.utils import nnabla_pb2

    proto = nnabla_pb2.NNablaProtoBuf()
    if include_definition:
        proto.CopyFrom(model.proto)
    for name, p in model.parameters.items():
        message = proto.parameter.add()
        message.variable_name = name
        message.shape.dim.extend(p.data.shape)
        message.data.extend(p.data.ravel().tolist())
        message.need_grad = p.need_grad
    return proto


def _definition_bytes(model: NnpModel, name: str, with_parameters: bool) -> bytes:
    proto = _proto_with_parameters(model, True) if with_parameters else model.proto
    if name.endswith(".protobuf"):
        return proto.SerializeToString()
    from google.protobuf import text_format

    return text_format.MessageToString(proto).encode("utf-8")


def _parameter_bytes(model: NnpModel, name: str) -> bytes:
    if name.endswith(".protobuf"):
        return _proto_with_parameters(model, False).SerializeToString()
    return _h5_bytes(model)


def _h5_bytes(model: NnpModel) -> bytes:
    """Parameters in NNabla's .h5 format, as ``nnabla.parameter.save_parameters`` writes it: one dataset per
    parameter (dtype kept), attributes ``need_grad`` and ``index`` (the stored order)."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as hd:
        for i, (key, p) in enumerate(model.parameters.items()):
            dataset = hd.create_dataset(key, data=p.data)
            dataset.attrs["need_grad"] = p.need_grad
            dataset.attrs["index"] = i
    return buffer.getvalue()


def _verify(tmp: str, members: "OrderedDict[str, bytes]", path: str, model: NnpModel) -> None:
    """Read the written zip back: every member must pass its CRC check and hold exactly the bytes rendered,
    and the file must parse back into the same networks and parameters (names, shapes, values): a name that
    a storage format cannot hold (h5 collapses '//') is caught here, before the rename."""
    from .reader import read_nnp

    try:
        with zipfile.ZipFile(tmp) as zf:
            ok = zf.testzip() is None and zf.namelist() == list(members) and all(
                zf.read(name) == data for name, data in members.items())
    except (zipfile.BadZipFile, OSError) as e:
        raise OutputError(f"{path}: the written file does not read back ({e}); nothing was saved") from None
    if not ok:
        raise OutputError(f"{path}: the written file does not match what was meant to be written; nothing was saved")
    try:
        back = read_nnp(tmp)
    except ModelError as e:
        raise OutputError(f"{path}: the written file does not load ({e}); nothing was saved") from None
    if list(back.parameters) != list(model.parameters):
        lost = [k for k in model.parameters if k not in back.parameters][:3]
        raise OutputError(f"{path}: parameter names do not survive the chosen format (e.g. {', '.join(lost)}); "
                          "nothing was saved; choose another parameter format")
    for name, p in model.parameters.items():
        q = back.parameters[name]
        if q.data.shape != p.data.shape or q.data.astype(p.data.dtype).tobytes() != p.data.tobytes():
            raise OutputError(f"{path}: parameter '{name}' does not read back as written; nothing was saved")
    if [n.SerializeToString(deterministic=True) for n in back.proto.network] != _named_networks(model):
        raise OutputError(f"{path}: the networks do not read back as written; nothing was saved")


def _named_networks(model: NnpModel):
    """The model's networks serialised with stable names assigned, as a reader of the file will see them."""
    from ..graph.naming import assign_function_names

    out = []
    for net in model.proto.network:
        if any(not f.name for f in net.function) or len({f.name for f in net.function}) != len(net.function):
            net = type(net).FromString(net.SerializeToString())
            assign_function_names(net.function)
        out.append(net.SerializeToString(deterministic=True))
    return out
