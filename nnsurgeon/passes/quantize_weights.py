"""Weights and biases for the quantize pass: which input is the weight, its output-channel axes, its range.

Output-channel axes of the weight ``W`` (input 1) by type:

| type | W layout | output axes |
| --- | --- | --- |
| Convolution | (O, I/g, k...) or, channel_last, (O, k..., I/g) | 0 |
| DepthwiseConvolution | (C * multiplier, k...) | 0 |
| Deconvolution | (I, O/g, k...) or, channel_last, (I, k..., O/g) | 1, or the last; with groups each scale covers one index of O/g in every group |
| Affine | (inputs, outputs...) | the trailing axes holding the output's shape after base_axis |

Weights are quantized symmetric signed on narrow levels ([-127, 127] at 8 bits) with ``m = max |W|`` per
output channel (``weights-granularity: channel``, default) or per tensor; no data is needed.

Biases (``bias: int32``): stored as float values that are exact integer multiples of ``s = s_x * s_w`` (the
int32 a deployed kernel adds; one ``s`` per output channel), clipped to the int32 range, in a new parameter
``<bias>_int32``. ``s_x`` is the scale of the function's data input, known when this step quantizes that
input with a static range (calibration or ``ranges``); otherwise the bias stays float and a note says so.
No function is inserted: NNabla's QuantizeLinear has no int32.
"""
from typing import List, Optional, Tuple

import numpy as np

from ..runtime.ranges import TINY, channel_max, scale_zero_point, symmetric_levels
from .quantizers import SMALL_EPS, QSpec

WEIGHT_TYPES = ("Convolution", "DepthwiseConvolution", "Deconvolution", "Affine")


def weight_input(f) -> Optional[str]:
    """The weight input's name (input 1) of a weighted function, or None."""
    return f.input[1] if len(f.input) > 1 else None


def bias_input(f) -> Optional[str]:
    return f.input[2] if len(f.input) > 2 else None


def output_axes(f, w_ndim: int, out_ndim: int) -> Tuple[int, ...]:
    """The axes of ``f``'s weight (rank ``w_ndim``) that index output channels (table in the module doc);
    ``out_ndim`` is the rank of ``f``'s output."""
    if f.type == "Affine":
        n_out = out_ndim - f.affine_param.base_axis
        return tuple(range(w_ndim - n_out, w_ndim))
    if f.type == "Deconvolution":
        return (w_ndim - 1,) if f.deconvolution_param.channel_last else (1,)
    return (0,)  # Convolution (either layout), DepthwiseConvolution


def param_shape(w_shape, axes: Tuple[int, ...]) -> tuple:
    """The broadcast shape of per-channel parameters: ``w_shape`` on ``axes``, 1 elsewhere."""
    return tuple(d if i in axes else 1 for i, d in enumerate(w_shape))


def quantized_bias(b: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``b`` rounded to the nearest multiple of ``scale`` (per element or broadcast), within int32."""
    q = np.clip(np.round(b.astype(np.float64) / scale), -2 ** 31, 2 ** 31 - 1)
    return (q * scale).astype(np.float32)


def weight_spec(model, net, c, granularity: str) -> None:
    """Per-channel (or per-tensor) symmetric ranges of a weight, on narrow signed levels."""
    w_name = c.data["var"]
    w = model.parameters[w_name].data.astype(np.float64)
    f = net.functions[c.data["functions"][0]]
    out_ndim = len(net.variables[f.output[0]].shape.dim)
    axes = output_axes(f, w.ndim, out_ndim) if granularity == "channel" else ()
    m = np.maximum(channel_max(w, axes), TINY) if axes else np.full([1] * w.ndim, max(np.abs(w).max(), TINY))
    ql_min, ql_max = symmetric_levels(c.record["bits"])
    c.data["spec"] = QSpec(-m, m, ql_min, ql_max, param_shape(w.shape, axes), eps=SMALL_EPS)
    c.data["axes"] = axes
    c.record["range"] = [float(-m.max()), float(m.max())]
    c.record["channels"] = int(np.prod([w.shape[a] for a in axes])) if axes else 1


def plan_biases(model, net, changes, notes: List[str]) -> None:
    """bias int32 (see :mod:`.quantize_weights`): for each quantized weight's function with a bias, the
    rounded bias when the function's data input is quantized here with a static range."""
    inputs = {c.data["var"]: c for c in changes if c.data["kind"] != "weight"}
    for c in changes:
        if c.data["kind"] != "weight":
            continue
        spec = c.data["spec"]
        s_w = scale_zero_point(spec.lo, spec.hi, spec.ql_min, spec.ql_max)[0]
        plans, skipped = [], []
        for fname in c.data["functions"]:
            f = net.functions[fname]
            b = bias_input(f)
            if b is None or not net.is_parameter(b) or b not in model.parameters:
                continue
            x = inputs.get(f.input[0])
            if x is None or x.record["range"] is None:
                skipped.append(fname)
                continue
            lo, hi = x.record["range"]
            s_x = float(scale_zero_point(lo, hi, *x.data["levels"])[0])
            bias = model.parameters[b]
            s = (s_x * s_w).reshape(-1)
            if s.size not in (1, bias.data.size):
                s = np.tile(s, bias.data.size // s.size)  # grouped Deconvolution: one scale per index of O/g
            values = quantized_bias(bias.data.reshape(-1), s).reshape(bias.data.shape)
            plans.append((fname, b, values, bias.need_grad))
            c.record["bias"] = {"name": b, "scale": [float(s.min()), float(s.max())]}
        if skipped:
            notes.append(f"{net.name}: bias of {', '.join(skipped)} left float: the data input is not "
                             "quantized with a static range in this step")
        c.data["biases"] = plans
