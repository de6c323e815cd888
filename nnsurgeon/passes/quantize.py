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
from typing import Dict, List, Tuple

import numpy as np

from ..graph.functions import make_function
from ..graph.levels import levels
from ..graph.naming import unique_name
from ..graph.network import Network
from ..model.nnp import Parameter
from .base import Change, Context, Pass, PassResult
from .options import ALLOW_EMPTY, EXCLUDE, NAMES, NETWORKS, Option

Ranges = Dict[Tuple[str, str], Tuple[float, float]]  # (network, variable) -> (min, max)


class Quantize(Pass):
    name = "quantize"
    help = "Insert MinMaxQuantize after matching functions."
    verbs = ("inserted", "would insert")
    noun = "MinMaxQuantize"
    options = (
        Option("after", "types", (), "Function types to quantize after (ReLU,Affine); --type is the same.",
               metavar="TYPES", aliases=("--type",), synonyms=("types",), idea="types"),
        NAMES, EXCLUDE, NETWORKS, ALLOW_EMPTY,
        Option("bits", "int", 8, "Quantization bits.", min=2, max=16),
        Option("signed", "bool", False, "Signed levels [-2^(b-1), 2^(b-1)-1] instead of [0, 2^b-1]."),
        Option("ql-min", "number", None, "Lowest quantization level (overrides bits)."),
        Option("ql-max", "number", None, "Highest quantization level (overrides bits)."),
        Option("calibrate", "path", None, "Calibration data: .npy, .npz keyed by input name, an image, or a "
               "folder of them.", metavar="DATA"),
        Option("size", "str", None, "Calibration images: resize to HxW first.", metavar="HxW"),
        Option("scale", "number", 1.0, "Calibration images: multiply pixel values (0-255) by this first."),
        Option("mean", "str", None, "Calibration images: subtract this, per channel.", metavar="M[,M,M]"),
        Option("std", "str", None, "Calibration images: divide by this, per channel.", metavar="S[,S,S]"),
        Option("calib-batches", "int", None, "Use at most this many calibration batches.", min=1),
        Option("batch-size", "int", 32, "Calibration batch size.", min=1, max=65536),
        Option("method", "enum", "minmax", "How calibration turns batches into a range.",
               choices=("minmax", "ema", "percentile")),
        Option("context", "enum", "cpu", "NNabla context for calibration.", choices=("cpu", "cuda", "cudnn")),
    )
    required = (("after", "names"),)

    def check(self, opts) -> None:
        levels(opts.bits, opts.signed, opts.ql_min, opts.ql_max)
        from ..errors import OptionError, opt

        for key in ("mean", "std"):
            try:
                [float(x) for x in (getattr(opts, key) or "").split(",") if x.strip()]
            except ValueError:
                raise OptionError(f"{opt(key)} '{getattr(opts, key)}': give numbers separated by commas") from None

    def select(self, model, opts):
        from ..rules import Selector, select

        return select(model, Selector(list(opts.after), list(opts.names), list(opts.exclude), list(opts.networks)),
                      opts.allow_empty)

    def match(self, model, net: Network, functions, opts, notes: List[str]) -> List[Change]:
        changes = []
        for f in functions:
            for i, y in enumerate(f.output):
                consumers = net.consumers(y)
                if f.type == "MinMaxQuantize" or any(c.type == "MinMaxQuantize" for c, _ in consumers):
                    notes.append(f"{net.name}: {f.name} output '{y}' is already quantized; skipped")
                    continue
                record = {"network": net.name, "after": f.name, "type": f.type, "output": y,
                          "consumers": [c.name for c, _ in consumers], "network_output": not consumers,
                          "range": None}
                changes.append(Change(record, (f.name, i, y)))
        return changes

    def prepare(self, model, matched, opts, ctx: Context) -> None:
        if opts.calibrate is None:
            return
        if ctx.dry_run:
            ctx.notes.append("calibration skipped in a dry run: quantizers are shown without ranges")
            return
        from ..runtime.calibrate import Calibrator
        from ..runtime.networks import calibrate_networks

        wanted = {n: [c.data[2] for c in changes] for n, (_, changes) in matched.items() if changes}
        from ..rules.selector import split_list
        from ..runtime.images import parse_size

        calibrator = Calibrator(opts.calibrate, batch_size=opts.batch_size, max_batches=opts.calib_batches,
                                method=opts.method, context=opts.context, progress=ctx.progress,
                                size=parse_size(opts.size), scale=opts.scale,
                                mean=[float(x) for x in split_list([opts.mean or ""])],
                                std=[float(x) for x in split_list([opts.std or ""])])
        ranges, notes = calibrate_networks(model, wanted, calibrator, named=bool(opts.networks))
        ctx.notes.extend(notes + calibrator.notes)
        for n, (_, changes) in matched.items():
            for c in changes:
                lo, hi = ranges[(n, c.data[2])]
                # widened to contain 0: NNabla's nudge would otherwise shift an all-positive range (module doc)
                c.record["range"] = [min(float(lo), 0.0), max(float(hi), 0.0)]

    def rewrite(self, model, net: Network, changes: List[Change], opts) -> None:
        lo, hi = levels(opts.bits, opts.signed, opts.ql_min, opts.ql_max)
        taken = net.taken_names() | set(model.parameters)
        placements: Dict[str, list] = {}
        for change in changes:
            fname, i, y = change.data
            f = net.functions[fname]
            shape = list(net.variables[y].shape.dim)
            ones = [1] * len(shape)
            qname = unique_name(f"{f.name}/quantize" + (f"_{i}" if i else ""), taken)
            float_name = net.add_variable(f"{y}/float", shape, taken=taken)
            net.rename_output(f, i, float_name)
            rng = change.record["range"]
            values = {"qr_min": rng[0] if rng else -6.0, "qr_max": rng[1] if rng else 6.0, "ql_min": lo,
                      "ql_max": hi}
            param_names = []
            for key in ("qr_min", "qr_max", "ql_min", "ql_max"):
                pname = unique_name(f"{qname}/{key}", taken)
                net.add_variable(pname, ones, kind="Parameter", taken=set())
                model.parameters[pname] = Parameter(np.full(ones, values[key], dtype=np.float32),
                                                    need_grad=key.startswith("qr") and rng is None)
                param_names.append(pname)
            args = {"x_min_max": rng is None, "ema": rng is not None, "decay": 0.999}
            q = make_function(qname, "MinMaxQuantize", [float_name] + param_names, [y], args)
            placements.setdefault(f.name, []).append(q)
        net.insert_functions(placements)

    def details(self, opts, ctx: Context, result: PassResult) -> str:
        lo, hi = levels(opts.bits, opts.signed, opts.ql_min, opts.ql_max)
        custom = opts.ql_min is not None or opts.ql_max is not None
        static = opts.calibrate is not None and not ctx.dry_run
        mode = "static ranges from calibration" if static else \
            "ranges from calibration (skipped in a dry run)" if opts.calibrate else \
            "dynamic ranges (min/max of each batch; calibrate for fixed ranges)"
        return f"{'custom' if custom else opts.bits}-bit levels [{lo:g}, {hi:g}], {mode}"
