"""auto-exclude: keep the quantizers that cost the most at float (or at ``fallback-bits``), worst first, until
the quantized network meets its target (``min-sqnr`` in dB and/or ``max-accuracy-drop`` in percentage points,
measured against the float network on ``eval-input``, default the calibration data).

Called by the quantize pass between calibration and rewrite, with the calibrated changes. The variants of
:mod:`nnsurgeon.runtime.sensitivity` serve every measurement: all quantizers on, then each alone (the
ranking, one sweep of N+2 passes over the data: float, all, each alone; by accuracy drop when the target is
one, else by SQNR), then one measurement (2 passes: float and trial) per quantizer kept, greedily in
ranking order, stopping as soon as the target holds. The ranking is fixed after the first sweep: keeping a
quantizer at float does not always raise the SQNR (quantization errors of different layers can partly
cancel), which the notes show. Kept quantizers are dropped from the changes (float) or marked
with their bits (fallback); the notes say what was kept and why.
"""
from typing import Dict, List

from ..errors import OptionError, opt
from .data import DataSource
from .labels import load_labels
from .sensitivity import Evaluator, Variants, added_functions, badness, find_quantizers, meets


def _text(m: Dict) -> str:
    parts = ["SQNR " + ("identical" if m["sqnr_db"] is None else f"{m['sqnr_db']:.2f} dB")]
    if m["accuracy_drop"] is not None:
        parts.append(f"accuracy drop {m['accuracy_drop']:.2f} pt")
    return ", ".join(parts)


def auto_exclude(p, model, matched: Dict, opts, ctx) -> None:
    """Decide which of ``matched``'s changes stay float (removed) or go to ``fallback_bits`` (record["bits"]);
    ``p`` is the quantize pass (its ``rewrite`` builds the trial models). Notes go to ``ctx.notes``."""
    nets = [n for n, (_, changes) in matched.items() if changes]
    if not nets:
        return
    if len(nets) > 1:
        raise OptionError(f"{opt('auto-exclude')} measures one network, but the selection is in "
                          f"{', '.join(nets)}: choose one with {opt('networks')}")
    network = nets[0]
    changes = matched[network][1]

    scratch = p.rewritten_copy(model, network, changes, opts)
    fallback = None
    if opts.fallback_bits is not None:  # the same quantizers, every one at the fallback precision
        before = [c.record.get("bits") for c in changes]
        for c in changes:
            p.set_bits(c, opts.fallback_bits, opts)
        fallback = p.rewritten_copy(model, network, changes, opts)
        for c, bits in zip(changes, before):
            p.set_bits(c, bits, opts)
    quantizers = find_quantizers(scratch, network, added_functions(model, scratch, network))
    by_output = {c.record["output"]: c for c in changes}  # a weight's record names the weight: its input
    variants = Variants(scratch, network, quantizers, fallback)
    data = opts.eval_input or opts.calibrate
    labels, key = load_labels(opts.labels, data) if opts.labels else (None, None)
    source = DataSource(data, variants.base.view(network).input_shapes(), ignore=(key,) if key else ())
    evaluator = Evaluator(variants, source, opts.batch_size, labels, opts.context, ctx.progress)
    names = [q.name for q in quantizers]
    state = {n: "on" for n in names}
    results = evaluator.run([dict(state)] + [{n: "on"} for n in names], "auto-exclude: ranking")
    fa = evaluator.float_accuracy
    current = results[0].metrics(fa)
    target = ", ".join(t for t in (f"SQNR >= {opts.min_sqnr:g} dB" if opts.min_sqnr is not None else "",
                                   f"accuracy drop <= {opts.max_accuracy_drop:g} pt"
                                   if opts.max_accuracy_drop is not None else "") if t)
    if meets(current, opts.min_sqnr, opts.max_accuracy_drop):
        ctx.notes.append(f"auto-exclude: every quantizer kept ({_text(current)}; target {target})")
        return
    alone = {n: r.metrics(fa) for n, r in zip(names, results[1:])}
    ranking = sorted(names, key=lambda n: badness(alone[n], opts.max_accuracy_drop is not None))
    alt = "fallback" if fallback is not None else "off"
    where = "float" if fallback is None else f"{opts.fallback_bits} bits"
    kept: List[str] = []
    for n in ranking:
        state[n] = alt
        kept.append(n)
        current = evaluator.run([dict(state)], "auto-exclude")[0].metrics(fa)
        q = next(q for q in quantizers if q.name == n)
        reason = f"alone it gives {_text(alone[n])}; with it at {where}: {_text(current)}"
        change = by_output.get(q.output) or by_output.get(q.input)
        ctx.notes.append(f"auto-exclude: kept {change.record['after'] if change else q.after} at {where} ({reason})")
        if change is not None:
            change.record["auto_exclude"] = reason
        if meets(current, opts.min_sqnr, opts.max_accuracy_drop):
            break
    met = meets(current, opts.min_sqnr, opts.max_accuracy_drop)
    ctx.notes.append(f"auto-exclude: target {target} {'met' if met else 'NOT met'} with {len(kept)} of "
                     f"{len(names)} quantizer(s) at {where} ({_text(current)}); {evaluator.passes} forward "
                     "pass(es) over the evaluation data")
    chosen = {id(c) for q in quantizers if q.name in kept
              for c in [by_output.get(q.output) or by_output.get(q.input)] if c is not None}
    if fallback is None:
        changes[:] = [c for c in changes if id(c) not in chosen]
    else:
        for c in changes:
            if id(c) in chosen:
                p.set_bits(c, opts.fallback_bits, opts)

