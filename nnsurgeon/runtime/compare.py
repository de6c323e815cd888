"""compare: run two models on the same inputs and measure how their outputs (and, with per_layer, every
function output present in both by name) differ. Only running statistics are kept across batches."""
import math
from typing import Dict, List, Optional

import numpy as np

from ..errors import DataError, OptionError, opt
from ..interrupt import check_interrupted
from .data import in_network, in_network_iter, open_source
from .progress import progress
from .runner import Runner


class Diff:
    """Running statistics of B against A over batches (see the module doc)."""

    def __init__(self, keep: bool = False):
        self.keep = keep  # keep |a-b| for the median and the quantile (outputs only: they are small)
        self.abs: list = []
        self.nonfinite_a = self.nonfinite_b = 0
        self.max_abs = 0.0
        self.sum_abs = 0.0
        self.count = 0
        self.dot = self.na = self.nb = self.err2 = 0.0
        self.top1_same = self.top1_n = 0
        self.correct_a = self.correct_b = self.correct_n = 0
        self.violations = 0

    def update(self, a: np.ndarray, b: np.ndarray, atol, rtol, labels: Optional[np.ndarray] = None) -> None:
        fa, fb = np.isfinite(a), np.isfinite(b)
        self.nonfinite_a += int(a.size - fa.sum())
        self.nonfinite_b += int(b.size - fb.sum())
        both = fa & fb
        a64, b64 = np.where(both, a, 0).astype(np.float64), np.where(both, b, 0).astype(np.float64)
        diff = a64 - b64
        d = np.abs(diff)
        self.err2 += float((diff * diff).sum())
        if self.keep:
            self.abs.append(d.astype(np.float32).ravel())
        self.max_abs = max(self.max_abs, float(d.max()) if d.size else 0.0)
        self.sum_abs += float(d.sum())
        self.count += d.size
        self.dot += float((a64 * b64).sum())
        self.na += float((a64 * a64).sum())
        self.nb += float((b64 * b64).sum())
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
        """10 log10(sum(a^2) / sum((a-b)^2)); None when B equals A (no noise) or A is all zeros (no signal)."""
        if self.err2 == 0 or self.na == 0:
            return None
        return 10.0 * math.log10(self.na / self.err2)

    def report(self, kind, name, atol, quantile: float = 0.99, check_finite: bool = False) -> Dict:
        denom = np.sqrt(self.na) * np.sqrt(self.nb)
        cosine = 1.0 if denom == 0 and self.max_abs == 0 else (self.dot / denom if denom else 0.0)
        diffs = np.concatenate(self.abs) if self.abs else None
        nonfinite = self.nonfinite_a + self.nonfinite_b
        sqnr = self.sqnr_db()
        row = {"kind": kind, "name": name, "max_abs": self.max_abs,
                "mean_abs": self.sum_abs / max(self.count, 1),
                "median_abs": None if diffs is None or not diffs.size else float(np.median(diffs)),
                "quantile": quantile,
                "quantile_abs": None if diffs is None or not diffs.size else float(np.quantile(diffs, quantile)),
                "cosine": float(cosine), "sqnr_db": sqnr,
                "top1": (self.top1_same / self.top1_n) if self.top1_n else None,
                "nonfinite": [self.nonfinite_a, self.nonfinite_b], "atol": atol,
                "ok": (atol is None or self.violations == 0) and not (check_finite and nonfinite),
                "violations": self.violations}
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


def tolerance_for(tol, name: str):
    """``tol`` is None, a number, or ``{output or "": number}`` (``""``: every other output)."""
    if isinstance(tol, dict):
        return tol.get(name, tol.get(""))
    return tol


def parse_tolerances(values, option: str):
    """``["1e-3"]`` -> 1e-3; ``["y:1e-3", "1e-2"]`` -> ``{"y": 1e-3, "": 1e-2}``; none -> None."""
    out = {}
    for text in values or ():
        for part in str(text).split(","):
            name, _, number = part.strip().rpartition(":")
            try:
                value = float(number)
            except ValueError:
                value = -1.0
            if not value >= 0:
                raise DataError(f"{opt(option)} '{part}': give a number >= 0, or OUTPUT:NUMBER (e.g. y:1e-3)")
            out[name] = value
    if not out:
        return None
    return out[""] if list(out) == [""] else out


def compare_models(a, b=None, data: Optional[str] = None, random: bool = False, seed: int = 0, samples: int = 8,
                   network: Optional[str] = None, batch_size: int = 32, atol=None, rtol=None,
                   per_layer: bool = False, context: str = "cpu", source=None, reference=None,
                   save_outputs: Optional[str] = None, quantile: float = 0.99, check_finite: bool = False,
                   progress_bar: bool = True, force: bool = False, inputs=(), labels: Optional[str] = None,
                   min_cosine: Optional[float] = None, min_top1: Optional[float] = None,
                   min_sqnr: Optional[float] = None, max_accuracy_drop: Optional[float] = None) -> Dict:
    """Statistics per output (and per common layer): max/mean/median/quantile abs difference, cosine similarity,
    SQNR of b against a in dB (10 log10 sum(a^2) / sum((a-b)^2); None when they are equal), top-1 agreement for
    2-D outputs; ``ok`` is False when a value breaks ``atol + rtol*|a|`` (``atol``, ``rtol``: a
    number or ``{output: number}``) or, with ``check_finite``, when either side has NaN/Inf, or an output
    breaks a threshold (``min_cosine``, ``min_top1``, ``min_sqnr`` in dB, ``max_accuracy_drop`` in percentage
    points). With ``labels`` (see :func:`nnsurgeon.runtime.labels.load_labels`) each model's accuracy.

    ``b``: the other model, or None with ``reference`` (an .npz of outputs saved earlier with ``save_outputs``).
    ``network``: default the one the file's first executor runs.

    Example::

        report = compare_models(load("a.nnp"), load("b.nnp"), random=True, atol=1e-3)
    """
    from .networks import data_network

    if rtol is not None and atol is None:
        raise OptionError(f"{opt('rtol')} needs {opt('atol')}: values are checked against atol + rtol*|a| "
                          f"(give {opt('atol', '0')} for a purely relative tolerance)")
    if max_accuracy_drop is not None and labels is None:
        raise OptionError(f"{opt('max-accuracy-drop')} needs {opt('labels')} (class indices of the input samples)")

    name_a, note = data_network(a, network)
    notes = [note] if note else []
    if b is not None and name_a not in b.network_names:
        raise DataError(f"{b.source}: has no network '{name_a}' (it has {', '.join(b.network_names)}); "
                        f"use {opt('network')}")
    if b is None and reference is None:
        if not save_outputs:
            raise DataError(f"compare needs a second model, or reference outputs ({opt('load-outputs')})")
    na = a.view(name_a)
    nb = b.view(name_a) if b is not None else None
    ref = _reference(reference) if reference is not None else None
    if nb is not None:
        shapes_a, shapes_b = na.input_shapes(), nb.input_shapes()
        if shapes_a != shapes_b:
            raise DataError(f"the models' inputs differ: {shapes_a} vs {shapes_b}")
        outputs = [o for o in na.outputs if o in nb.outputs]
    elif ref is not None:
        outputs = [o for o in na.outputs if o in ref]
        missing = [o for o in na.outputs if o not in ref]
        if missing:
            notes.append(f"{reference}: has no saved values for output(s) {', '.join(missing)}; not compared")
    else:
        outputs = list(na.outputs)
    if not outputs:
        raise DataError("no output name in common; compare needs outputs of the same name"
                        + (f" ({reference} holds {', '.join(ref) or 'nothing'})" if ref is not None else ""))
    layers = []
    if per_layer and nb is not None:
        for f in na.topological():
            if f.name not in nb.functions:
                continue
            for y in f.output:
                if y in nb.variables and y not in outputs and nb.producer(y) is not None:
                    layers.append((f.name, y))
    watch = outputs + [y for _, y in layers]
    run_a = Runner(a, name_a, watch=watch, context=context)
    run_b = Runner(b, name_a, watch=watch, context=context) if nb is not None else None
    stats = {w: Diff(keep=w in outputs) for w in watch}
    label_array, ignore = None, ()
    if labels is not None:
        if random:
            raise OptionError(f"{opt('labels')} belong to given inputs, not to random ones")
        from .labels import load_labels

        label_array, key = load_labels(labels, data)
        ignore = (key,) if key else ()
    if source is None:
        source = in_network(name_a, lambda: open_source(data, run_a.input_shapes, random, seed, samples,
                                                        ignore=ignore))
    if label_array is not None and len(label_array) != source.count:
        raise DataError(f"{labels}: holds {len(label_array)} labels but {data} holds {source.count} samples")
    notes.extend(getattr(source, "notes", []))
    total = -(-source.count // batch_size)
    saved: Dict[str, list] = {o: [] for o in outputs} if save_outputs else {}
    done = 0
    for batch in progress(in_network_iter(name_a, source.batches(batch_size)), total, f"comparing {name_a}",
                          progress_bar):
        check_interrupted()
        va = run_a.run(batch)
        n = len(next(iter(va.values())))
        for o in saved:
            saved[o].append(va[o])
        if run_b is not None:
            vb = run_b.run(batch)
        elif ref is not None:
            vb = {}
            for o in outputs:
                part = ref[o][done:done + n]
                if part.shape != va[o].shape:
                    raise DataError(f"{reference}: output '{o}' holds {len(ref[o])} sample(s) of shape "
                                    f"{tuple(ref[o].shape[1:])}; this run has {done + n} so far of "
                                    f"{tuple(va[o].shape[1:])}: give the same inputs as when it was saved")
                vb[o] = part
        else:
            vb = None
        done += n
        if vb is not None:
            part = None if label_array is None else label_array[done - n:done]
            for w in watch:
                stats[w].update(va[w], vb[w], tolerance_for(atol, w), tolerance_for(rtol, w),
                                labels=part if w in outputs else None)
    if ref is not None:
        short = [o for o in outputs if len(ref[o]) != done]
        if short:
            raise DataError(f"{reference}: holds {len(ref[short[0]])} sample(s) for '{short[0]}', this run has "
                            f"{done}: give the same inputs as when it was saved")
    if save_outputs:
        from ..model.output import atomic_file

        with atomic_file(save_outputs, inputs=[a.source] + ([b.source] if b is not None else []) + list(inputs),
                         force=force, extensions=(".npz",)) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **{o: np.concatenate(v) for o, v in saved.items()})
        notes.append(f"saved {len(saved)} output(s) of {done} sample(s) to {save_outputs}")
    compared = vb is not None if done else (run_b is not None or ref is not None)
    report = {"network": name_a, "notes": notes, "samples": done,
              "outputs": [stats[o].report("output", o, tolerance_for(atol, o), quantile, check_finite)
                          for o in outputs] if compared else [],
              "layers": [dict(stats[y].report("layer", f"{fname}:{y}", tolerance_for(atol, y), quantile,
                                              check_finite), function=fname) for fname, y in layers]}
    if label_array is not None and compared and not any("accuracy_a" in r for r in report["outputs"]):
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
    limits = "" if atol is None else f" (atol={_tol_text(atol)}, rtol={_tol_text(rtol or 0)})"
    if not compared:
        report["summary"] = f"ran {done} sample(s); nothing to compare with"
    elif report["ok"]:
        report["summary"] = f"{len(outputs)} output(s) compared on {done} sample(s)" + (
            "" if atol is None else f", all within{limits}") + (", all finite" if check_finite else "")
        accs = [r for r in report["outputs"] if "accuracy_a" in r]
        if accs:
            report["summary"] += "; " + ", ".join(
                f"{r['name']} accuracy {100 * r['accuracy_a']:.2f}% -> {100 * r['accuracy_b']:.2f}% "
                f"(drop {r['accuracy_drop']:.2f} pt)" for r in accs)
    elif broken and atol is None and first_bad is None and len(broken) == len(bad_outputs):
        report["summary"] = "outputs break the thresholds: " + "; ".join(
            f"{name}: {', '.join(items)}" for name, items in broken.items())
    else:
        nonfinite = [r["name"] for r in report["outputs"] if check_finite and sum(r["nonfinite"])]
        where = f"; first layer over the threshold: {first_bad['function']}" if first_bad else ""
        extra = ("; " + "; ".join(f"{name}: {', '.join(items)}" for name, items in broken.items())) if broken else ""
        report["summary"] = (f"outputs over the threshold{limits}: {', '.join(bad_outputs) or 'none'}{where}"
                             + (f"; NaN/Inf in {', '.join(nonfinite)}" if nonfinite else "") + extra)
    return report


def _tol_text(tol) -> str:
    if isinstance(tol, dict):
        return ",".join(f"{k}:{v:g}" if k else f"{v:g}" for k, v in tol.items())
    return f"{tol:g}" if isinstance(tol, float) else str(tol)


def _reference(path: str) -> Dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read saved outputs ({e}); give an .npz written by {opt('save-outputs')}") from None
