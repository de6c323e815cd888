"""compare: run two models on the same inputs and measure how their outputs (and, with per_layer, every
function output present in both by name) differ. Only running statistics are kept across batches.

Per output: max and mean absolute difference, cosine similarity, SQNR of B against A in dB
(``10 log10(sum a^2 / sum (a - b)^2)``; None when the outputs are identical), top-1 agreement of (N, C)
outputs and, with labels (class indices), each model's accuracy and the drop A - B in percentage points.
"""
import math
from typing import Dict, List, Optional

import numpy as np

from ..errors import DataError, OptionError, opt
from .data import open_source
from .runner import Runner


class Diff:
    """Running statistics of B against A over batches (see the module doc)."""

    def __init__(self):
        self.max_abs = 0.0
        self.sum_abs = 0.0
        self.count = 0
        self.dot = self.na = self.nb = self.err2 = 0.0
        self.top1_same = self.top1_n = 0
        self.correct_a = self.correct_b = self.correct_n = 0
        self.violations = 0

    def update(self, a: np.ndarray, b: np.ndarray, atol, rtol, labels: Optional[np.ndarray] = None) -> None:
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        diff = a64 - b64
        d = np.abs(diff)
        self.max_abs = max(self.max_abs, float(d.max()) if d.size else 0.0)
        self.sum_abs += float(d.sum())
        self.count += d.size
        self.dot += float((a64 * b64).sum())
        self.na += float((a64 * a64).sum())
        self.nb += float((b64 * b64).sum())
        self.err2 += float((diff * diff).sum())
        if a.ndim == 2 and a.shape[1] > 1:
            pa, pb = a.argmax(1), b.argmax(1)
            self.top1_same += int((pa == pb).sum())
            self.top1_n += a.shape[0]
            if labels is not None:
                self.correct_a += int((pa == labels).sum())
                self.correct_b += int((pb == labels).sum())
                self.correct_n += a.shape[0]
        if atol is not None:
            self.violations += int((d > atol + (rtol or 0.0) * np.abs(a64)).sum())

    def sqnr_db(self) -> Optional[float]:
        """None when B equals A (no noise) or A is all zeros (no signal)."""
        if self.err2 == 0 or self.na == 0:
            return None
        return 10.0 * math.log10(self.na / self.err2)

    def report(self, kind, name, atol) -> Dict:
        denom = np.sqrt(self.na) * np.sqrt(self.nb)
        cosine = 1.0 if denom == 0 and self.max_abs == 0 else (self.dot / denom if denom else 0.0)
        row = {"kind": kind, "name": name, "max_abs": self.max_abs,
               "mean_abs": self.sum_abs / max(self.count, 1), "cosine": float(cosine), "sqnr_db": self.sqnr_db(),
               "top1": (self.top1_same / self.top1_n) if self.top1_n else None,
               "ok": atol is None or self.violations == 0, "violations": self.violations}
        if self.correct_n:
            row["accuracy_a"] = self.correct_a / self.correct_n
            row["accuracy_b"] = self.correct_b / self.correct_n
            row["accuracy_drop"] = 100.0 * (row["accuracy_a"] - row["accuracy_b"])
        return row


def check_thresholds(row: Dict, min_cosine=None, min_top1=None, min_sqnr=None, max_accuracy_drop=None) -> List[str]:
    """The thresholds an output row breaks, as text (empty: all met). A threshold that does not apply to the
    row (top-1 of a non-classifier output, accuracy without labels) is not checked."""
    broken = []
    if min_cosine is not None and row["cosine"] < min_cosine:
        broken.append(f"cosine {row['cosine']:.6f} < {min_cosine}")
    if min_top1 is not None and row["top1"] is not None and row["top1"] < min_top1:
        broken.append(f"top1 {row['top1']:.4f} < {min_top1}")
    if min_sqnr is not None and row["sqnr_db"] is not None and row["sqnr_db"] < min_sqnr:
        broken.append(f"SQNR {row['sqnr_db']:.2f} dB < {min_sqnr}")
    if max_accuracy_drop is not None and row.get("accuracy_drop") is not None \
            and row["accuracy_drop"] > max_accuracy_drop:
        broken.append(f"accuracy drop {row['accuracy_drop']:.2f} pt > {max_accuracy_drop}")
    return broken


def compare_models(a, b, data: Optional[str] = None, random: bool = False, seed: int = 0, samples: int = 8,
                   network: Optional[str] = None, batch_size: int = 32, atol: Optional[float] = None,
                   rtol: Optional[float] = None, per_layer: bool = False, context: str = "cpu",
                   labels: Optional[str] = None, min_cosine: Optional[float] = None, min_top1: Optional[float] = None,
                   min_sqnr: Optional[float] = None, max_accuracy_drop: Optional[float] = None) -> Dict:
    """Statistics per output (and per common layer): max/mean abs difference, cosine similarity, SQNR, top-1
    agreement for 2-D outputs, and with ``labels`` (see :func:`nnsurgeon.runtime.labels.load_labels`) each
    model's accuracy. ``ok`` is False when a value breaks ``atol + rtol*|a|`` or an output breaks a threshold
    (``min_cosine``, ``min_top1``, ``min_sqnr`` in dB, ``max_accuracy_drop`` in percentage points).

    Example::

        report = compare_models(load("a.nnp"), load("b.nnp"), random=True, atol=1e-3)
    """
    if rtol is not None and atol is None:
        raise OptionError(f"{opt('rtol')} needs {opt('atol')}: values are checked against atol + rtol*|a| "
                          f"(give {opt('atol', '0')} for a purely relative tolerance)")
    if max_accuracy_drop is not None and labels is None:
        raise OptionError(f"{opt('max-accuracy-drop')} needs {opt('labels')} (class indices of the input samples)")
    name_a = a.network(network).name
    if name_a not in b.network_names:
        raise DataError(f"{b.source}: has no network '{name_a}' (it has {', '.join(b.network_names)}); use {opt('network')}")

    na, nb = a.view(name_a), b.view(name_a)
    shapes_a, shapes_b = na.input_shapes(), nb.input_shapes()
    if shapes_a != shapes_b:
        raise DataError(f"the models' inputs differ: {shapes_a} vs {shapes_b}")
    outputs = [o for o in na.outputs if o in nb.outputs]
    if not outputs:
        raise DataError("the models have no output name in common; compare needs outputs of the same name")
    layers = []
    if per_layer:
        for f in na.topological():
            if f.name not in nb.functions:
                continue
            for y in f.output:
                if y in nb.variables and y not in outputs and nb.producer(y) is not None:
                    layers.append((f.name, y))
    watch = outputs + [y for _, y in layers]
    run_a = Runner(a, name_a, watch=watch, context=context)
    run_b = Runner(b, name_a, watch=watch, context=context)
    stats = {w: Diff() for w in watch}
    label_array, ignore = None, ()
    if labels is not None:
        if random:
            raise OptionError(f"{opt('labels')} belong to given inputs, not to random ones")
        from .labels import load_labels

        label_array, key = load_labels(labels, data)
        ignore = (key,) if key else ()
    source = open_source(data, run_a.input_shapes, random, seed, samples, ignore=ignore)
    if label_array is not None and len(label_array) != source.count:
        raise DataError(f"{labels}: holds {len(label_array)} labels but {data} holds {source.count} samples")
    batches = source.batches(batch_size)
    seen = 0
    for batch in batches:
        va, vb = run_a.run(batch), run_b.run(batch)
        n = len(next(iter(batch.values()))) if batch else 0  # no batch: a network without data input
        part = None if label_array is None else label_array[seen:seen + n]
        for w in watch:
            stats[w].update(va[w], vb[w], atol, rtol, labels=part if w in outputs else None)
        seen += n
    report = {"network": name_a,
              "outputs": [stats[o].report("output", o, atol) for o in outputs],
              "layers": [dict(stats[y].report("layer", f"{fname}:{y}", atol), function=fname)
                         for fname, y in layers]}
    if label_array is not None and not any("accuracy_a" in r for r in report["outputs"]):
        raise DataError(f"{labels}: no output of network '{name_a}' is a classifier output (N, C) to score "
                        "the labels against")
    broken = {}
    for r in report["outputs"]:
        r["broken"] = check_thresholds(r, min_cosine, min_top1, min_sqnr, max_accuracy_drop)
        r["ok"] = r["ok"] and not r["broken"]
        if r["broken"]:
            broken[r["name"]] = r["broken"]
    first_bad = next((r for r in report["layers"] if not r["ok"]), None)
    bad_outputs = [r["name"] for r in report["outputs"] if not r["ok"]]
    report["ok"] = not bad_outputs and (first_bad is None)
    if report["ok"]:
        report["summary"] = f"{len(outputs)} output(s) compared" + (
            "" if atol is None else f", all within atol={atol} rtol={rtol or 0}")
        accs = [r for r in report["outputs"] if "accuracy_a" in r]
        if accs:
            report["summary"] += "; " + ", ".join(
                f"{r['name']} accuracy {100 * r['accuracy_a']:.2f}% -> {100 * r['accuracy_b']:.2f}% "
                f"(drop {r['accuracy_drop']:.2f} pt)" for r in accs)
    elif broken and atol is None:
        report["summary"] = "outputs break the thresholds: " + "; ".join(
            f"{name}: {', '.join(items)}" for name, items in broken.items())
    else:
        where = f"; first layer over the threshold: {first_bad['function']}" if first_bad else ""
        extra = ("; " + "; ".join(f"{name}: {', '.join(items)}" for name, items in broken.items())) if broken else ""
        report["summary"] = (f"outputs over the threshold (atol={atol}, rtol={rtol or 0}): "
                             f"{', '.join(bad_outputs) or 'none'}{where}{extra}")
    return report
