"""Quantization grids and ranges: the arithmetic shared by both quantizer formats (MinMaxQuantize and
QuantizeLinear/DequantizeLinear), so both give the same values.

A range ``[lo, hi]`` on levels ``[ql_min, ql_max]`` gives ``scale = (hi - lo) / (ql_max - ql_min)`` and the
zero point ``zp = round(ql_min - lo / scale)`` clipped to the levels: exactly NNabla's MinMaxQuantize nudge,
so a MinMaxQuantize with ``[lo, hi]`` and a QuantizeLinear/DequantizeLinear pair with ``(scale, zp)`` round to
the same grid.

- **asymmetric** (the default): ``[min(lo, 0), max(hi, 0)]``, levels ``[0, 2^b - 1]`` (``[-2^(b-1),
  2^(b-1) - 1]`` with signed).
- **symmetric**: zero point 0. Signed tensors: ``[-m, m]`` with ``m = max(|lo|, |hi|)`` on the narrow levels
  ``[-(2^(b-1) - 1), 2^(b-1) - 1]`` ([-127, 127] at 8 bits, as TensorRT and ORT use for weights); tensors
  known to be non-negative (after ReLU, ...): ``[0, hi]`` on ``[0, 2^b - 1]``.
- **weights**: always symmetric signed narrow, ``m`` per output channel or per tensor.
"""
from typing import Tuple

import numpy as np

TINY = 1e-8  # smallest magnitude a range may have (an all-zero channel still gets a finite scale)


def symmetric_levels(bits: int, unsigned: bool = False) -> Tuple[float, float]:
    """Levels of a zero-point-0 quantizer: ``[0, 2^b - 1]`` unsigned, ``[-(2^(b-1) - 1), 2^(b-1) - 1]`` signed."""
    if unsigned:
        return 0.0, float(2 ** bits - 1)
    top = float(2 ** (bits - 1) - 1)
    return -top, top


def symmetric_range(lo, hi, unsigned: bool = False):
    """``[0, max(hi, tiny)]`` when unsigned, else ``[-m, m]``, ``m = max(|lo|, |hi|, tiny)`` (arrays work)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if unsigned:
        return np.zeros_like(hi), np.maximum(hi, TINY)
    m = np.maximum(np.maximum(np.abs(lo), np.abs(hi)), TINY)
    return -m, m


def scale_zero_point(lo, hi, ql_min: float, ql_max: float):
    """(scale, zero point) of range ``[lo, hi]`` on levels ``[ql_min, ql_max]``, with MinMaxQuantize's nudge."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    scale = np.maximum(hi - lo, TINY) / (ql_max - ql_min)
    zp = np.clip(np.round(ql_min - lo / scale), ql_min, ql_max)
    return scale, zp


def fake_quantize(x, lo, hi, ql_min: float, ql_max: float):
    """What a quantizer with range ``[lo, hi]`` on ``[ql_min, ql_max]`` computes (numpy; for checks)."""
    scale, zp = scale_zero_point(lo, hi, ql_min, ql_max)
    q = np.clip(np.round(np.asarray(x, np.float64) / scale) + zp, ql_min, ql_max)
    return (q - zp) * scale


def channel_max(w: np.ndarray, axes: Tuple[int, ...]):
    """``max |w|`` over every axis except ``axes`` (the output channels), kept as size-1 axes so it
    broadcasts over ``w``; every axis reduced when ``axes`` is empty (per tensor)."""
    reduce = tuple(i for i in range(w.ndim) if i not in axes)
    return np.abs(w).max(axis=reduce, keepdims=True) if reduce else np.abs(w)
