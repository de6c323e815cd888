"""Files in, files out: reading .nnp files and ``nnabla.models`` names, writing new .nnp files."""
from .nnp import Layout, NnpModel, Parameter
from .pretrained import is_pretrained_name
from .reader import read_nnp
from .validate import validate
from .writer import check_output_path, write_nnp

__all__ = ["Layout", "NnpModel", "Parameter", "load_model", "read_nnp", "write_nnp", "check_output_path"]


def load_model(spec: str) -> NnpModel:
    """Load MODEL: a path to an .nnp, an .onnx (converted in memory with NNabla's importer and checked against
    onnxruntime on random inputs: a conversion that changes the numbers is an error), or
    ``nnabla.models:CATEGORY/NAME``; validated.

    Example::

        model = load_model("nnabla.models:imagenet/MobileNet")
    """
    if is_pretrained_name(spec):
        from .pretrained import fetch

        model = read_nnp(fetch(spec))
        model.source = spec
    elif spec.lower().endswith(".onnx"):
        return _load_onnx(spec)
    else:
        model = read_nnp(spec)
    validate(model)
    return model


def _load_onnx(path: str) -> NnpModel:
    import logging

    from ..runtime.onnx_check import check_import  # the one upward import: the check runs both models
    from .onnx_import import convert_onnx, load_onnx_proto

    notes = []
    original = load_onnx_proto(path)
    model = convert_onnx(original, path, notes)
    validate(model)
    notes += check_import(original, model, path)
    for note in notes:
        logging.getLogger("nnsurgeon").info(note)
    return model
