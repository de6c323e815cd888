"""expect: checks after a recipe's steps. ``counts``: number of functions of each type (in ``network``, or
summed over every network); ``compare``: the result against the original model on given or random inputs:
every value within ``atol`` + ``rtol``*|original| (when atol is given), cosine similarity of each output at
least ``min-cosine``, top-1 agreement of classifier outputs at least ``min-top1``, output SQNR at least
``min-sqnr`` dB, and with ``labels`` the accuracy drop at most ``max-accuracy-drop`` percentage points (the
thresholds are :func:`nnsurgeon.runtime.compare.check_thresholds`, as ``nnsurgeon compare`` applies them)."""
import os
from collections import Counter
from typing import Dict, List, Sequence


def check_expectations(original, model, expect: Dict, base_dir: str = ".", networks: Sequence[str] = ()) -> List[Dict]:
    """One dict per check: ``{"check", "ok", "detail"}``. The checks look at ``expect``'s ``network``, else at the
    recipe's ``networks`` (every network for counts and the first executor's network for compare when neither
    is given)."""
    checks = []
    network = expect.get("network")
    scope = [network] if network else list(networks)
    nets = [model.network(n) for n in scope] if scope else list(model.proto.network)
    where = f" in network {', '.join(scope)}" if scope else ""
    counts = Counter(f.type for net in nets for f in net.function)
    for type_name, want in (expect.get("counts") or {}).items():
        got = counts.get(type_name, 0)
        checks.append({"check": f"count {type_name}", "ok": got == want,
                       "detail": f"{got} (expected {want}){where}"})
    compare = expect.get("compare")
    for net in (scope or [None]) if compare else ():
        checks.extend(_compare_checks(original, model, compare, base_dir, net, len(scope) > 1))
    return checks


def _compare_checks(original, model, compare: Dict, base_dir: str, network, name_network: bool) -> List[Dict]:
    from .runtime.compare import compare_models

    checks = []
    if compare:
        data = compare.get("input")
        if data and not os.path.isabs(data):
            data = os.path.join(base_dir, data)
        atol, rtol = compare.get("atol"), compare.get("rtol")
        if compare.get("output-atol"):
            atol = dict(compare["output-atol"], **({"": atol} if atol is not None else {}))
        if compare.get("output-rtol"):
            rtol = dict(compare["output-rtol"], **({"": rtol} if rtol is not None else {}))
        labels = compare.get("labels")
        if labels and not os.path.isabs(labels) and os.path.exists(os.path.join(base_dir, labels)):
            labels = os.path.join(base_dir, labels)
        limits = {k.replace("-", "_"): compare.get(k) for k in ("min-cosine", "min-top1", "min-sqnr",
                                                                 "max-accuracy-drop")}
        report = compare_models(original, model, data=data, random=bool(compare.get("random")),
                                seed=compare.get("seed", 0), samples=compare.get("samples", 8), network=network,
                                batch_size=compare.get("batch-size", 32), atol=atol, rtol=rtol,
                                quantile=compare.get("quantile", 0.99), check_finite=bool(compare.get("check-finite")),
                                progress_bar=False, labels=labels, **limits)
        prefix = f"{report['network']}:" if name_network else ""
        for r in report["outputs"]:
            given = [f"atol {r['atol']} rtol {compare.get('rtol', 0)}" if r["atol"] is not None else "",
                     "finite" if compare.get("check-finite") else ""]
            given += [f"{k.replace('_', '-')} {v}" for k, v in limits.items() if v is not None]
            top1 = "" if r["top1"] is None else f", top1 {r['top1']:.4f}"
            sqnr = "identical" if r["sqnr_db"] is None else f"{r['sqnr_db']:.2f} dB"
            acc = f", accuracy drop {r['accuracy_drop']:.2f} pt" if "accuracy_drop" in r else ""
            nonfinite = f", {sum(r['nonfinite'])} NaN/Inf" if sum(r["nonfinite"]) else ""
            checks.append({"check": f"compare {prefix}{r['name']}", "ok": r["ok"],
                           "detail": f"max_abs {r['max_abs']:.3g}, median_abs {r['median_abs']:.3g}, "
                                     f"cosine {r['cosine']:.6f}{top1}, SQNR {sqnr}{acc}{nonfinite}; "
                                     + ", ".join(x for x in given if x)})
    return checks
