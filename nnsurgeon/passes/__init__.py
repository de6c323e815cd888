"""Transformations of a model, one module each, in an explicit registry keyed by step name."""
from typing import Callable, Dict

from .base import PassResult
from .batch_size import set_batch_size
from .quantize import quantize

PASSES: Dict[str, Callable[..., PassResult]] = {
    "quantize": quantize,
    "set-batch-size": set_batch_size,
}

__all__ = ["PASSES", "PassResult", "quantize", "set_batch_size"]
