"""remove: drop functions (Dropout, ImageAugmentation, ... by type or name) and let every consumer read the
function's data input instead.

A removed function must have one output whose shape equals its first input's (the batch dimension aside),
so the graph stays valid. When its output is a network output or named by an executor/optimizer/monitor,
the input variable takes the output's name, so those keep working; that is refused when the input is a
network input that executors feed by name.
"""
from typing import List

from ..errors import SelectionError
from ..graph.network import Network
from .base import Change, Pass
from .common import referenced_variables
from .options import SELECT


def _same_shape(a, b) -> bool:
    return list(a.shape.dim)[1:] == list(b.shape.dim)[1:] and len(a.shape.dim) == len(b.shape.dim)


class Remove(Pass):
    name = "remove"
    help = "Remove functions (Dropout, ImageAugmentation, ...); their consumers read the function's input."
    verbs = ("removed", "would remove")
    options = SELECT
    prunes = True
    required = (("types", "names"),)

    def match(self, model, net: Network, functions, opts, notes) -> List[Change]:
        changes = []
        referenced = referenced_variables(model, net.name)
        for f in functions:
            if len(f.output) != 1 or not len(f.input):
                raise SelectionError(f"{net.name}/{f.name} ({f.type}) has {len(f.input)} inputs and "
                                     f"{len(f.output)} outputs; only one-output functions with an input can be removed")
            x, y = f.input[0], f.output[0]
            if not _same_shape(net.variables[x], net.variables[y]):
                raise SelectionError(
                    f"{net.name}/{f.name} ({f.type}) changes the shape {list(net.variables[x].shape.dim)} -> "
                    f"{list(net.variables[y].shape.dim)}; removing it would break its consumers")
            changes.append(Change({"network": net.name, "function": f.name, "type": f.type, "input": x, "output": y,
                                   "consumers": [c.name for c, _ in net.consumers(y)]}, y in referenced))
        return changes

    def rewrite(self, model, net: Network, changes: List[Change], opts) -> None:
        for change in changes:
            f = net.functions[change.record["function"]]  # earlier removals rebuilt the list: the current message
            x, y = f.input[0], f.output[0]
            change.record.update(input=x, output=y, consumers=[c.name for c, _ in net.consumers(y)])
            keep_name = change.data or not net.consumers(y)
            if keep_name and (x in net.inputs or net.is_parameter(x)):
                raise SelectionError(
                    f"{net.name}/{f.name} connects network input '{x}' straight to output '{y}'; "
                    "nothing would be left to compute")
            net.remove_functions({f.name})
            if keep_name:
                net.drop_declaration(y)
                net.rename_variable(x, y)
            else:
                net.redirect_uses(y, x)
            net.prune_variables()
