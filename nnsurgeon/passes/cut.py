"""cut: make the outputs of chosen functions the network's outputs and drop everything not needed to
compute them (e.g. a feature extractor cut from a classifier).

Executors of the network then output the new outputs. Inputs no longer needed are dropped, from the network
and from its executors. An optimizer or monitor that names a variable the cut removes makes it an error:
cut another network, or remove that optimizer's network first.
"""
from typing import Sequence

from ..errors import SelectionError
from ..rules import Selector, select
from .base import PassResult
from .common import drop_parameters_no_longer_used, references, used_parameters


def cut(model, names: Sequence[str] = (), types: Sequence[str] = (), exclude: Sequence[str] = (),
        networks: Sequence[str] = (), allow_empty: bool = False, dry_run: bool = False) -> PassResult:
    """Cut the networks of ``model`` at the selected functions, in place.

    Example::

        cut(model, names=["@Runtime/ReLU_3"], networks=["Runtime"])
    """
    if not names and not types:
        raise SelectionError("cut: say where to cut with names and/or types")
    selection = select(model, Selector(list(types), list(names), list(exclude), list(networks)), allow_empty)
    result = PassResult("cut")
    before = used_parameters(model)
    for net_name, (net, chosen) in selection.items():
        outputs = [y for f in chosen for y in f.output]
        needed, stack = set(), list(outputs)
        keep = set()
        while stack:
            v = stack.pop()
            if v in needed:
                continue
            needed.add(v)
            use = net.producer(v)
            if use is not None:
                keep.add(use[0].name)
                stack.extend(use[0].input)
        drop = {f.name for f in net.proto.function if f.name not in keep}
        result.records.append({"network": net_name, "outputs": outputs, "kept": len(keep), "dropped": len(drop)})
        if dry_run:
            continue
        for kind, item, field, ref in references(model, net_name):
            if kind != "executor" and field != "parameter_variable" and ref.variable_name not in needed:
                raise SelectionError(
                    f"cut: {kind} '{item.name}' uses '{ref.variable_name}' of network '{net_name}', which the cut "
                    "removes; cut another network or drop that " + kind)
        net.remove_functions(drop)
        # the chosen outputs may still feed kept functions; a network output must have no consumer, so those
        # keep their role and the executors name them explicitly
        net.prune_variables()
        remaining = set(net.variables)
        for e in model.proto.executor:
            if e.network_name != net_name:
                continue
            for ref in [r for r in e.data_variable if r.variable_name not in remaining]:
                e.data_variable.remove(ref)
            del e.output_variable[:]
            for y in outputs:
                e.output_variable.add(variable_name=y, data_name=y)
    if not dry_run:
        drop_parameters_no_longer_used(model, before)
    result.changed = bool(result.records) and not dry_run
    total = sum(r["dropped"] for r in result.records)
    result.summary = f"{'would cut' if dry_run else 'cut'} {len(result.records)} network(s), dropping {total} function(s)"
    return result
