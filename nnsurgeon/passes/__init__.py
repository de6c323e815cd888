"""Transformations of a model, one module each, in an explicit registry keyed by step name.

Each entry is a :class:`~nnsurgeon.passes.base.Pass`; the plan driver (:mod:`nnsurgeon.plan`) runs them. The
Python functions ``nnsurgeon.quantize``, ``nnsurgeon.remove``, ... and the CLI commands are made from this table.
"""
from typing import Dict

from .base import Change, Context, Pass, PassResult
from .batch_size import SetBatchSize
from .cut import Cut
from .export import Export
from .fold_batchnorm import FoldBatchnorm
from .quantize import Quantize
from .remove import Remove
from .rename import Rename
from .replace import Replace

PASSES: Dict[str, Pass] = {p.name: p for p in (Quantize(), Remove(), Replace(), FoldBatchnorm(), Cut(), Rename(),
                                                SetBatchSize(), Export())}

__all__ = ["PASSES", "Change", "Context", "Pass", "PassResult"]
