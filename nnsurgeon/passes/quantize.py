"""quantize: quantizers on the outputs of selected functions (``after``), on their data inputs (``before``),
on the network outputs, and on the weights of weighted functions (``weights``).

The rewrite of an activation happens at the producer, so every use sees the quantized value at once: the
matched function's output ``y`` is renamed ``y/float`` and a new quantizer reads ``y/float`` and writes ``y``.
Every consumer, the network output of that name and every executor keep naming ``y`` and now read the
quantized value; no consumer is rebuilt, so forks (residual blocks), network outputs, multi-output functions
and any function type work alike. A network input (no producer) gets a quantizer writing ``x/quantized``
that its consumers read instead. A weight ``W`` gets a quantizer writing ``W/quantized`` in every network
whose selected functions read it, all sharing one set of parameters ``W_quantize/...`` (NNabla keeps
parameters in a scope tree, so nothing can be stored under the weight's own name). Quantizers come
from NNabla's function registry (:func:`make_function`), in either format (:mod:`.quantizers`).

Quantizer names derive from the function's stable name: function ``<f>/quantize`` (``<f>/quantize_<i>`` for
output i > 0 of a multi-output function), parameters ``<that>/qr_min``, ``qr_max``, ``ql_min``, ``ql_max``
(``scale``, ``zero_point`` in qdq).

Without ranges the activation quantizers compute min/max of each batch (``x_min_max=True``: dynamic). With
ranges (calibration, or ``ranges``) they are stored and the quantizers use them (``x_min_max=False,
ema=True``: static, what a deployed model wants). Asymmetric ranges are widened to contain 0: NNabla's
MinMaxQuantize nudges the range so that 0 is exactly representable, and a range [m, M] with m > 0 would
otherwise be moved to [0, M - m], clipping the largest values of all-positive tensors. Symmetric ranges
and the qdq format need static ranges. Range arithmetic: :mod:`nnsurgeon.runtime.ranges`; weights:
:mod:`.quantize_weights`; mixed precision: :mod:`.quantize_overrides`.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import OptionError, SelectionError, opt
from ..graph.levels import levels
from ..graph.naming import unique_name
from ..graph.network import Network
from ..runtime.ranges import symmetric_levels, symmetric_range
from .base import Change, Context, Pass, PassResult
from .options import ALLOW_EMPTY, EXCLUDE, NAMES, NETWORKS, Option
from .quantize_overrides import bits_for, explicit_ranges, parse_keep, precision_rules
from .quantize_targets import AUTO_EXCLUDE, check_auto_exclude
from .quantize_weights import WEIGHT_TYPES, plan_biases, weight_input, weight_spec
from .quantizers import QUANTIZER_TYPES, SMALL_EPS, ParamMaker, QSpec, build, check_qdq_levels

Ranges = Dict[Tuple[str, str], Tuple[float, float]]  # (network, variable) -> (min, max)

# preset deploy: where TensorRT and ONNX Runtime put Q/DQ (README "Quantizing for deployment")
DEPLOY_INPUTS = ("Convolution", "DepthwiseConvolution", "Deconvolution", "Affine", "Add2", "Concatenate")
# outputs that cannot be negative, and functions that keep a non-negative input non-negative
NON_NEGATIVE = {"ReLU", "ReLU6", "Sigmoid", "Softmax", "Abs", "SoftPlus", "Exp", "HardSigmoid"}
KEEPS_SIGN = {"MaxPooling", "AveragePooling", "GlobalAveragePooling", "SumPooling", "Reshape", "Transpose",
              "Slice", "Flip", "Identity", "Concatenate", "Add2", "Mul2", "MinMaxQuantize", "Broadcast", "Tile"}


@dataclass
class Config:
    """The options after the preset: which roles and how."""

    after: tuple
    before: tuple
    weights: Optional[int]
    weight_types: tuple
    symmetric: bool
    network_outputs: bool
    rules: list

    def quantizes_after(self, f, names_given: bool) -> bool:
        if self.after:
            return f.type in self.after
        return names_given and not (self.before or self.weights or self.network_outputs)


def config(opts) -> Config:
    deploy = opts.preset == "deploy"
    before = tuple(dict.fromkeys(tuple(opts.before) + (DEPLOY_INPUTS if deploy else ())))
    return Config(after=tuple(opts.after), before=before,
                  weights=opts.weights or (opts.bits if deploy else None), weight_types=tuple(opts.weight_types),
                  symmetric=opts.symmetric or deploy, network_outputs=opts.network_outputs or deploy,
                  rules=precision_rules(opts.overrides, opts.keep))


class Quantize(Pass):
    name = "quantize"
    help = "Insert quantizers after (or before) matching functions and on their weights."
    verbs = ("inserted", "would insert")
    noun = "MinMaxQuantize"
    options = (
        Option("after", "types", (), "Function types to quantize after (ReLU,Affine); --type is the same.",
               metavar="TYPES", aliases=("--type",), synonyms=("types",), idea="types"),
        Option("before", "types", (), "Function types whose data inputs to quantize (Convolution,Add2).",
               metavar="TYPES"),
        NAMES, EXCLUDE, NETWORKS, ALLOW_EMPTY,
        Option("bits", "int", 8, "Quantization bits.", min=2, max=16),
        Option("signed", "bool", False, "Signed levels [-2^(b-1), 2^(b-1)-1] instead of [0, 2^b-1]."),
        Option("ql-min", "number", None, "Lowest quantization level (overrides bits)."),
        Option("ql-max", "number", None, "Highest quantization level (overrides bits)."),
        Option("weights", "int", None, "Also quantize the weights of weight-types to this many bits (symmetric, "
                                       "narrow range; no data needed).", min=2, max=16, metavar="BITS"),
        Option("weight-types", "types", WEIGHT_TYPES, "Function types whose weights are quantized.",
               metavar="TYPES"),
        Option("weights-granularity", "enum", "channel", "One weight range per output channel or per tensor.",
               choices=("channel", "tensor")),
        Option("bias", "enum", "float", "Biases of quantized weights: float, or rounded to int32 multiples of "
                                        "input scale x weight scale where the input scale is known.",
               choices=("float", "int32")),
        Option("format", "enum", "minmax", "Quantizer functions: MinMaxQuantize, or QuantizeLinear + "
                                           "DequantizeLinear pairs (ONNX-aligned, 8-bit).",
               choices=("minmax", "qdq"), cli="--quant-format"),
        Option("symmetric", "bool", False, "Zero point 0: range [-max|x|, max|x|] ([0, max] for non-negative "
                                           "tensors such as ReLU outputs). Needs static ranges."),
        Option("network-outputs", "bool", False, "Also quantize every network output."),
        Option("keep", "names", (), "Mixed precision: BITS:NAME keeps function NAME (glob, re:REGEX) at BITS.",
               metavar="BITS:NAME"),
        Option("overrides", "rules", (), "Mixed precision rules [{name|type: ..., bits: N}] (see README)."),
        Option("ranges", "ranges", None, "Fixed ranges of named tensors {TENSOR: [low, high]} (win over "
                                       "calibration).", cli="--range", metavar="TENSOR=LOW,HIGH"),
        Option("preset", "enum", None, "deploy: weights, symmetric, the inputs of Convolution/Affine/Add2/"
                                       "Concatenate and the network outputs (README).", choices=("deploy",)),
        Option("calibrate", "path", None, "Calibration data: .npy, .npz keyed by input name, an image, or a "
               "folder of them.", metavar="DATA"),
        Option("size", "str", None, "Calibration images: resize to HxW first.", metavar="HxW"),
        Option("scale", "number", 1.0, "Calibration images: multiply pixel values (0-255) by this first."),
        Option("mean", "str", None, "Calibration images: subtract this, per channel.", metavar="M[,M,M]"),
        Option("std", "str", None, "Calibration images: divide by this, per channel.", metavar="S[,S,S]"),
        Option("calib-batches", "int", None, "Use at most this many calibration batches.", min=1),
        Option("batch-size", "int", 32, "Calibration batch size.", min=1, max=65536),
        Option("method", "enum", "minmax", "How calibration turns the data into a range.",
               choices=("minmax", "ema", "percentile", "mse", "entropy")),
        Option("ema-decay", "number", 0.999, "Decay of the ema method.", min=0, max=1),
        Option("percentile", "number", 99.99, "Percentile of the percentile method.", min=50, max=100),
        Option("context", "enum", "cpu", "NNabla context for calibration.", choices=("cpu", "cuda", "cudnn")),
    ) + AUTO_EXCLUDE
    required = (("after", "names", "before", "weights", "preset", "network-outputs"),)

    def check(self, opts) -> None:
        levels(opts.bits, opts.signed, opts.ql_min, opts.ql_max)
        check_auto_exclude(opts)
        cfg = config(opts)
        parse_keep(opts.keep)
        for key in ("mean", "std"):
            try:
                [float(x) for x in (getattr(opts, key) or "").split(",") if x.strip()]
            except ValueError:
                raise OptionError(f"{opt(key)} '{getattr(opts, key)}': give numbers separated by commas") from None
        if cfg.symmetric and (opts.ql_min is not None or opts.ql_max is not None):
            raise OptionError(f"{opt('symmetric')} chooses its own levels: leave out {opt('ql-min')} and "
                              f"{opt('ql-max')}")
        if opts.format == "qdq":
            check_qdq_levels(*(symmetric_levels(opts.bits) if cfg.symmetric else
                               levels(opts.bits, opts.signed, opts.ql_min, opts.ql_max)))
            for bits in {cfg.weights or 8} | {r.bits for r in cfg.rules}:
                if bits != 8:
                    check_qdq_levels(*symmetric_levels(bits))

    def noun_for(self, opts) -> str:
        return "quantizer" if opts.format == "qdq" else self.noun

    def select(self, model, opts):
        from ..rules import Selector, select

        cfg = config(opts)
        types = list(dict.fromkeys(cfg.after + cfg.before + (cfg.weight_types if cfg.weights else ())))
        if not cfg.after and not cfg.before and not cfg.weights:
            types = []  # names alone (or network outputs alone)
        return select(model, Selector(types, list(opts.names), list(opts.exclude), list(opts.networks)),
                      opts.allow_empty)

    def match(self, model, net: Network, functions, opts, notes: List[str]) -> List[Change]:
        cfg = config(opts)
        if opts.preset == "deploy":
            _require_folded(net)
        changes: List[Change] = []
        seen = set()

        def add_output(f, i, y, subject, kind):
            if y in seen:
                return
            seen.add(y)
            consumers = net.consumers(y)
            if f.type in QUANTIZER_TYPES or any(c.type in QUANTIZER_TYPES for c, _ in consumers):
                notes.append(f"{net.name}: {f.name} output '{y}' is already quantized; skipped")
                return
            record = {"network": net.name, "after": f.name, "type": f.type, "output": y,
                      "consumers": [c.name for c, _ in consumers], "network_output": not consumers,
                      "range": None, "kind": kind, "bits": bits_for(cfg.rules, subject, opts.bits)}
            changes.append(Change(record, {"kind": "output", "function": f.name, "index": i, "var": y,
                                           "unsigned": _non_negative(net, y)}))

        def add_input(x, subject):
            if x in seen:
                return
            use = net.producer(x)
            if use is not None:
                add_output(use[0], use[1], x, subject, "input")
                return
            seen.add(x)
            consumers = net.consumers(x)
            if any(c.type in QUANTIZER_TYPES for c, _ in consumers):
                notes.append(f"{net.name}: network input '{x}' is already quantized; skipped")
                return
            record = {"network": net.name, "after": x, "type": "(network input)", "output": x,
                      "consumers": [c.name for c, _ in consumers], "network_output": False, "range": None,
                      "kind": "input", "bits": bits_for(cfg.rules, subject, opts.bits)}
            changes.append(Change(record, {"kind": "network-input", "var": x, "unsigned": False}))

        from ..rules import data_inputs

        weights: Dict[str, list] = {}
        for f in functions:
            if cfg.quantizes_after(f, bool(opts.names)):
                for i, y in enumerate(f.output):
                    add_output(f, i, y, f, "activation")
            if f.type in cfg.before:
                for x in data_inputs(net, f):
                    add_input(x, f)
            if cfg.weights and f.type in cfg.weight_types:
                w = weight_input(f)
                if w is None or not net.is_parameter(w) or w not in model.parameters:
                    use = net.producer(w) if w else None
                    why = "already quantized" if use and use[0].type in QUANTIZER_TYPES else \
                        "its weight is not a stored parameter"
                    notes.append(f"{net.name}: weight of {f.name} {why}; skipped")
                    continue
                weights.setdefault(w, []).append(f)
        if cfg.network_outputs:
            for y in net.outputs:
                f, i = net.producer(y)
                add_output(f, i, y, f, "output")
        for w, fs in weights.items():
            record = {"network": net.name, "after": w, "type": "Parameter", "output": w,
                      "consumers": [f.name for f in fs], "network_output": False, "range": None,
                      "kind": "weight", "bits": bits_for(cfg.rules, fs[0], cfg.weights),
                      "granularity": opts.weights_granularity, "bias": None}
            changes.append(Change(record, {"kind": "weight", "var": w, "functions": [f.name for f in fs]}))
        return changes

    def prepare(self, model, matched, opts, ctx: Context) -> None:
        cfg = config(opts)
        params = ParamMaker(model)
        explicit = explicit_ranges(matched, opts.ranges or {})
        for net, changes in matched.values():
            for c in changes:
                c.data["params"] = params
                if c.data["kind"] == "weight":
                    weight_spec(model, net, c, opts.weights_granularity)
                else:
                    c.data["levels"] = self._levels(c, cfg, opts)
        wanted = {n: [c.data["var"] for c in changes if c.data["kind"] != "weight" and (n, c.data["var"]) not in
                      explicit] for n, (_, changes) in matched.items()}
        wanted = {n: v for n, v in wanted.items() if v}
        ranges: Ranges = dict(explicit)
        if opts.calibrate is not None and wanted:
            if ctx.dry_run:
                ctx.notes.append("calibration skipped in a dry run: quantizers are shown without ranges"
                                 + (" and auto-exclude is not measured" if opts.auto_exclude else ""))
            else:
                from ..rules.selector import split_list
                from ..runtime.calibrate import Calibrator
                from ..runtime.images import parse_size
                from ..runtime.networks import calibrate_networks

                grids = {(n, c.data["var"]): c.data["levels"] for n, (_, changes) in matched.items()
                         for c in changes if c.data["kind"] != "weight"}
                calibrator = Calibrator(opts.calibrate, batch_size=opts.batch_size, max_batches=opts.calib_batches,
                                        method=opts.method, context=opts.context, decay=opts.ema_decay,
                                        percentile=opts.percentile, progress=ctx.progress,
                                        size=parse_size(opts.size), scale=opts.scale,
                                        mean=[float(x) for x in split_list([opts.mean or ""])],
                                        std=[float(x) for x in split_list([opts.std or ""])])
                found, notes = calibrate_networks(model, wanted, calibrator, named=bool(opts.networks), grids=grids)
                ranges.update(found)
                ctx.notes.extend(notes + calibrator.notes)
        missing = []
        for n, (_, changes) in matched.items():
            for c in changes:
                if c.data["kind"] == "weight":
                    continue
                rng = ranges.get((n, c.data["var"]))
                if rng is None:
                    missing.append(f"{n}:{c.data['var']}")
                    continue
                lo, hi = float(rng[0]), float(rng[1])
                if cfg.symmetric:
                    lo, hi = (float(v) for v in symmetric_range(lo, hi, c.data["unsigned"]))
                else:  # widened to contain 0: NNabla's nudge would otherwise shift an all-positive range
                    lo, hi = min(lo, 0.0), max(hi, 0.0)
                c.record["range"] = [lo, hi]
        needs_static = cfg.symmetric or opts.format == "qdq"
        if missing and needs_static and not (ctx.dry_run and opts.calibrate is not None):
            what = opt("format", "qdq") if opts.format == "qdq" else opt("symmetric")
            raise OptionError(f"{what} needs static activation ranges, and {len(missing)} quantized tensor(s) "
                              f"have none ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): add "
                              f"{opt('calibrate', 'DATA')} or {opt('ranges')}; weights alone need no data "
                              f"(give only {opt('weights')})")
        if opts.auto_exclude and not ctx.dry_run:
            from ..runtime.auto_exclude import auto_exclude

            auto_exclude(self, model, matched, opts, ctx)
        if opts.bias == "int32":
            for net, changes in matched.values():
                plan_biases(model, net, changes, ctx.notes)

    def set_bits(self, change: Change, bits: Optional[int], opts) -> None:
        """Give one change its own precision (``None``: the step's); auto-exclude's fallback uses it."""
        import dataclasses

        change.record["bits"] = opts.bits if bits is None else bits
        if change.data["kind"] == "weight":
            ql_min, ql_max = symmetric_levels(change.record["bits"])
            change.data["spec"] = dataclasses.replace(change.data["spec"], ql_min=ql_min, ql_max=ql_max)
        else:
            change.data["levels"] = self._levels(change, config(opts), opts)

    def rewritten_copy(self, model, network: str, changes: List[Change], opts):
        """A copy of ``model`` with ``changes`` made in ``network`` (auto-exclude measures such copies); the
        model and the changes are left as they were."""
        copy = model.copy()
        saved = [c.data["params"] for c in changes]
        maker = ParamMaker(copy)
        for c in changes:
            c.data["params"] = maker
        try:
            self.rewrite(copy, copy.view(network), changes, opts)
        finally:
            for c, params in zip(changes, saved):
                c.data["params"] = params
        copy.invalidate_views()
        return copy

    @staticmethod
    def _levels(c: Change, cfg: Config, opts) -> Tuple[float, float]:
        bits = c.record["bits"]
        if cfg.symmetric:
            return symmetric_levels(bits, c.data["unsigned"])
        custom = bits == opts.bits
        return levels(bits, opts.signed, opts.ql_min if custom else None, opts.ql_max if custom else None)

    def rewrite(self, model, net: Network, changes: List[Change], opts) -> None:
        cfg = config(opts)
        taken = net.taken_names() | set(model.parameters)
        after: Dict[str, list] = {}
        before: Dict[str, list] = {}
        order = {f.name: i for i, f in enumerate(net.proto.function)}
        for change in changes:
            d = change.data
            params = d["params"]
            kind = d["kind"]
            if kind == "weight":
                w = d["var"]
                qname = unique_name(f"{w}/quantize", taken)
                wq = net.add_variable(f"{w}/quantized", list(net.variables[w].shape.dim), taken=taken)
                # parameters are a scope tree in NNabla: nothing may live under the name of the weight itself
                funcs = build(opts.format, net, params, taken, qname, f"{w}_quantize", w, wq, d["spec"], share=True)
                for fname in d["functions"]:
                    net.functions[fname].input[1] = wq
                for fname, b_name, values, need_grad in d.get("biases", ()):
                    f = net.functions[fname]
                    f.input[2] = params(net, taken, f"{b_name}_int32", None, values, need_grad=need_grad)
                first = min(d["functions"], key=order.get)
                before.setdefault(first, []).extend(funcs)
                continue
            spec = self._activation_spec(change, cfg, net, opts.format)
            if kind == "network-input":
                x = d["var"]
                first = min((c.name for c, _ in net.consumers(x)), key=order.get)
                qname = unique_name(f"{x}/quantize", taken)
                xq = net.add_variable(f"{x}/quantized", list(net.variables[x].shape.dim), taken=taken)
                net.redirect_uses(x, xq)
                before.setdefault(first, []).extend(build(opts.format, net, params, taken, qname, qname, x, xq, spec))
                continue
            f = net.functions[d["function"]]
            i, y = d["index"], d["var"]
            qname = unique_name(f"{f.name}/quantize" + (f"_{i}" if i else ""), taken)
            float_name = net.add_variable(f"{y}/float", list(net.variables[y].shape.dim), taken=taken)
            net.rename_output(f, i, float_name)
            after.setdefault(f.name, []).extend(build(opts.format, net, params, taken, qname, qname, float_name, y,
                                                      spec))
        net.insert_functions(after, before)

    @staticmethod
    def _activation_spec(change: Change, cfg: Config, net: Network, fmt: str) -> QSpec:
        ql_min, ql_max = change.data["levels"]
        ones = tuple([1] * len(net.variables[change.data["var"]].shape.dim))
        eps = SMALL_EPS if cfg.symmetric else None
        rng = change.record["range"]
        if rng is None and (cfg.symmetric or fmt == "qdq"):  # only in a dry run (calibration skipped)
            rng = [0.0 if ql_min >= 0 else -6.0, 6.0]
        if rng is None:
            return QSpec(None, None, ql_min, ql_max, ones)
        return QSpec(np.array(rng[0]), np.array(rng[1]), ql_min, ql_max, ones, eps=eps)

    def details(self, opts, ctx: Context, result: PassResult) -> str:
        cfg = config(opts)
        parts = []
        acts = [r for r in result.records if r.get("kind") != "weight"]
        if acts or not cfg.weights:
            if cfg.symmetric:
                lo, hi = symmetric_levels(opts.bits)
                text = f"{opts.bits}-bit symmetric levels [{lo:g}, {hi:g}] ([0, {2 ** opts.bits - 1}] if non-negative)"
            else:
                lo, hi = levels(opts.bits, opts.signed, opts.ql_min, opts.ql_max)
                custom = opts.ql_min is not None or opts.ql_max is not None
                text = f"{'custom' if custom else opts.bits}-bit levels [{lo:g}, {hi:g}]"
            static = (opts.calibrate is not None and not ctx.dry_run) or (opts.ranges and not opts.calibrate)
            mode = "static ranges from calibration" if opts.calibrate and not ctx.dry_run else \
                "ranges from calibration (skipped in a dry run)" if opts.calibrate else \
                "static ranges given" if static else \
                "dynamic ranges (min/max of each batch; calibrate for fixed ranges)"
            parts.append(f"{text}, {mode}")
        if cfg.weights:
            n = sum(1 for r in result.records if r.get("kind") == "weight")
            parts.append(f"{n} weight(s) at {cfg.weights} bits per {opts.weights_granularity}")
        if opts.format == "qdq":
            parts.append("QuantizeLinear/DequantizeLinear")
        return ", ".join(parts)


def _require_folded(net: Network) -> None:
    """preset deploy assumes BatchNormalization is folded (as TensorRT and ORT do before placing Q/DQ)."""
    for f in net.proto.function:
        if f.type == "BatchNormalization" and not f.batch_normalization_param.batch_stat:
            raise SelectionError(
                f"network '{net.name}': {opt('preset', 'deploy')} quantizes the model an engine runs, with "
                f"BatchNormalization folded, and {f.name} is not: run fold-batchnorm first (recipes/"
                f"fold-bn-quantize.yaml does both), or leave this network out with {opt('networks')}")


def _non_negative(net: Network, var: str, depth: int = 0) -> bool:
    """Whether ``var`` cannot be negative: made by ReLU-like functions, possibly through pooling/reshapes."""
    use = net.producer(var)
    if use is None or depth > 64:
        return False
    f = use[0]
    if f.type in NON_NEGATIVE:
        return True
    if f.type in KEEPS_SIGN:
        data = [x for x in f.input if not net.is_parameter(x)]
        if f.type == "MinMaxQuantize":
            data = data[:1]
        return bool(data) and all(_non_negative(net, x, depth + 1) for x in data)
    return False
