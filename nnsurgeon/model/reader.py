"""Read an .nnp (a zip) in any layout NNabla or Neural Network Console writes.

Definition members: ``.nntxt``/``.prototxt`` (text protobuf) or ``.protobuf`` (binary); parameters in ``.h5``,
``.protobuf`` or inside the text definition; ``nnp_version.txt``; anything else (optimizer states, ...) is kept
byte for byte. Parsing uses NNabla's ``nnabla_pb2`` and ``nnabla.parameter.load_parameters``.
"""
import os
import stat
import warnings
from collections import OrderedDict
from contextlib import ExitStack

import numpy as np

from .._nnabla import c_stderr_silenced as _stderr_silenced
from .._nnabla import nnabla_quiet
from ..errors import ModelError
from ..interrupt import check_interrupted
from .beside import beside, computed, text_worth_forking
from .nnp import DEFINITION_FORMATS, Layout, NnpModel, Parameter, is_text_definition
from .safezip import inflate_limit, open_zip, read_member

_DEFINITION_FIELDS = ("network", "executor", "optimizer", "monitor", "dataset")


def read_nnp(path: str) -> NnpModel:
    """Read the .nnp at ``path`` into an :class:`NnpModel`; raise :class:`ModelError` with a fix for bad files.

    Example::

        model = read_nnp("model.nnp")
        print(model.network_names)
    """
    _check_file(path)
    with open_zip(path, ModelError, ".nnp (zip)") as zf:
        members = [(info.filename, read_member(zf, info, path, ModelError))
                   for info in zf.infolist() if not info.is_dir()]
        compression = {info.filename: info.compress_type for info in zf.infolist()}
    model = _parse_members(path, members, inflate_limit(os.path.getsize(path)))
    model.layout.compression = compression  # the writer keeps each member's compression
    return model


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such file; check the path, or use 'nnsurgeon models' for pretrained names")
    if os.path.isdir(path):
        raise ModelError(f"{path}: is a folder, not an .nnp file; give the path of the .nnp file")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ModelError(f"{path}: is not a regular file (a pipe or device?); give the path of an .nnp file")
    if os.path.getsize(path) == 0:
        raise ModelError(f"{path}: the file is empty; re-export the model or download it again")


def _parse_members(path, members, budget: int) -> NnpModel:
    nnabla_quiet()
    from nnabla.utils import nnabla_pb2

    combined = nnabla_pb2.NNablaProtoBuf()
    params: "OrderedDict[str, Parameter]" = OrderedDict()
    layout = Layout(members=[name for name, _ in members], version_member=None,
                    sizes={name: len(data) for name, data in members})
    extras = {}
    version = ""
    with ExitStack() as jobs:
        # a large text definition is parsed in a child process while this one reads the .h5 (module beside);
        # one of each at most (a valid file has one definition and one parameter member)
        text = next(((n, d) for n, d in members if is_text_definition(n)), None)
        h5 = next(((n, d) for n, d in members if _is_h5(n)), None)
        texts, early = {}, {}
        if text is not None and h5 is not None and text_worth_forking(len(text[1]), len(h5[1])):
            texts[text[0]] = jobs.enter_context(beside(_parse_text_serialised, path, *text))
            if texts[text[0]].forked:
                early[h5[0]] = computed(_read_h5_parameters, path, *h5, budget)  # errors raised in member order
        for name, data in members:
            ext = os.path.splitext(name)[1].lower()
            if os.path.basename(name) == "nnp_version.txt":
                layout.version_member = name
                version = data.decode("utf-8", "replace")
            elif ext in DEFINITION_FORMATS:
                message = _from_job(texts[name]) if name in texts else None
                if message is None:
                    message = _parse_proto(path, name, data, ext)
                if any(len(getattr(message, f)) for f in _DEFINITION_FIELDS) \
                        or message.HasField("training_config") or message.HasField("global_config"):
                    layout.definition = layout.definition or name
                if len(message.parameter):
                    _one_parameter_member(path, layout, name)
                    params.update(take_parameters(message, f"{path}: member '{name}'"))
                combined.MergeFrom(message)
            elif ext == ".h5":
                _one_parameter_member(path, layout, name)
                params.update(early[name].result() if name in early else _read_h5_parameters(path, name, data, budget))
            else:
                extras[name] = data
    if layout.definition is None:
        raise ModelError(
            f"{path}: no network definition inside (no .nntxt, .prototxt or .protobuf member with a network); "
            "is this an .nnp exported by NNabla or Neural Network Console?")
    return NnpModel(combined, params, layout, extras, version, source=path)


def _is_h5(name: str) -> bool:
    return os.path.splitext(name)[1].lower() == ".h5"


def _from_job(job):
    """The message a :func:`_parse_text_serialised` job sent (its error raised), None if it does not decode."""
    from google.protobuf.message import DecodeError
    from nnabla.utils import nnabla_pb2

    try:
        return nnabla_pb2.NNablaProtoBuf.FromString(job.result())
    except DecodeError:
        return None


def _parse_text_serialised(path, name, data) -> bytes:
    """The text definition member parsed (as :func:`_parse_proto`), returned in binary encoding: the form
    a child process sends back cheaply."""
    return _parse_proto(path, name, data, os.path.splitext(name)[1].lower()).SerializeToString()


def _one_parameter_member(path, layout, name):
    """NNabla merges every parameter member it finds, later ones silently overriding; nnsurgeon would save only
    one of them. Refuse a second one (``backup/parameter.h5`` beside ``parameter.h5``) rather than guess."""
    if layout.parameters is not None and layout.parameters != name:
        raise ModelError(f"{path}: holds parameters in two members ('{layout.parameters}' and '{name}'); "
                         "keep one (remove the other from the zip) or re-export the model")
    layout.parameters = name


def take_parameters(message, where: str = "the model") -> "OrderedDict[str, Parameter]":
    """Move the ``parameter`` entries of an ``NNablaProtoBuf`` out into arrays (float32, as stored); refuse an
    entry whose data length is not what its shape says (``where`` names the file in the error)."""
    params = OrderedDict()
    for p in message.parameter:
        dims = tuple(p.shape.dim)
        size = 1
        for d in dims:
            size *= d
        if any(d < 0 for d in dims) or size != len(p.data):
            raise ModelError(f"{where}: parameter '{p.variable_name}' is declared {dims} but holds "
                             f"{len(p.data)} values; re-export the model")
        params[p.variable_name] = Parameter(np.array(p.data, dtype=np.float32).reshape(dims), bool(p.need_grad))
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


class DefinitionError(ValueError):
    """A definition member's bytes do not parse (the parser's message)."""


def parse_definition(data: bytes, ext: str):
    """The ``NNablaProtoBuf`` in a definition member's bytes (``ext``: .nntxt/.prototxt text, .protobuf binary):
    the one parse of a definition, for the reader and for the writer's check of what it wrote. Raise
    :class:`DefinitionError`."""
    from google.protobuf import text_format
    from google.protobuf.message import DecodeError
    from nnabla.utils import nnabla_pb2

    message = nnabla_pb2.NNablaProtoBuf()
    try:
        if DEFINITION_FORMATS[ext] == "nntxt":
            text_format.Merge(data.decode("utf-8"), message)
        else:
            # libprotobuf logs an ERROR line for bad UTF-8 before raising, and warns (then stops early) at a
            # stray end-group tag: both become this one error
            with _stderr_silenced(), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                used = message.ParseFromString(data)
            if caught:
                raise DecodeError(str(caught[0].message))
            if used is not None and used != len(data):
                raise DecodeError(f"only {used} of {len(data)} bytes parse")
    except (text_format.ParseError, DecodeError, UnicodeDecodeError) as e:
        raise DefinitionError(str(e)) from None
    return message


def _parse_proto(path, name, data, ext):
    try:
        return parse_definition(data, ext)
    except DefinitionError as e:
        raise ModelError(f"{path}: member '{name}' is not a valid NNabla {ext} file ({e}); re-export the model") from None


def _read_h5_parameters(path, name, data, budget: int) -> "OrderedDict[str, Parameter]":
    """Parameters of an .h5 member in NNabla's format (one dataset per parameter, attributes ``need_grad``
    and ``index`` giving the stored order), read as NNabla's ``load_parameters`` reads them, dtype kept.

    Only plain datasets stored inside the member are read (see :mod:`.h5check`): external storage, virtual
    datasets and soft or external links could otherwise pull any file on the machine into the model."""
    from .h5check import H5Refused, plain_datasets
    from .h5params import open_image

    where = f"{path}: parameter member '{name}'"
    try:
        with open_image(data) as fid:
            entries = plain_datasets(fid, budget)
            image = memoryview(data)
            return OrderedDict((e.key, Parameter(e.read(image), e.need_grad)) for e in entries)
    except H5Refused as e:
        raise ModelError(f"{where}: {e}; nnsurgeon reads plain datasets stored in the file only") from None
    except Exception as e:  # h5py/HDF5 raise OSError, KeyError, ValueError, RuntimeError, TypeError for damage
        if isinstance(e, ModelError):
            raise
        check_interrupted()  # a Ctrl-C inside h5py's lock surfaces as SystemError: it is an interrupt, not damage
        raise ModelError(f"{where} cannot be read ({type(e).__name__}: {e}); re-export the model") from None
