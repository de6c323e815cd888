"""cut: make the outputs of chosen functions the network's outputs and drop everything not needed to
compute them (e.g. a feature extractor cut from a classifier).

Executors of the network then output the new outputs. Inputs no longer needed are dropped, from the network
and from its executors. An optimizer or monitor that names a variable the cut removes makes it an error:
cut another network, or remove that optimizer's network first.
"""
from typing import List

from ..errors import SelectionError
from ..graph.network import Network
from .base import Change, Pass
from .common import references
from .options import SELECT


class Cut(Pass):
    name = "cut"
    help = "Make the chosen functions' outputs the network's outputs and drop everything not needed for them."
    verbs = ("cut", "would cut")
    noun = "network"
    options = SELECT
    prunes = True
    required = (("types", "names"),)

    def match(self, model, net: Network, functions, opts, notes) -> List[Change]:
        outputs = [y for f in functions for y in f.output]
        needed, keep = net.upstream(outputs)
        drop = {f.name for f in net.proto.function if f.name not in keep}
        for kind, item, field, ref in references(model, net.name):
            if kind != "executor" and field != "parameter_variable" and ref.variable_name not in needed:
                raise SelectionError(
                    f"{kind} '{item.name}' uses '{ref.variable_name}' of network '{net.name}', which the cut "
                    "removes; cut another network or drop that " + kind)
        return [Change({"network": net.name, "outputs": outputs, "kept": len(keep), "dropped": len(drop)}, drop)]

    def rewrite(self, model, net: Network, changes: List[Change], opts) -> None:
        (change,) = changes
        outputs = change.record["outputs"]
        net.remove_functions(change.data)
        # the chosen outputs may still feed kept functions; a network output must have no consumer, so those
        # keep their role and the executors name them explicitly
        net.prune_variables()
        remaining = set(net.variables)
        for e in model.proto.executor:
            if e.network_name != net.name:
                continue
            for ref in [r for r in e.data_variable if r.variable_name not in remaining]:
                e.data_variable.remove(ref)
            del e.output_variable[:]
            for y in outputs:
                e.output_variable.add(variable_name=y, data_name=y)

    def details(self, opts, ctx, result) -> str:
        return f"dropping {sum(r['dropped'] for r in result.records)} function(s)"
