"""Static quantizers, evaluated faster for nnsurgeon's own runs (compare, extract, calibration checks): the
saved model keeps its MinMaxQuantize functions; only the graph built for a run differs.

NNabla's MinMaxQuantize recomputes its scale and nudged range on every forward and broadcasts three
full-size temporaries before seven element-wise passes. With stored ranges (``x_min_max=False``) those
depend on parameters only, so they are computed once here, in float32, step by step as NNabla computes them
(``min_max_quantize.cpp``: ``nudge_range``, ``scale = (qr_max - qr_min) / (ql_max - ql_min)``, the zero
point rounded half away from zero and clamped, ``qr_min/max_nudged = (ql_min/max - zero_point) * scale``),
and the element-wise part runs as the same operations in the same order on broadcast parameters:
``round((min(max(x, min_n), max_n) - min_n) / scale) * scale + min_n`` (Maximum2, Minimum2, Sub2, Div2,
Round, Mul2, Add2). A per-tensor quantizer (one range) uses NNabla's scalar functions instead where one
exists (MaximumScalar, MinimumScalar, AddScalar of ``-min_n``, MulScalar, AddScalar: ``x op (float)val``,
the same IEEE operation; ``x + (-m)`` is ``x - m`` exactly), about 4x faster than broadcasting a
one-element parameter; only the division keeps Div2. The result is bit-identical to MinMaxQuantize (the tests compare the bits against
NNabla running the saved model). NNabla's QuantizeLinear/DequantizeLinear pair is faster still but computes
``round(x / scale) + zero_point``, which differs from MinMaxQuantize by one level on many values, so it is
not used.
"""
from collections import OrderedDict
from typing import Optional

import numpy as np

from ..graph.functions import make_function
from ..graph.naming import unique_name
from ..model.nnp import Parameter


def _round_half_away(z: np.ndarray) -> np.ndarray:
    z64 = z.astype(np.float64)  # exact for float32 values; floor(|z| + 0.5) in float64 cannot round up wrongly
    return (np.sign(z64) * np.floor(np.abs(z64) + 0.5)).astype(np.float32)


def nudged_range(qr_min, qr_max, ql_min, ql_max, eps: float):
    """(qr_min_nudged, qr_max_nudged, scale), float32, as NNabla's MinMaxQuantize computes them."""
    f32 = np.float32
    qr_min, qr_max, ql_min, ql_max = (np.asarray(a, dtype=f32) for a in (qr_min, qr_max, ql_min, ql_max))
    qr_max = np.where(qr_max - qr_min < f32(eps), qr_min + f32(eps), qr_max).astype(f32)
    scale = ((qr_max - qr_min) / (ql_max - ql_min)).astype(f32)
    zero_point = (ql_min - qr_min / scale).astype(f32)
    zero_point = np.where(zero_point <= ql_min, ql_min,
                          np.where(zero_point >= ql_max, ql_max, _round_half_away(zero_point))).astype(f32)
    return ((ql_min - zero_point) * scale).astype(f32), ((ql_max - zero_point) * scale).astype(f32), scale


def _static(f, model, variables) -> bool:
    if f.type != "MinMaxQuantize" or f.min_max_quantize_param.x_min_max or len(f.input) != 5:
        return False
    x = variables.get(f.input[0])
    params = [model.parameters.get(n) for n in f.input[1:]]
    if x is None or any(p is None for p in params):
        return False
    shapes = {p.data.shape for p in params}
    return len(shapes) == 1 and len(next(iter(shapes))) == len(x.shape.dim)


def measurement_model(model, network: Optional[str] = None):
    """``model`` itself when network ``network`` has no static MinMaxQuantize; otherwise a copy for running
    only, where each one is the equivalent sequence described in the module doc."""
    proto = model.network(network)
    variables = {v.name: v for v in proto.variable}
    if not any(_static(f, model, variables) for f in proto.function):
        return model
    run = model.copy()
    run.parameters = OrderedDict(run.parameters)
    net = run.network(proto.name)
    variables = {v.name: v for v in net.variable}
    taken = set(variables) | set(run.parameters) | {f.name for f in net.function}
    functions = []
    for f in net.function:
        if not _static(f, run, variables):
            kept = type(f)()
            kept.CopyFrom(f)
            functions.append(kept)
            continue
        x, y = f.input[0], f.output[0]
        lo, hi, scale = nudged_range(*(run.parameters[n].data for n in f.input[1:]),
                                     eps=f.min_max_quantize_param.eps)
        shape = list(run.parameters[f.input[1]].data.shape)
        # scalar functions for one finite range; a range that overflowed (NaN, inf) keeps the broadcast
        # sequence: x + (-m) and x - m differ in the sign of a NaN m
        per_tensor = lo.size == 1 and bool(np.all(np.isfinite([lo, hi, scale])))
        names = {}
        for key, value in (("scale", scale),) if per_tensor else (("min", lo), ("max", hi), ("scale", scale)):
            # a flat base: a quantizer named after its weight ('fc/W/quantize') must not put parameters under
            # the weight's own name, which NNabla's parameter scopes cannot hold beside it
            names[key] = unique_name(f"{f.name.replace('/', '_')}/run/{key}", taken)
            taken.add(names[key])
            v = net.variable.add(name=names[key], type="Parameter")
            v.shape.dim.extend(shape)
            run.parameters[names[key]] = Parameter(value.reshape(shape), need_grad=False)
        if per_tensor:  # the scalar functions compute x op (float)val: the same operation, no broadcasting
            low, high, step = (float(np.asarray(a).reshape(-1)[0]) for a in (lo, hi, scale))
            steps = [("MaximumScalar", [x], {"val": low}), ("MinimumScalar", [None], {"val": high}),
                     ("AddScalar", [None], {"val": -low}), ("Div2", [None, names["scale"]], None),
                     ("Round", [None], None), ("MulScalar", [None], {"val": step}),
                     ("AddScalar", [None], {"val": low})]
        else:
            steps = [("Maximum2", [x, names["min"]], None), ("Minimum2", [None, names["max"]], None),
                     ("Sub2", [None, names["min"]], None), ("Div2", [None, names["scale"]], None),
                     ("Round", [None], None), ("Mul2", [None, names["scale"]], None),
                     ("Add2", [None, names["min"]], None)]
        previous = None
        for i, (type_name, inputs, args) in enumerate(steps):
            inputs = [previous if n is None else n for n in inputs]
            if i == len(steps) - 1:
                out = y
            else:
                out = unique_name(f"{f.name}/run/{i}", taken)
                taken.add(out)
                v = net.variable.add(name=out, type="Buffer")
                v.shape.dim.extend(variables[x].shape.dim)
            name = unique_name(f"{f.name}/run/{type_name}", taken)
            taken.add(name)
            functions.append(make_function(name, type_name, inputs, [out], args))
            previous = out
    del net.function[:]
    net.function.extend(functions)
    run.invalidate_views()
    return run
