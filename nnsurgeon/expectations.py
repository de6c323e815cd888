"""expect: checks after a recipe's steps. ``counts``: number of functions of each type (in ``network``, or
summed over every network); ``compare``: the result against the original model on given or random inputs:
every value within ``atol`` + ``rtol``*|original| (when atol is given), cosine similarity of each output at
least ``min-cosine``, top-1 agreement of classifier outputs at least ``min-top1``."""
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
        report = compare_models(original, model, data=data, random=bool(compare.get("random")),
                                seed=compare.get("seed", 0), samples=compare.get("samples", 8), network=network,
                                batch_size=compare.get("batch-size", 32), atol=compare.get("atol"),
                                rtol=compare.get("rtol"))
        min_cos, min_top1 = compare.get("min-cosine"), compare.get("min-top1")
        for r in report["outputs"]:
            ok = r["ok"] and (min_cos is None or r["cosine"] >= min_cos) and \
                (min_top1 is None or r["top1"] is None or r["top1"] >= min_top1)
            limits = [f"atol {compare['atol']} rtol {compare.get('rtol', 0)}" if "atol" in compare else "",
                      f"min-cosine {min_cos}" if min_cos is not None else "",
                      f"min-top1 {min_top1}" if min_top1 is not None else ""]
            top1 = "" if r["top1"] is None else f", top1 {r['top1']:.4f}"
            checks.append({"check": f"compare {r['name']}", "ok": ok,
                           "detail": f"max_abs {r['max_abs']:.3g}, cosine {r['cosine']:.6f}{top1}; "
                                     + ", ".join(x for x in limits if x)})
    return checks
