"""sensitivity: which quantizer costs the most accuracy.

A quantized model is turned once into a *switchable* copy: every quantizer the quantize step added (a
MinMaxQuantize, or a QuantizeLinear -> DequantizeLinear pair) keeps its functions, and its output ``y`` is
written by ``y = on * q(x) + off * x`` (+ ``fb * q_fallback(x)`` when a fallback precision is given), where
``on``/``off``/``fb`` are 0/1 parameters of shape (1, ..., 1). With 0/1 weights the mix is exact in floating
point (``1*q + 0*x == q``), so a trial gives bit for bit what a model with exactly those quantizers gives.
Switching a quantizer is writing two scalars into the live graph: the graph is built once (per batch size)
and never rebuilt, and the data is read once: for each batch the float reference runs first (every switch
off), then every trial, so a sweep over N quantizers is N+1 forward passes over the evaluation set.

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


class Switches:
    """A copy of ``model`` whose ``quantizers`` can each be switched on, off (float) or, when ``fallback`` (a
    model quantized the same way at another precision) is given, to its fallback quantizer; see the module
    doc. ``set(states)`` writes the switches into the live graph; nothing is rebuilt."""

    def __init__(self, model, network: str, quantizers: Sequence[Quantizer], fallback=None):
        randoms = random_functions(model, network)
        if randoms:
            raise ModelError(f"network '{network}' has functions that draw new random numbers at every run "
                             f"({', '.join(randoms[:3])}{', ...' if len(randoms) > 3 else ''}): every trial would "
                             "measure that noise; remove them first (nnsurgeon apply recipes/strip-training.yaml "
                             "MODEL -o deploy.nnp)")
        self.model = model.copy()
        self.network = network
        self.quantizers = list(quantizers)
        self.names = [q.name for q in self.quantizers]
        net = self.model.view(network)
        taken = net.taken_names() | set(self.model.parameters)
        placements: Dict[str, list] = {}
        self.params: Dict[str, Dict[str, str]] = {}
        for q in self.quantizers:
            last = net.functions[q.functions[-1]]
            shape = list(net.variables[q.output].shape.dim)
            ones = [1] * len(shape)
            branches = [("on", net.add_variable(f"{q.output}/quantized", shape, taken=taken)), ("off", q.input)]
            net.rename_output(last, 0, branches[0][1])
            new = []
            if fallback is not None:
                fb_out, fb_functions = _graft(self.model, net, fallback, q, taken)
                branches.append(("fallback", fb_out))
                new.extend(fb_functions)
            self.params[q.name] = {}
            terms = []
            for key, source in branches:
                pname = unique_name(f"{q.name}/switch/{key}", taken)
                net.add_variable(pname, ones, kind="Parameter", taken=set())
                self.model.parameters[pname] = Parameter(np.full(ones, 1.0 if key == "on" else 0.0, np.float32),
                                                         need_grad=False)
                self.params[q.name][key] = pname
                term = net.add_variable(f"{q.output}/switch/{key}", shape, taken=taken)
                new.append(make_function(unique_name(f"{q.name}/switch/mul_{key}", taken), "Mul2",
                                         [source, pname], [term]))
                terms.append(term)
            total = terms[0]
            for i, term in enumerate(terms[1:], 1):
                out = q.output if i == len(terms) - 1 else net.add_variable(f"{q.output}/switch/sum", shape,
                                                                             taken=taken)
                new.append(make_function(unique_name(f"{q.name}/switch/add", taken), "Add2", [total, term], [out]))
                total = out
            placements[last.name] = new
        net.insert_functions(placements)
        self.model.invalidate_views()
        self._scope = None
        self._state: Dict[str, str] = {n: "on" for n in self.names}

    def bind(self, scope) -> None:
        """Use the live parameters of ``scope`` (the parameter scope the live graphs read)."""
        from .._nnabla import nnabla_quiet

        nn = nnabla_quiet()
        with nn.parameter_scope("", scope):
            live = nn.get_parameters(grad_only=False)
        self._scope = {p: live[p] for names in self.params.values() for p in names.values()}
        for name, state in self._state.items():
            for key, pname in self.params[name].items():
                self._scope[pname].d = 1.0 if key == state else 0.0

    def set(self, states: Dict[str, str]) -> None:
        """``states``: quantizer name -> "on", "off" or "fallback" (quantizers not named: off)."""
        for name in self.names:
            want = states.get(name, "off")
            if self._state.get(name) == want:
                continue
            for key, pname in self.params[name].items():
                self._scope[pname].d = 1.0 if key == want else 0.0
            self._state[name] = want


def _graft(model, net, fallback, q: Quantizer, taken: Set[str]) -> Tuple[str, list]:
    """Copies of ``q``'s functions as ``fallback`` has them (same names there, other levels), reading the
    same input, with their parameters copied under new names; returns (output variable, functions)."""
    fnet = fallback.view(q.network)
    renamed = {q.input: q.input}
    functions = []
    out = None
    for fname in q.functions:
        f = fnet.functions[fname]
        inputs = []
        for name in f.input:
            if name not in renamed:
                v = fnet.variables[name]
                new = net.add_variable(f"{name}_fallback", list(v.shape.dim), kind=v.type, taken=taken)
                if v.type == "Parameter":
                    src = fallback.parameters[name]
                    model.parameters[new] = Parameter(src.data, False)
                renamed[name] = new
            inputs.append(renamed[name])
        outputs = []
        for name in f.output:
            v = fnet.variables[name]
            renamed[name] = out = net.add_variable(f"{name}_fallback", list(v.shape.dim), taken=taken)
            outputs.append(out)
        copy = type(f)()
        copy.CopyFrom(f)
        copy.name = unique_name(f"{fname}_fallback", taken)
        del copy.input[:]
        copy.input.extend(inputs)
        del copy.output[:]
        copy.output.extend(outputs)
        functions.append(copy)
    return out, functions


@dataclass
class Trial:
    """One setting of the switches, with the statistics of each network output against the float model."""

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
    """Runs trials of a :class:`Switches` model over an evaluation set: per batch the float reference once,
    then every trial (see the module doc). ``labels``: class indices (N,) or None."""

    def __init__(self, switches: Switches, source, batch_size: int, labels: Optional[np.ndarray] = None,
                 context: str = "cpu", progress: bool = True):
        from ..graph.live import parameter_scope
        from .runner import Runner

        self.switches = switches
        self.source = source
        self.batch_size = batch_size
        self.labels = labels
        self.progress = progress
        self.runner = Runner(switches.model, switches.network, context=context)
        self.outputs = list(self.runner.output_names)
        self.runner.watch = self.outputs
        switches.bind(parameter_scope(switches.model))
        if labels is not None and len(labels) != source.count:
            raise DataError(f"the labels hold {len(labels)} labels but {source.path} holds {source.count} samples; "
                            "give one label per sample")
        self.float_accuracy: Dict[str, float] = {}
        self.passes = 0  # forward passes over the whole evaluation set

    def run(self, trials: List[Dict[str, str]], desc: str = "sensitivity") -> List[Trial]:
        out = [Trial(t, {o: Diff() for o in self.outputs}) for t in trials]
        correct: Dict[str, int] = {o: 0 for o in self.outputs}
        seen = 0
        total = -(-self.source.count // self.batch_size)
        for batch in progress_bar(self.source.batches(self.batch_size), total, desc, self.progress):
            n = len(next(iter(batch.values())))
            labels = None if self.labels is None else self.labels[seen:seen + n]
            self.switches.set({})
            ref = self.runner.run(batch)
            for o in self.outputs:
                if labels is not None and ref[o].ndim == 2 and ref[o].shape[1] > 1:
                    correct[o] += int((ref[o].argmax(1) == labels).sum())
            for trial in out:
                self.switches.set(trial.states)
                values = self.runner.run(batch, copy=False)
                for o in self.outputs:
                    trial.stats[o].update(ref[o], values[o], None, None, labels=labels)
            seen += n
        self.passes += 1 + len(trials)
        if self.labels is not None:
            self.float_accuracy = {o: correct[o] / seen for o in self.outputs
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
    by_name = {q.name: q for q in evaluator.switches.quantizers}
    for i, n in enumerate(names):
        q = by_name[n]
        row = {"quantizer": n, "after": q.after, "input": q.input, "type": q.type}
        row.update(results[i].metrics(fa))
        if cumulative:
            row["without"] = results[len(names) + i].metrics(fa)
        rows.append(row)
    rows.sort(key=badness)
    report = {"network": evaluator.switches.network, "outputs": evaluator.outputs,
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
