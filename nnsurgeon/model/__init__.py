"""Files in, files out: reading .nnp files and ``nnabla.models`` names, writing new .nnp files."""
from .nnp import Layout, NnpModel, Parameter
from .pretrained import is_pretrained_name
from .reader import read_nnp
from .validate import validate
from .writer import check_output_path, write_nnp

__all__ = ["Layout", "NnpModel", "Parameter", "load_model", "read_nnp", "write_nnp", "check_output_path"]


def load_model(spec: str) -> NnpModel:
    """Load MODEL: a path to an .nnp, or ``nnabla.models:CATEGORY/NAME``; validated.

    Example::

        model = load_model("nnabla.models:imagenet/MobileNet")
    """
    if is_pretrained_name(spec):
        from .pretrained import fetch

        model = read_nnp(fetch(spec))
        model.source = spec
    else:
        model = read_nnp(spec)
    validate(model)
    return model
