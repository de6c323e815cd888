"""expect: checks after a recipe's steps. ``counts``: number of functions of each type (in ``network``, or
summed over every network); ``compare``: the result against the original model on given or random inputs:
every value within ``atol`` + ``rtol``*|original| (when atol is given), cosine similarity of each output at
least ``min-cosine``, top-1 agreement of classifier outputs at least ``min-top1``, output SQNR at least
``min-sqnr`` dB, and with ``labels`` the accuracy drop at most ``max-accuracy-drop`` percentage points (the
thresholds are :func:`nnsurgeon.runtime.compare.check_thresholds`, as ``nnsurgeon compare`` applies them)."""
import os
from collections import Counter
from typing import Dict, List


def check_expectations(original, model, expect: Dict, base_dir: str = ".") -> List[Dict]:
    """One dict per check: ``{"check", "ok", "detail"}``."""
    checks = []
    network = expect.get("network")
    nets = [model.network(network)] if network else list(model.proto.network)
    counts = Counter(f.type for net in nets for f in net.function)
    for type_name, want in (expect.get("counts") or {}).items():
        got = counts.get(type_name, 0)
        checks.append({"check": f"count {type_name}", "ok": got == want,
                       "detail": f"{got} (expected {want})" + (f" in network {network}" if network else "")})
    compare = expect.get("compare")
    if compare:
        from .runtime.compare import compare_models

        data = compare.get("input")
        if data and not os.path.isabs(data):
            data = os.path.join(base_dir, data)
        labels = compare.get("labels")
        if labels and not os.path.isabs(labels) and os.path.exists(os.path.join(base_dir, labels)):
            labels = os.path.join(base_dir, labels)
        limits = {k.replace("-", "_"): compare.get(k) for k in ("min-cosine", "min-top1", "min-sqnr",
                                                                 "max-accuracy-drop")}
        report = compare_models(original, model, data=data, random=bool(compare.get("random")),
                                seed=compare.get("seed", 0), samples=compare.get("samples", 8), network=network,
                                batch_size=compare.get("batch-size", 32), atol=compare.get("atol"),
                                rtol=compare.get("rtol"), labels=labels, **limits)
        for r in report["outputs"]:
            given = [f"atol {compare['atol']} rtol {compare.get('rtol', 0)}" if "atol" in compare else ""]
            given += [f"{k.replace('_', '-')} {v}" for k, v in limits.items() if v is not None]
            top1 = "" if r["top1"] is None else f", top1 {r['top1']:.4f}"
            sqnr = "identical" if r["sqnr_db"] is None else f"{r['sqnr_db']:.2f} dB"
            acc = f", accuracy drop {r['accuracy_drop']:.2f} pt" if "accuracy_drop" in r else ""
            checks.append({"check": f"compare {r['name']}", "ok": r["ok"],
                           "detail": f"max_abs {r['max_abs']:.3g}, cosine {r['cosine']:.6f}{top1}, SQNR {sqnr}{acc}; "
                                     + ", ".join(x for x in given if x)})
    return checks
