"""The functions a quantizer is made of, in either format, from one description (:class:`QSpec`).

- ``minmax``: one NNabla MinMaxQuantize with parameters ``<q>/qr_min``, ``qr_max``, ``ql_min``, ``ql_max``
  (static: ``x_min_max=False, ema=True`` with the stored range; dynamic: ``x_min_max=True``).
- ``qdq``: NNabla QuantizeLinear + DequantizeLinear (aligned with ONNX's) sharing ``<q>/scale`` and
  ``<q>/zero_point``; function names ``<q>`` and ``<q minus /quantize>/dequantize``. Per-channel scales have
  the weight's shape with size 1 on every axis but the output channels, so they broadcast. NNabla's
  QuantizeLinear stores int8 or uint8 only, so qdq takes 8-bit levels: ``[-128, 127]``, ``[-127, 127]``
  (narrow, symmetric) or ``[0, 255]``.

Both round to the same grid (:func:`nnsurgeon.runtime.ranges.scale_zero_point`). Parameters are created
once per name: a weight shared by several networks gets one set, read by the quantizer in each network.
"""
from dataclasses import dataclass
from typing import List, Optional, Set

import numpy as np

from ..errors import OptionError, opt
from ..graph.functions import make_function
from ..graph.naming import unique_name
from ..model.nnp import Parameter
from ..runtime.ranges import scale_zero_point

QUANTIZER_TYPES = ("MinMaxQuantize", "QuantizeLinear", "DequantizeLinear")
SMALL_EPS = 1e-9  # MinMaxQuantize eps for zero-point-0 quantizers: its default 0.01 would widen small ranges


@dataclass
class QSpec:
    """One quantizer: range arrays ``lo``/``hi`` (broadcastable over the tensor; None = dynamic), levels."""

    lo: Optional[np.ndarray]
    hi: Optional[np.ndarray]
    ql_min: float
    ql_max: float
    shape: tuple  # parameter shape: all ones (per tensor) or the per-channel broadcast shape
    eps: Optional[float] = None  # MinMaxQuantize's eps; None keeps NNabla's default (today's quantizers)

    @property
    def static(self) -> bool:
        return self.lo is not None


def check_qdq_levels(ql_min: float, ql_max: float, where: str = "") -> None:
    """Refuse levels QuantizeLinear cannot store (it has int8 and uint8 only)."""
    if (ql_min, ql_max) not in ((-128.0, 127.0), (-127.0, 127.0), (0.0, 255.0)):
        raise OptionError(f"{opt('format', 'qdq')} stores 8-bit integers (NNabla's QuantizeLinear has int8 and "
                          f"uint8 only), not levels [{ql_min:g}, {ql_max:g}]{where}: use {opt('bits', '8')} "
                          f"there, or {opt('format', 'minmax')} for other widths")


class ParamMaker:
    """Creates quantizer parameters; ``share=True`` ones (weights) once per name across the networks of a step."""

    def __init__(self, model):
        self.model = model
        self.made: dict = {}

    def __call__(self, net, taken: Set[str], base: str, key: Optional[str], value: np.ndarray,
                 need_grad: bool = False, share: bool = False) -> str:
        """The parameter ``<base>/<key>`` (``<base>`` when key is None; made unique against ``taken``),
        declared in ``net``."""
        if share and (base, key) in self.made:
            name = self.made[(base, key)]
        else:
            name = unique_name(f"{base}/{key}" if key else base, taken)
            self.model.parameters[name] = Parameter(np.array(value, np.float32), need_grad=need_grad)
            if share:
                self.made[(base, key)] = name
        taken.add(name)
        if name not in net.variables:
            net.add_variable(name, list(self.model.parameters[name].data.shape), kind="Parameter", taken=set())
        return name


def build(fmt: str, net, params: ParamMaker, taken: Set[str], qname: str, param_base: str, src: str, dst: str,
          spec: QSpec, share: bool = False) -> List[object]:
    """The quantizer function(s) reading ``src`` and writing ``dst`` (both declared by the caller)."""
    if fmt == "minmax":
        values = {"qr_min": spec.lo if spec.static else -6.0, "qr_max": spec.hi if spec.static else 6.0,
                  "ql_min": spec.ql_min, "ql_max": spec.ql_max}
        names = [params(net, taken, param_base, key,
                        np.broadcast_to(np.asarray(values[key], np.float32), spec.shape),
                        need_grad=key.startswith("qr") and not spec.static, share=share)
                 for key in ("qr_min", "qr_max", "ql_min", "ql_max")]
        args = {"x_min_max": not spec.static, "ema": spec.static, "decay": 0.999}
        if spec.eps is not None:
            args["eps"] = spec.eps
        return [make_function(qname, "MinMaxQuantize", [src] + names, [dst], args)]
    check_qdq_levels(spec.ql_min, spec.ql_max, f" (quantizer {qname})")
    scale, zp = scale_zero_point(spec.lo, spec.hi, spec.ql_min, spec.ql_max)
    s = params(net, taken, param_base, "scale", np.broadcast_to(scale.astype(np.float32), spec.shape), share=share)
    z = params(net, taken, param_base, "zero_point", np.broadcast_to(zp.astype(np.float32), spec.shape),
               share=share)
    q_var = net.add_variable(f"{dst}/int", list(net.variables[src].shape.dim), taken=taken)
    dtype = 2 if spec.ql_min >= 0 else 1  # NNabla's dtype numbers: 1 int8, 2 uint8
    stem = qname[: -len("/quantize")] if qname.endswith("/quantize") else qname
    dq_name = unique_name(stem + "/dequantize", taken)
    q = make_function(qname, "QuantizeLinear", [src, s, z], [q_var],
                      {"narrow_range": spec.ql_min == -spec.ql_max, "dtype": dtype})
    dq = make_function(dq_name, "DequantizeLinear", [q_var, s, z], [dst])
    return [q, dq]
