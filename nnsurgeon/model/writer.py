"""Write an :class:`NnpModel` as a new .nnp: same layout as it was read unless told otherwise, atomically.

The zip is written to a temporary file beside the target, read back and checked, then renamed over the
target: the output appears whole or not at all, and the input is never touched.
"""
import io
import os
import tempfile
import zipfile
from collections import OrderedDict
from typing import Optional

from ..errors import ModelError, OutputError
from .nnp import NnpModel

_EXT = {"nntxt": ".nntxt", "protobuf": ".protobuf", "h5": ".h5"}


def write_nnp(model: NnpModel, path: str, network_format: Optional[str] = None,
              param_format: Optional[str] = None, force: bool = False) -> str:
    """Save ``model`` to ``path``; ``network_format`` nntxt|protobuf and ``param_format`` h5|protobuf override
    the formats the model was read with. Refuses to overwrite an existing file unless ``force``, and never
    writes over the model's own source file. Returns ``path``.

    Example::

        write_nnp(read_nnp("in.nnp"), "out.nnp", param_format="protobuf")
    """
    check_output_path(path, model.source, force)
    members = _render_members(model, network_format, param_format)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        _verify(tmp, members, path)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def check_output_path(path: str, source: str = "", force: bool = False) -> None:
    """Raise :class:`OutputError` unless ``path`` can be written: its folder exists and is writable, it is not
    the input, and it does not exist yet (or ``force``)."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if source and os.path.exists(source) and os.path.exists(path) and os.path.samefile(source, path):
        raise OutputError(f"{path}: is the input model; nnsurgeon never overwrites its input, choose another -o path")
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a folder; give a file name ending in .nnp")
    if os.path.exists(path) and not force:
        raise OutputError(f"{path}: already exists; choose another path or add --force to replace it")
    if not os.path.isdir(folder):
        raise OutputError(f"{path}: folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{path}: folder {folder} is not writable; choose another -o path")


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


def _verify(tmp: str, members: "OrderedDict[str, bytes]", path: str) -> None:
    """Read the written zip back: every member must pass its CRC check and hold exactly the bytes rendered
    (the rendering itself is NNabla's protobuf/h5 serialisation of a model that was already validated)."""
    try:
        with zipfile.ZipFile(tmp) as zf:
            ok = zf.testzip() is None and zf.namelist() == list(members) and all(
                zf.read(name) == data for name, data in members.items())
    except (zipfile.BadZipFile, OSError) as e:
        raise OutputError(f"{path}: the written file does not read back ({e}); nothing was saved") from None
    if not ok:
        raise OutputError(f"{path}: the written file does not match what was meant to be written; nothing was saved")
