"""sensitivity: which quantizer costs the most accuracy.

The quantize step runs once (one calibration); then each trial is a *variant* of the quantized model: every
quantizer it added (a MinMaxQuantize, or a QuantizeLinear -> DequantizeLinear pair) is on, off (an Identity
from its input to its output: float) or at a fallback precision. A variant is a real model, so a trial's
numbers are exactly those of the model it stands for. Variants share one parameter scope (no copy of the
weights); each builds its live graph once, and the data is read once: for each batch the float reference runs
first, then every trial, so a sweep over N quantizers is N+1 forward passes over the evaluation set. A trial
runs only the functions from its quantizers on: what they read from upstream is the float model's value,
taken from the reference run of the same batch (so a quantizer near the output costs a few functions).

Why a graph per trial rather than one graph with 0/1 switches (``y = on*q(x) + off*x``, exact too): a
switched-off quantizer is still computed, and NNabla's MinMaxQuantize costs several times the layer it
follows on CPU, so every pass of a one-graph sweep costs a fully quantized forward (measured 5x slower on
the residual example; see bench/README.md), while a variant with one quantizer costs about a float forward.

Metrics per trial, against the float model's outputs on the same batch (worst over the network's outputs):
output SQNR in dB (``10 log10(sum ref^2 / sum (ref - q)^2)``, None when identical), cosine similarity, top-1
agreement of (N, C) outputs and, with labels, the accuracy drop in percentage points.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from ..errors import DataError, ModelError
from ..graph.functions import make_function
from ..graph.naming import unique_name
from ..model.nnp import Parameter
from .compare import Diff
from .progress import progress as progress_bar

QUANTIZER_TYPES = ("MinMaxQuantize", "QuantizeLinear", "DequantizeLinear")


@dataclass
class Quantizer:
    """One quantizer of network ``network``: ``functions`` (forward order) read ``input`` and write ``output``;
    ``after`` is the function producing ``input`` (or the parameter it is)."""

    name: str
    network: str
    input: str
    output: str
    functions: Tuple[str, ...]
    after: str
    type: str


def find_quantizers(model, network: str, only: Optional[Set[str]] = None) -> List[Quantizer]:
    """Quantizers of ``network`` in forward order; with ``only``, those whose functions are all in it (the
    functions a quantize step added). A QuantizeLinear feeding exactly one DequantizeLinear is one quantizer."""
    net = model.view(network)
    found = []
    for f in net.topological():
        if only is not None and f.name not in only:
            continue
        if f.type == "MinMaxQuantize":
            chain = [f]
        elif f.type == "QuantizeLinear":
            uses = net.consumers(f.output[0])
            if len(uses) != 1 or uses[0][0].type != "DequantizeLinear" or uses[0][1] != 0:
                continue
            chain = [f, uses[0][0]]
        else:
            continue
        x, y = chain[0].input[0], chain[-1].output[0]
        producer = net.producer(x)
        found.append(Quantizer(f.name, network, x, y, tuple(c.name for c in chain),
                               producer[0].name if producer else x, "+".join(c.type for c in chain)))
    return found


def added_functions(before, after, network: str) -> Set[str]:
    """Names of the functions of ``network`` in model ``after`` that model ``before`` does not have."""
    return set(after.view(network).functions) - set(before.view(network).functions)


def random_functions(model, network: str) -> List[str]:
    """Functions of ``network`` that draw new random numbers at every forward (those NNabla gives a ``seed``)."""
    from ..graph.functions import function_info

    info = function_info()
    return [f.name for f in model.network(network).function
            if "seed" in ((info.get(f.type) or {}).get("arguments") or {})]


class Variants:
    """The quantized ``model`` in whatever setting a trial asks for: each of ``quantizers`` on, off (float: an
    Identity from its input to its output) or, when ``fallback`` (the model quantized the same way at another
    precision) is given, at its fallback (``fallback``'s copy of it). A variant is a real model, so a trial's
    numbers are those of the model it stands for. Every variant reads one shared parameter scope: a variant
    costs a graph build, not a copy of the weights."""

    def __init__(self, model, network: str, quantizers: Sequence[Quantizer], fallback=None):
        randoms = random_functions(model, network)
        if randoms:
            raise ModelError(f"network '{network}' has functions that draw new random numbers at every run "
                             f"({', '.join(randoms[:3])}{', ...' if len(randoms) > 3 else ''}): every trial would "
                             "measure that noise; remove them first (nnsurgeon apply recipes/strip-training.yaml "
                             "MODEL -o deploy.nnp)")
        self.base = model.copy()
        self.network = network
        self.quantizers = list(quantizers)
        self.names = [q.name for q in self.quantizers]
        net = self.base.view(network)
        taken = net.taken_names() | set(self.base.parameters)
        self._fallback = {q.name: _graft(self.base, fallback, q, taken) for q in self.quantizers} \
            if fallback is not None else {}
        self._taken = taken
        from ..graph.live import parameter_scope

        parameter_scope(self.base)

    def model_for(self, states: Dict[str, str], downstream_only: bool = False):
        """A copy of the model with each quantizer as ``states`` says ("on", "off", "fallback"; not named:
        off). With ``downstream_only``, only the functions from the active quantizers on are kept: the
        values they read from upstream (identical to the float model's) become the network's inputs."""
        from ..graph.live import share_parameter_scope

        m = self.base.copy()
        share_parameter_scope(self.base, m)
        net = m.view(self.network)
        placements: Dict[str, list] = {}
        remove: Set[str] = set()
        taken = set(self._taken)
        active: Set[str] = set()
        for q in self.quantizers:
            state = states.get(q.name, "off")
            if state == "on":
                active.update(q.functions)
                continue
            remove.update(q.functions)
            if state == "fallback":
                functions, declared = self._fallback[q.name]
                for name, shape, kind in declared:
                    net.add_variable(name, shape, kind=kind, taken=set())
                new = []
                for f in functions:
                    c = type(f)()
                    c.CopyFrom(f)
                    new.append(c)
                new[-1].output[0] = q.output
                active.update(f.name for f in new)
            else:
                new = [make_function(unique_name(f"{q.name}/bypass", taken), "Identity", [q.input], [q.output])]
            placements[q.functions[-1]] = new
        net.insert_functions(placements)
        net.remove_functions(remove)
        if downstream_only:
            reached: Set[str] = set()
            keep: Set[str] = set()
            for f in net.topological():
                if f.name in active or any(x in reached for x in f.input):
                    keep.add(f.name)
                    reached.update(f.output)
            net.remove_functions(set(net.functions) - keep)
            net.prune_variables()
        m.invalidate_views()
        return m


def _graft(model, fallback, q: Quantizer, taken: Set[str]) -> Tuple[list, list]:
    """Copies of ``q``'s functions as ``fallback`` has them (same names there, other levels) reading the same
    input, their parameters added to ``model`` under new names. Returns (functions, variable declarations
    (name, shape, kind) they need, except the last output, which takes the quantizer's output name)."""
    fnet = fallback.view(q.network)
    renamed = {q.input: q.input}
    functions, declared = [], []
    for k, fname in enumerate(q.functions):
        f = fnet.functions[fname]
        inputs = []
        for name in f.input:
            if name not in renamed:
                v = fnet.variables[name]
                renamed[name] = unique_name(f"{name}_fallback", taken)
                declared.append((renamed[name], list(v.shape.dim), v.type))
                if v.type == "Parameter":
                    model.parameters[renamed[name]] = Parameter(fallback.parameters[name].data, False)
            inputs.append(renamed[name])
        outputs = []
        for name in f.output:
            renamed[name] = unique_name(f"{name}_fallback", taken)
            if k < len(q.functions) - 1:
                declared.append((renamed[name], list(fnet.variables[name].shape.dim), "Buffer"))
            outputs.append(renamed[name])
        copy = type(f)()
        copy.CopyFrom(f)
        copy.name = unique_name(f"{fname}_fallback", taken)
        del copy.input[:]
        copy.input.extend(inputs)
        del copy.output[:]
        copy.output.extend(outputs)
        functions.append(copy)
    return functions, declared


@dataclass
class Trial:
    """One setting of the quantizers, with the statistics of each network output against the float model."""

    states: Dict[str, str]
    stats: Dict[str, Diff] = field(default_factory=dict)

    def metrics(self, float_accuracy: Dict[str, float]) -> Dict:
        """Worst over the outputs: lowest SQNR (None: identical), cosine and top-1, largest accuracy drop."""
        rows = [d.report("output", o, None) for o, d in self.stats.items()]
        sqnr = [r["sqnr_db"] for r in rows]
        finite = [s for s in sqnr if s is not None]
        top1 = [r["top1"] for r in rows if r["top1"] is not None]
        drops = [100.0 * (float_accuracy[r["name"]] - r["accuracy_b"]) for r in rows
                 if r.get("accuracy_b") is not None and r["name"] in float_accuracy]
        acc = [r["accuracy_b"] for r in rows if r.get("accuracy_b") is not None]
        return {"sqnr_db": min(finite) if finite else None, "cosine": min(r["cosine"] for r in rows),
                "top1": min(top1) if top1 else None, "accuracy": min(acc) if acc else None,
                "accuracy_drop": max(drops) if drops else None}


class Evaluator:
    """Runs trials (settings of a :class:`Variants`) over an evaluation set: per batch the float reference
    once, then every trial (see the module doc). ``labels``: class indices (N,) or None. The last, smaller
    batch is padded to ``batch_size`` (padding rows are dropped), so each trial builds one graph."""

    def __init__(self, variants: Variants, source, batch_size: int, labels: Optional[np.ndarray] = None,
                 context: str = "cpu", progress: bool = True):
        from .runner import Runner

        self.variants = variants
        self.source = source
        self.batch_size = batch_size
        self.labels = labels
        self.context = context
        self.progress = progress
        self.reference = Runner(variants.model_for({}), variants.network, context=context)
        self.outputs = list(self.reference.output_names)
        if labels is not None and len(labels) != source.count:
            raise DataError(f"the labels hold {len(labels)} labels but {source.path} holds {source.count} samples; "
                            "give one label per sample")
        self.float_accuracy: Dict[str, float] = {}
        self.passes = 0  # forward passes over the whole evaluation set

    def run(self, trials: List[Dict[str, str]], desc: str = "sensitivity") -> List["Trial"]:
        from .runner import Runner

        runners, feeds = [], []
        for t in trials:  # each trial computes only what its quantizers change; the rest comes from the reference
            model = self.variants.model_for(t, downstream_only=True)
            view = model.view(self.variants.network)
            feeds.append(list(view.inputs))
            runners.append(Runner(model, self.variants.network, context=self.context,
                                  watch=[o for o in self.outputs if view.producer(o) is not None]))
        self.reference.set_watch(list(dict.fromkeys(self.outputs + [v for f in feeds for v in f])))
        out = [Trial(t, {o: Diff() for o in self.outputs}) for t in trials]
        correct: Dict[str, int] = {o: 0 for o in self.outputs}
        seen = 0
        total = -(-self.source.count // self.batch_size)
        for batch in progress_bar(self.source.batches(self.batch_size), total, desc, self.progress):
            n = len(next(iter(batch.values()))) if batch else None  # None: a network without data input
            if n is not None and n < self.batch_size:
                batch = {k: np.concatenate([v, np.zeros((self.batch_size - n,) + v.shape[1:], v.dtype)])
                         for k, v in batch.items()}
            labels = None if self.labels is None or n is None else self.labels[seen:seen + n]
            values = self.reference.run(batch)
            ref = {o: values[o][:n] for o in self.outputs}
            for o in self.outputs:
                if labels is not None and ref[o].ndim == 2 and ref[o].shape[1] > 1:
                    correct[o] += int((ref[o].argmax(1) == labels).sum())
            for trial, runner, feed in zip(out, runners, feeds):
                got = runner.run({k: values[k] for k in feed}, copy=False) if runner.watch else {}
                for o in self.outputs:
                    trial.stats[o].update(ref[o], got[o][:n] if o in got else ref[o], None, None, labels=labels)
            seen += n or 0
        self.passes += 1 + len(trials)
        if self.labels is not None:
            self.float_accuracy = {o: correct[o] / max(seen, 1) for o in self.outputs
                                   if out and out[0].stats[o].correct_n}
        return out


def sweep(evaluator: Evaluator, names: Sequence[str], cumulative: bool = False) -> Dict:
    """One quantizer at a time (and with ``cumulative``, all but one, plus all): rows worst first."""
    trials = [{n: "on"} for n in names]
    if cumulative:
        trials += [{m: "on" for m in names if m != n} for n in names] + [{m: "on" for m in names}]
    results = evaluator.run(trials)
    fa = evaluator.float_accuracy
    rows = []
    by_name = {q.name: q for q in evaluator.variants.quantizers}
    for i, n in enumerate(names):
        q = by_name[n]
        row = {"quantizer": n, "after": q.after, "input": q.input, "type": q.type}
        row.update(results[i].metrics(fa))
        if cumulative:
            row["without"] = results[len(names) + i].metrics(fa)
        rows.append(row)
    rows.sort(key=badness)
    report = {"network": evaluator.variants.network, "outputs": evaluator.outputs,
              "samples": evaluator.source.count, "quantizers": rows}
    if cumulative:
        report["all"] = results[-1].metrics(fa)
    if fa:
        report["float_accuracy"] = fa
    return report


def badness(row: Dict, by_accuracy: bool = True):
    """Sort key, worst first: largest accuracy drop (when ``by_accuracy`` and known), then lowest SQNR, then
    lowest cosine."""
    drop = row.get("accuracy_drop") if by_accuracy else None
    sqnr = row["sqnr_db"]
    return (-(drop or 0.0), float("inf") if sqnr is None else sqnr, row["cosine"])


def meets(metrics: Dict, min_sqnr: Optional[float], max_accuracy_drop: Optional[float]) -> bool:
    """Whether a trial's metrics meet the targets (SQNR None means identical outputs: met)."""
    if min_sqnr is not None and metrics["sqnr_db"] is not None and metrics["sqnr_db"] < min_sqnr:
        return False
    if max_accuracy_drop is not None and (metrics["accuracy_drop"] or 0.0) > max_accuracy_drop:
        return False
    return True
