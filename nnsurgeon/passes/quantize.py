"""quantize: one MinMaxQuantize after every output of every selected function.

The rewrite happens at the producer, so every use sees the quantized value at once: the matched function's
output ``y`` is renamed ``y/float`` and a new MinMaxQuantize reads ``y/float`` and writes ``y``. Every
consumer, the network output of that name and every executor keep naming ``y`` and now read the quantized
value; no consumer is rebuilt, so forks (residual blocks), network outputs, multi-output functions and any
function type work alike. The quantizer is made from NNabla's function registry (:func:`make_function`).

Quantizer names derive from the function's stable name: function ``<f>/quantize`` (``<f>/quantize_<i>`` for
output i > 0 of a multi-output function), parameters ``<that>/qr_min``, ``qr_max``, ``ql_min``, ``ql_max``.

Without ranges the quantizers compute min/max of each batch (``x_min_max=True``: dynamic). With ranges (from
calibration) they are stored in ``qr_min``/``qr_max`` and the quantizers use them (``x_min_max=False,
ema=True``: static, what a deployed model wants). Ranges are widened to contain 0: NNabla's MinMaxQuantize
nudges the range so that 0 is exactly representable, and a range [m, M] with m > 0 would otherwise be moved
to [0, M - m], clipping the largest values of all-positive tensors.
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from ..errors import SelectionError
from ..graph.functions import make_function
from ..graph.naming import unique_name
from ..graph.network import Network
from ..model.nnp import Parameter
from ..rules import Selector, select
from .base import PassResult

Ranges = Dict[Tuple[str, str], Tuple[float, float]]  # (network, variable) -> (min, max)


def levels(bits: int = 8, signed: bool = False, ql_min: Optional[float] = None,
           ql_max: Optional[float] = None) -> Tuple[float, float]:
    """Quantization levels: [0, 2^bits - 1], or [-2^(bits-1), 2^(bits-1) - 1] when signed; explicit wins."""
    if bits < 2 or bits > 16:
        raise SelectionError(f"--bits must be between 2 and 16, got {bits}")
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    lo = lo if ql_min is None else ql_min
    hi = hi if ql_max is None else ql_max
    if hi <= lo:
        raise SelectionError(f"--ql-max ({hi}) must be greater than --ql-min ({lo})")
    return float(lo), float(hi)


def quantize(model, after: Sequence[str] = (), names: Sequence[str] = (), exclude: Sequence[str] = (),
             networks: Sequence[str] = (), bits: int = 8, signed: bool = False,
             ql_min: Optional[float] = None, ql_max: Optional[float] = None, allow_empty: bool = False,
             dry_run: bool = False, calibrate: Optional[Callable[[object, Dict], Ranges]] = None,
             decay: float = 0.999) -> PassResult:
    """Insert MinMaxQuantize after the selected functions of ``model`` (in place).

    ``calibrate(model, {network: [variable names]})`` returns ranges per (network, variable); the quantizers
    are then static. Returns a :class:`PassResult` with one record per inserted quantizer.

    Example::

        result = quantize(model, after=["ReLU", "Affine"], bits=8)
        print(result.summary)
    """
    lo, hi = levels(bits, signed, ql_min, ql_max)
    selection = select(model, Selector(list(after), list(names), list(exclude), list(networks)), allow_empty)
    result = PassResult("quantize")
    plans = {}
    for net_name, (net, functions) in selection.items():
        targets = []
        for f in functions:
            for i, y in enumerate(f.output):
                consumers = net.consumers(y)
                if any(c.type == "MinMaxQuantize" for c, _ in consumers) or f.type == "MinMaxQuantize":
                    result.notes.append(f"{net_name}: {f.name} output '{y}' is already quantized; skipped")
                    continue
                targets.append((f, i, y, consumers))
        plans[net_name] = (net, targets)
    if dry_run:
        for net_name, (_net, targets) in plans.items():
            for f, _i, y, consumers in targets:
                result.records.append(_record(net_name, f, y, consumers, None))
        result.summary = f"would insert {len(result.records)} quantizer(s) (dry run, nothing written)"
        return result
    ranges: Ranges = {}
    if calibrate is not None:
        wanted = {n: [y for _, _, y, _ in t] for n, (_, t) in plans.items() if t}
        ranges = calibrate(model, wanted) if wanted else {}
    for net, targets in plans.values():
        _rewrite(model, net, targets, lo, hi, ranges, decay, result)
    mode = "static ranges from calibration" if calibrate is not None else \
        "dynamic ranges (min/max of each batch; use --calibrate for fixed ranges)"
    result.changed = bool(result.records)
    result.summary = (f"inserted {len(result.records)} MinMaxQuantize in {len(plans)} network(s), "
                      f"{bits if ql_min is None and ql_max is None else 'custom'}-bit levels [{lo:g}, {hi:g}], "
                      f"{mode}")
    return result


def _record(net_name, f, y, consumers, rng):
    return {"network": net_name, "after": f.name, "type": f.type, "output": y,
            "consumers": [c.name for c, _ in consumers],
            "network_output": not consumers,
            "range": list(rng) if rng is not None else None}


def _rewrite(model, net: Network, targets, lo, hi, ranges: Ranges, decay, result: PassResult) -> None:
    taken = net.taken_names() | set(model.parameters)
    placements: Dict[str, list] = {}
    for f, i, y, consumers in targets:
        shape = list(net.variables[y].shape.dim)
        ones = [1] * len(shape)
        qname = unique_name(f"{f.name}/quantize" + (f"_{i}" if i else ""), taken)
        float_name = net.add_variable(f"{y}/float", shape, taken=taken)
        net.rename_output(f, i, float_name)
        rng = ranges.get((net.name, y))
        if rng is not None:
            rng = (min(float(rng[0]), 0.0), max(float(rng[1]), 0.0))
        values = {"qr_min": rng[0] if rng else -6.0, "qr_max": rng[1] if rng else 6.0, "ql_min": lo, "ql_max": hi}
        param_names = []
        for key in ("qr_min", "qr_max", "ql_min", "ql_max"):
            pname = unique_name(f"{qname}/{key}", taken)
            net.add_variable(pname, ones, kind="Parameter", taken=set())
            model.parameters[pname] = Parameter(np.full(ones, values[key], dtype=np.float32),
                                                need_grad=key.startswith("qr") and rng is None)
            param_names.append(pname)
        args = {"x_min_max": rng is None, "ema": rng is not None, "decay": decay}
        q = make_function(qname, "MinMaxQuantize", [float_name] + param_names, [y], args)
        placements.setdefault(f.name, []).append(q)
        result.records.append(_record(net.name, f, y, consumers, rng))
    net.insert_functions(placements)
