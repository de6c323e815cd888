"""Quantization levels: the integer grid a quantizer maps to."""
from typing import Optional, Tuple

from ..errors import OptionError, opt


def levels(bits: int = 8, signed: bool = False, ql_min: Optional[float] = None,
           ql_max: Optional[float] = None) -> Tuple[float, float]:
    """[0, 2^bits - 1], or [-2^(bits-1), 2^(bits-1) - 1] when signed; explicit ``ql_min``/``ql_max`` win.

    Example::

        levels(8) == (0.0, 255.0)
    """
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 16:
        raise OptionError(f"{opt('bits')} must be an integer from 2 to 16, not {bits!r}")
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    lo = lo if ql_min is None else ql_min
    hi = hi if ql_max is None else ql_max
    if hi <= lo:
        raise OptionError(f"{opt('ql-max')} ({hi:g}) must be greater than {opt('ql-min')} ({lo:g})")
    return float(lo), float(hi)
