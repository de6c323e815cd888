"""Transformations of a model, one module each, in an explicit registry keyed by step name."""
from typing import Callable, Dict

from .base import PassResult
from .batch_size import set_batch_size
from .cut import cut
from .fold_batchnorm import fold_batchnorm
from .quantize import quantize
from .remove import remove
from .rename import rename
from .replace import replace

PASSES: Dict[str, Callable[..., PassResult]] = {
    "quantize": quantize,
    "remove": remove,
    "replace": replace,
    "fold-batchnorm": fold_batchnorm,
    "cut": cut,
    "rename": rename,
    "set-batch-size": set_batch_size,
}

__all__ = ["PASSES", "PassResult", "cut", "fold_batchnorm", "quantize", "remove", "rename", "replace",
           "set_batch_size"]
