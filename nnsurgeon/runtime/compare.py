"""compare: run two models on the same inputs and measure how their outputs (and, with per_layer, every
function output present in both by name) differ. Only running statistics are kept across batches."""
from typing import Dict, Optional

import numpy as np

from ..errors import DataError, opt
from .data import open_source
from .runner import Runner


class _Diff:
    def __init__(self):
        self.max_abs = 0.0
        self.sum_abs = 0.0
        self.count = 0
        self.dot = self.na = self.nb = 0.0
        self.top1_same = self.top1_n = 0
        self.violations = 0

    def update(self, a: np.ndarray, b: np.ndarray, atol, rtol) -> None:
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        d = np.abs(a64 - b64)
        self.max_abs = max(self.max_abs, float(d.max()) if d.size else 0.0)
        self.sum_abs += float(d.sum())
        self.count += d.size
        self.dot += float((a64 * b64).sum())
        self.na += float((a64 * a64).sum())
        self.nb += float((b64 * b64).sum())
        if a.ndim == 2 and a.shape[1] > 1:
            self.top1_same += int((a.argmax(1) == b.argmax(1)).sum())
            self.top1_n += a.shape[0]
        if atol is not None:
            self.violations += int((d > atol + (rtol or 0.0) * np.abs(a64)).sum())

    def report(self, kind, name, atol) -> Dict:
        denom = np.sqrt(self.na) * np.sqrt(self.nb)
        cosine = 1.0 if denom == 0 and self.max_abs == 0 else (self.dot / denom if denom else 0.0)
        noise = max(self.na - 2.0 * self.dot + self.nb, 0.0)  # sum((a - b)^2) from the same running sums
        sqnr = None if noise == 0 or self.na == 0 else float(10.0 * np.log10(self.na / noise))
        return {"kind": kind, "name": name, "max_abs": self.max_abs,
                "mean_abs": self.sum_abs / max(self.count, 1), "cosine": float(cosine), "sqnr_db": sqnr,
                "top1": (self.top1_same / self.top1_n) if self.top1_n else None,
                "ok": atol is None or self.violations == 0, "violations": self.violations}


def compare_models(a, b, data: Optional[str] = None, random: bool = False, seed: int = 0, samples: int = 8,
                   network: Optional[str] = None, batch_size: int = 32, atol: Optional[float] = None,
                   rtol: Optional[float] = None, per_layer: bool = False, context: str = "cpu") -> Dict:
    """Statistics per output (and per common layer): max/mean abs difference, cosine similarity, SQNR of b
    against a in dB (10 log10 sum(a^2) / sum((a-b)^2); None when they are equal), top-1
    agreement for 2-D outputs; ``ok`` is False when a value breaks ``atol + rtol*|a|``.

    Example::

        report = compare_models(load("a.nnp"), load("b.nnp"), random=True, atol=1e-3)
    """
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
    stats = {w: _Diff() for w in watch}
    batches = open_source(data, run_a.input_shapes, random, seed, samples).batches(batch_size)
    for batch in batches:
        va, vb = run_a.run(batch), run_b.run(batch)
        for w in watch:
            stats[w].update(va[w], vb[w], atol, rtol)
    report = {"network": name_a,
              "outputs": [stats[o].report("output", o, atol) for o in outputs],
              "layers": [dict(stats[y].report("layer", f"{fname}:{y}", atol), function=fname)
                         for fname, y in layers]}
    first_bad = next((r for r in report["layers"] if not r["ok"]), None)
    bad_outputs = [r["name"] for r in report["outputs"] if not r["ok"]]
    report["ok"] = not bad_outputs and (first_bad is None)
    if report["ok"]:
        report["summary"] = f"{len(outputs)} output(s) compared" + (
            "" if atol is None else f", all within atol={atol} rtol={rtol or 0}")
    else:
        where = f"; first layer over the threshold: {first_bad['function']}" if first_bad else ""
        report["summary"] = (f"outputs over the threshold (atol={atol}, rtol={rtol or 0}): "
                             f"{', '.join(bad_outputs) or 'none'}{where}")
    return report
