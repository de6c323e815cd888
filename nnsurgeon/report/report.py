"""The report: one self-contained HTML page about a model (and, with ``against``, about what changed and where
the error comes from).

- The graph (see :mod:`.graph_page`): function nodes, quantizer badges, top to bottom.
- With ``against`` (the original model): a diff by stable name (functions added, removed, with changed type
  or arguments) and, given data, per-layer error from :func:`nnsurgeon.runtime.compare.compare_models` with
  ``per_layer=True``: the same numbers ``nnsurgeon compare --per-layer`` prints. Nodes are coloured by
  ``1 - cosine`` or by SQNR (drawn as the noise-to-signal ratio ``10^(-SQNR/10)``), both on a log scale.
  The *jump* is the first layer, in network order, whose error is at least :data:`JUMP` times every error
  before it (and above :data:`FLOOR`); when no layer jumps that much, the layer with the largest step.
- Given data: per node the histogram of its output over the first batch, a feature-map thumbnail of the
  first sample and, for quantizers, the histogram of their input against the calibrated range.
- A summary table: models, networks, function counts, quantizers, top-1 agreement and, with labels, accuracy.
"""
import base64
import math
import os
from collections import Counter
from typing import Dict, List, Optional

import numpy as np

from ..errors import DataError
from .graph_page import COLLAPSE_ABOVE, element_count, graph_data, page, views_of

JUMP = 10.0
FLOOR = 1e-7  # 1 - cosine below this is float32 noise
HIST_BINS = 48
HIST_SAMPLES = 8
METRICS = ("cosine", "sqnr")


def error_value(row: dict, metric: str) -> Optional[float]:
    """A compare row's error on the scale the colours use: ``1 - cosine``, or ``10^(-SQNR/10)``."""
    if metric == "cosine":
        return max(1.0 - float(row["cosine"]), 0.0)
    return 0.0 if row.get("sqnr_db") is None else float(10.0 ** (-row["sqnr_db"] / 10.0))


def find_jump(errors: List[float]) -> Optional[int]:
    """Index of the first error at least JUMP times every earlier one (and above FLOOR); else of the
    largest step up; None when nothing rises above FLOOR."""
    best, best_ratio, before = None, 1.0, FLOOR
    for i, e in enumerate(errors):
        if e > FLOOR:
            ratio = e / before
            if ratio >= JUMP:
                return i
            if ratio > best_ratio:
                best, best_ratio = i, ratio
        before = max(before, e)
    return best


def _colours(values: Dict[str, float], metric: str):
    """Colours on a log scale with matplotlib's YlOrRd, and the legend that explains them."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["YlOrRd"]
    positive = [v for v in values.values() if v > 0]
    hi = max(positive) if positive else 1.0
    lo = max(min(positive) if positive else hi / 10, hi * 1e-6, 1e-12)
    if hi / lo < 10:
        lo = hi / 10
    span = math.log10(hi) - math.log10(lo)

    def pos(v):
        return 0.0 if v <= lo else min((math.log10(v) - math.log10(lo)) / span, 1.0)

    colours = {k: to_hex(cmap(0.08 + 0.92 * pos(v))) for k, v in values.items()}
    stops = [to_hex(cmap(0.08 + 0.92 * t)) for t in np.linspace(0, 1, 9)]
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        v = 10.0 ** e
        if lo <= v <= hi:
            ticks.append({"pos": pos(v), "label": f"1e{e}" if metric == "cosine" else f"{-10 * e:g} dB"})
    for v, p in ((lo, 0.0), (hi, 1.0)):
        if all(abs(t["pos"] - p) > 0.2 for t in ticks):
            ticks.append({"pos": p, "label": f"{v:.1e}" if metric == "cosine" else f"{-10 * math.log10(v):.1f} dB"})
    title = "1 - cosine (log scale)" if metric == "cosine" else "SQNR, dB (log scale of noise/signal)"
    return colours, {"title": title, "stops": stops, "ticks": ticks,
                     "lo": lo, "hi": hi, "metric": metric}


def _args_diff(old: dict, new: dict) -> List[dict]:
    return [{"arg": k, "old": old.get(k), "new": new.get(k)} for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]


def diff_models(data: Dict, original_data: Dict) -> Dict:
    """Functions added, removed and changed (type or arguments) between two graphs' data, by stable name."""
    def everything(d):
        out = {n["name"]: (n["type"], n["args"]) for n in d["nodes"]}
        for b in d["badges"]:
            for f in b["functions"]:
                out[f] = (b["type"], b["args"].get(f, {}))
        return out

    new, old = everything(data), everything(original_data)
    changed = []
    for name in new:
        if name in old:
            if new[name][0] != old[name][0]:
                changed.append({"name": name, "changes": [{"arg": "type", "old": old[name][0], "new": new[name][0]}]})
            elif new[name][1] != old[name][1]:
                changed.append({"name": name, "changes": _args_diff(old[name][1], new[name][1])})
    return {"added": [{"name": k, "type": v[0]} for k, v in new.items() if k not in old],
            "removed": [{"name": k, "type": v[0]} for k, v in old.items() if k not in new],
            "changed": changed}


def _histogram(values: np.ndarray, rng=None) -> dict:
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"counts": [], "lo": 0.0, "hi": 0.0}
    lo, hi = float(v.min()), float(v.max())
    if rng is not None:
        lo, hi = min(lo, rng[0]), max(hi, rng[1])
    if hi <= lo:
        hi = lo + 1e-6
    counts, _ = np.histogram(v, bins=HIST_BINS, range=(lo, hi))
    out = {"counts": counts.tolist(), "lo": lo, "hi": hi, "min": float(v.min()), "max": float(v.max())}
    if rng is not None:
        out["outside"] = float(((v < rng[0]) | (v > rng[1])).mean())
    return out


def _load_labels(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise DataError(f"--labels {path}: no such file; give a .npy or a text file of class indices, one per sample")
    try:
        labels = np.load(path, allow_pickle=False) if path.endswith(".npy") else np.loadtxt(path, ndmin=1)
    except (ValueError, OSError) as e:
        raise DataError(f"--labels {path}: cannot read class indices ({e})") from None
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0 or not np.all(np.equal(np.mod(labels, 1), 0)):
        raise DataError(f"--labels {path}: needs integer class indices, one per sample")
    return labels.astype(np.int64)


def _accuracy(model, network: str, source, labels: np.ndarray, batch_size: int, context: str) -> Dict:
    from ..runtime.runner import Runner

    runner = Runner(model, network, context=context)
    scores = list(runner.output_names)
    runner.watch = scores
    preds: Dict[str, list] = {o: [] for o in scores}
    seen = 0
    for batch in source.batches(batch_size):
        values = runner.run(batch)
        for o in scores:
            preds[o].append(values[o].reshape(len(values[o]), -1).argmax(1))
        seen += len(values[scores[0]])
    if seen != labels.size:
        raise DataError(f"--labels holds {labels.size} label(s) for {seen} sample(s); give one per sample")
    out = {}
    for o in scores:
        p = np.concatenate(preds[o])
        out[o] = float((p == labels).mean())
    return out


def build_report(model, against=None, data: Optional[str] = None, random: bool = False, seed: int = 0,
                 samples: int = 8, network: Optional[str] = None, labels: Optional[str] = None,
                 batch_size: int = 32, metric: str = "cosine", context: str = "cpu") -> Dict:
    """Everything the page shows, as data: ``payload`` (JSON for the page), ``views`` (DOT per view) and
    ``summary`` (a line for the CLI). ``model``/``against`` are loaded models (``nnsurgeon.api.load``).

    Example::

        r = build_report(load("m.q.nnp"), against=load("m.nnp"), random=True)
        open("report.html", "w").write(render(r))
    """
    from ..graph.network import Network

    if metric not in METRICS:
        raise DataError(f"--metric '{metric}': choose one of {', '.join(METRICS)}")
    net_name = model.network(network).name
    net = Network(model.network(net_name), model.source)
    data_g = graph_data(model, net)
    style: Dict[str, dict] = {}
    payload: Dict = {"title": os.path.basename(model.source) or "model", "network": net_name, "graph": data_g,
                     "collapse_above": COLLAPSE_ABOVE}
    counts = element_count(data_g)
    by_name = {n["name"]: n for n in data_g["nodes"]}
    models = [{"role": "model", "file": model.source, "networks": model.network_names,
               "functions": counts["functions"], "parameters": model.parameter_count()}]
    original = None
    if against is not None:
        if net_name not in against.network_names:
            raise DataError(f"{against.source}: has no network '{net_name}' (it has "
                            f"{', '.join(against.network_names)}); use --network")
        original = Network(against.network(net_name), against.source)
        odata = graph_data(against, original)
        diff = diff_models(data_g, odata)
        payload["diff"] = diff
        for c in diff["changed"]:
            if c["name"] in by_name:
                style.setdefault(by_name[c["name"]]["id"], {}).update(pen="#ea580c", classes=["changed"])
        for a in diff["added"]:
            if a["name"] in by_name:
                style.setdefault(by_name[a["name"]]["id"], {}).update(pen="#16a34a", classes=["added"])
        ocount = element_count(odata)
        models.append({"role": "original", "file": against.source, "networks": against.network_names,
                       "functions": ocount["functions"], "parameters": against.parameter_count()})
    with_data = bool(data) or random
    if labels and not with_data:
        raise DataError("--labels needs --input DATA (the samples the labels belong to)")
    notes = []
    if with_data:
        source_kwargs = dict(data=data, random=random, seed=seed, samples=samples)
        _activations(model, net_name, data_g, payload, source_kwargs, context)
        if against is not None:
            from ..runtime.compare import compare_models

            rep = compare_models(against, model, network=net_name, batch_size=batch_size, per_layer=True,
                                 context=context, **source_kwargs)
            _errors(rep, data_g, payload, style, metric)
        if labels:
            from ..runtime.data import open_source

            shapes = net.input_shapes()
            lab = _load_labels(labels)
            acc = {"model": _accuracy(model, net_name, open_source(data, shapes, random, seed, samples),
                                      lab, batch_size, context)}
            if against is not None:
                acc["original"] = _accuracy(against, net_name, open_source(data, shapes, random, seed, samples),
                                            lab, batch_size, context)
            payload["accuracy"] = acc
    else:
        notes.append("no data given: add --random or --input DATA for histograms, thumbnails"
                     + (" and per-layer error" if against is not None else ""))
    kinds = Counter(b["mode"] for b in data_g["badges"])
    types = Counter(n["type"] for n in data_g["nodes"])
    payload["summary"] = {"models": models, "network": net_name, "nodes": counts["nodes"],
                          "badges": counts["badges"], "functions": counts["functions"],
                          "quantizers": dict(kinds), "types": dict(types.most_common()), "notes": notes}
    views = views_of(data_g, style)
    payload["views"] = list(views)
    line = (f"report of network '{net_name}': {counts['nodes']} function node(s), {counts['badges']} quantizer(s)"
            + (f", {len(payload['diff']['added'])} added / {len(payload['diff']['removed'])} removed / "
               f"{len(payload['diff']['changed'])} changed" if "diff" in payload else "")
            + (f", error jumps at {payload['errors']['jump']}" if payload.get("errors", {}).get("jump") else ""))
    return {"payload": payload, "views": views, "summary": line}


def _activations(model, net_name: str, data_g: Dict, payload: Dict, source_kwargs: Dict, context: str) -> None:
    """Histograms (every node output, every quantizer input) and thumbnails from the first batch."""
    from ..runtime.data import open_source
    from ..runtime.runner import Runner
    from .featuremaps import thumbnail_png

    watch = [n["outputs"][0]["name"] for n in data_g["nodes"] if n["outputs"]]
    watch += [b["input"] for b in data_g["badges"]]
    watch = list(dict.fromkeys(watch))
    runner = Runner(model, net_name, watch=watch, context=context)
    source = open_source(source_kwargs["data"], runner.input_shapes, source_kwargs["random"],
                         source_kwargs["seed"], source_kwargs["samples"])
    batch = next(iter(source.batches(HIST_SAMPLES)))
    values = runner.run(batch)
    batched = bool(batch)  # a network with no data input has one unbatched value per variable
    hist, thumbs = {}, {}
    draw_thumbs = len(data_g["nodes"]) <= COLLAPSE_ABOVE
    for n in data_g["nodes"]:
        if not n["outputs"] or n["outputs"][0]["name"] not in values:
            continue
        v = values[n["outputs"][0]["name"]]
        hist[n["id"]] = _histogram(v)
        first = v[0] if batched else v
        if draw_thumbs and 1 <= first.ndim <= 3:
            png = thumbnail_png(first)
            thumbs[n["id"]] = "data:image/png;base64," + base64.b64encode(png).decode()
    for b in data_g["badges"]:
        hist[b["id"]] = _histogram(values[b["input"]], b["range"])
    payload["hist"] = hist
    payload["thumbs"] = thumbs
    payload["samples"] = int(len(next(iter(batch.values())))) if batched else 1


def _errors(rep: Dict, data_g: Dict, payload: Dict, style: Dict[str, dict], metric: str) -> None:
    by_name = {n["name"]: n for n in data_g["nodes"]}
    producer = {o["name"]: n["name"] for n in data_g["nodes"] for o in n["outputs"]}
    for b in data_g["badges"]:  # a quantized network output: the function before the quantizer
        if b["input"] in producer:
            producer[b["output"]] = producer[b["input"]]
    rows = [r for r in rep["layers"] if r["function"] in by_name]
    rows += [dict(r, function=producer[r["name"]]) for r in rep["outputs"] if r["name"] in producer]
    order = {n["name"]: n["index"] for n in data_g["nodes"]}
    rows.sort(key=lambda r: order[r["function"]])
    values = {by_name[r["function"]]["id"]: error_value(r, metric) for r in rows}
    if not values:
        return
    colours, legend = _colours(values, metric)
    ordered = [(by_name[r["function"]]["id"], values[by_name[r["function"]]["id"]]) for r in rows]
    j = find_jump([v for _, v in ordered])
    jump = ordered[j][0] if j is not None else None
    for nid, colour in colours.items():
        s = style.setdefault(nid, {})
        s["fill"] = colour
    if jump:
        s = style.setdefault(jump, {})
        s.update(pen="#7f1d1d", penwidth=4)
        s.setdefault("classes", []).append("jump")
    payload["errors"] = {
        "metric": metric, "legend": legend,
        "layers": {by_name[r["function"]]["id"]: {"cosine": r["cosine"], "sqnr_db": r["sqnr_db"],
                                                  "max_abs": r["max_abs"], "mean_abs": r["mean_abs"],
                                                  "value": values[by_name[r["function"]]["id"]]} for r in rows},
        "jump": next((n["name"] for n in data_g["nodes"] if n["id"] == jump), None), "jump_id": jump,
        "outputs": rep["outputs"], "network": rep["network"]}


def render(report: Dict) -> str:
    """The HTML text of a :func:`build_report` result."""
    return page(f"nnsurgeon report: {report['payload']['title']}", report["payload"], report["views"])
