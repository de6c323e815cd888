"""Read an .nnp (a zip) in any layout NNabla or Neural Network Console writes.

Definition members: ``.nntxt``/``.prototxt`` (text protobuf) or ``.protobuf`` (binary); parameters in ``.h5``,
``.protobuf`` or inside the text definition; ``nnp_version.txt``; anything else (optimizer states, ...) is kept
byte for byte. Parsing uses NNabla's ``nnabla_pb2`` and ``nnabla.parameter.load_parameters``.
"""
import io
import os
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from .._nnabla import nnabla_quiet
from ..errors import ModelError
from .nnp import DEFINITION_FORMATS, Layout, NnpModel, Parameter

_DEFINITION_FIELDS = ("network", "executor", "optimizer", "monitor", "dataset")


def read_nnp(path: str) -> NnpModel:
    """Read the .nnp at ``path`` into an :class:`NnpModel`; raise :class:`ModelError` with a fix for bad files.

    Example::

        model = read_nnp("model.nnp")
        print(model.network_names)
    """
    _check_file(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = [(info.filename, zf.read(info)) for info in zf.infolist() if not info.is_dir()]
            compression = {info.filename: info.compress_type for info in zf.infolist()}
    except zipfile.BadZipFile as e:
        raise ModelError(f"{path}: not a valid .nnp (zip) file ({e}); re-export the model or check the download") from None
    except (zlib.error, EOFError, OSError) as e:
        raise ModelError(f"{path}: the zip is damaged or truncated ({e}); re-export the model or download it again") from None
    model = _parse_members(path, members)
    model.layout.compression = compression
    return model


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such file; check the path, or use 'nnsurgeon models' for pretrained names")
    if os.path.isdir(path):
        raise ModelError(f"{path}: is a folder, not an .nnp file; give the path of the .nnp file")
    if os.path.getsize(path) == 0:
        raise ModelError(f"{path}: the file is empty; re-export the model or download it again")


def _parse_members(path, members) -> NnpModel:
    nnabla_quiet()
    from nnabla.utils import nnabla_pb2

    combined = nnabla_pb2.NNablaProtoBuf()
    params: "OrderedDict[str, Parameter]" = OrderedDict()
    layout = Layout(members=[name for name, _ in members], version_member=None,
                    sizes={name: len(data) for name, data in members})
    extras = {}
    version = ""
    for name, data in members:
        ext = os.path.splitext(name)[1].lower()
        if os.path.basename(name) == "nnp_version.txt":
            layout.version_member = name
            version = data.decode("utf-8", "replace")
        elif ext in DEFINITION_FORMATS:
            message = _parse_proto(path, name, data, ext)
            if any(len(getattr(message, f)) for f in _DEFINITION_FIELDS) or message.HasField("training_config") \
                    or message.HasField("global_config"):
                layout.definition = layout.definition or name
            if len(message.parameter):
                layout.parameters = layout.parameters or name
                params.update(take_parameters(message))
            combined.MergeFrom(message)
        elif ext == ".h5":
            layout.parameters = layout.parameters or name
            params.update(_read_h5_parameters(path, name, data))
        else:
            extras[name] = data
    if layout.definition is None:
        raise ModelError(
            f"{path}: no network definition inside (no .nntxt, .prototxt or .protobuf member with a network); "
            "is this an .nnp exported by NNabla or Neural Network Console?")
    return NnpModel(combined, params, layout, extras, version, source=path)


def take_parameters(message) -> "OrderedDict[str, Parameter]":
    """Move the ``parameter`` entries of an ``NNablaProtoBuf`` out into arrays (float32, as stored)."""
    params = OrderedDict((p.variable_name, Parameter(
        np.array(p.data, dtype=np.float32).reshape(tuple(p.shape.dim)), bool(p.need_grad)))
        for p in message.parameter)
    message.ClearField("parameter")
    return params


def model_from_proto(message, source: str) -> NnpModel:
    """An :class:`NnpModel` from an in-memory ``NNablaProtoBuf`` (e.g. a graph built in Python), with
    NNabla's default layout (network.nntxt + parameter.h5) for saving."""
    from nnabla.utils.nnp_format import nnp_version

    params = take_parameters(message)
    layout = Layout(members=["nnp_version.txt", "network.nntxt", "parameter.h5"], definition="network.nntxt",
                    parameters="parameter.h5")
    return NnpModel(message, params, layout, {}, nnp_version() + "\n", source)


def _parse_proto(path, name, data, ext):
    from google.protobuf import text_format
    from google.protobuf.message import DecodeError
    from nnabla.utils import nnabla_pb2

    message = nnabla_pb2.NNablaProtoBuf()
    try:
        if DEFINITION_FORMATS[ext] == "nntxt":
            text_format.Merge(data.decode("utf-8"), message)
        else:
            message.ParseFromString(data)
    except (text_format.ParseError, DecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{path}: member '{name}' is not a valid NNabla {ext} file ({e}); re-export the model") from None
    return message


def _read_h5_parameters(path, name, data) -> "OrderedDict[str, Parameter]":
    """Parameters of an .h5 member in NNabla's format (one dataset per parameter, attributes ``need_grad``
    and ``index`` giving the stored order), read as NNabla's ``load_parameters`` reads them, dtype kept."""
    import h5py

    try:
        with h5py.File(io.BytesIO(data), "r") as hd:
            keys = []

            def collect(key, obj):
                if isinstance(obj, h5py.Dataset):
                    keys.append((obj.attrs.get("index", None), key))

            hd.visititems(collect)
            keys.sort(key=lambda k: (k[0] is None, k[0] if k[0] is not None else 0, k[1]))
            return OrderedDict((key, Parameter(hd[key][...], bool(hd[key].attrs.get("need_grad", True))))
                               for _, key in keys)
    except (OSError, KeyError, ValueError) as e:
        raise ModelError(f"{path}: parameter member '{name}' cannot be read ({e}); re-export the model") from None
