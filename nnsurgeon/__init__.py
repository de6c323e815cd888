"""nnsurgeon: graph surgery for NNabla (.nnp) models, from Python and from the command line.

Example::

    import nnsurgeon
    model = nnsurgeon.load("model.nnp")
    for row in nnsurgeon.list_layers(model):
        print(row["name"], row["type"])
    nnsurgeon.quantize(model, after=["ReLU", "Affine"])
    nnsurgeon.save(model, "model.q.nnp")

Importing this package does not import NNabla; the functions below do, on first use.
"""
import logging as _logging

__version__ = "0.2.0"

# NNabla logs at INFO on import and on every save; stay quiet unless the user asks (``-v``).
_logging.getLogger("nnabla").setLevel(_logging.WARNING)

_API = {
    "load": ("nnsurgeon.api", "load"),
    "save": ("nnsurgeon.api", "save"),
    "list_layers": ("nnsurgeon.api", "list_layers"),
    "info": ("nnsurgeon.api", "info"),
    "quantize": ("nnsurgeon.api", "quantize"),
    "remove": ("nnsurgeon.api", "remove"),
    "replace": ("nnsurgeon.api", "replace"),
    "fold_batchnorm": ("nnsurgeon.api", "fold_batchnorm"),
    "cut": ("nnsurgeon.api", "cut"),
    "rename": ("nnsurgeon.api", "rename"),
    "set_batch_size": ("nnsurgeon.api", "set_batch_size"),
    "apply": ("nnsurgeon.api", "apply"),
    "compare": ("nnsurgeon.api", "compare"),
    "sensitivity": ("nnsurgeon.api", "sensitivity"),
    "extract": ("nnsurgeon.api", "extract"),
    "export": ("nnsurgeon.api", "export"),
    "quantize_graph": ("nnsurgeon.api", "quantize_graph"),
    "NnsurgeonError": ("nnsurgeon.errors", "NnsurgeonError"),
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):  # PEP 562: import NNabla-heavy modules only when used
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'nnsurgeon' has no attribute '{name}'")
