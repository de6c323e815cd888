"""remove: drop functions (Dropout, ImageAugmentation, ... by type or name) and let every consumer read the
function's data input instead.

A removed function must have one output whose shape equals its first input's (the batch dimension aside),
so the graph stays valid. When its output is a network output or named by an executor/optimizer/monitor,
the input variable takes the output's name, so those keep working; that is refused when the input is a
network input that executors feed by name.
"""
from typing import Sequence

from ..errors import SelectionError
from ..graph.network import Network
from ..rules import Selector, select
from .base import PassResult
from .common import drop_parameters_no_longer_used, referenced_variables, used_parameters


def _same_shape(a, b) -> bool:
    return list(a.shape.dim)[1:] == list(b.shape.dim)[1:] and len(a.shape.dim) == len(b.shape.dim)


def remove(model, types: Sequence[str] = (), names: Sequence[str] = (), exclude: Sequence[str] = (),
           networks: Sequence[str] = (), allow_empty: bool = False, dry_run: bool = False) -> PassResult:
    """Remove the selected functions from ``model`` in place, rewiring their data input to every use.

    Example::

        remove(model, types=["Dropout", "ImageAugmentation"])
    """
    if not types and not names:
        raise SelectionError("remove: say what to remove with types and/or names")
    selection = select(model, Selector(list(types), list(names), list(exclude), list(networks)), allow_empty)
    result = PassResult("remove")
    before = used_parameters(model)
    for net_name, (net, functions) in selection.items():
        referenced = referenced_variables(model, net_name)
        for selected in functions:
            f = net.functions[selected.name]  # earlier removals rebuilt the list: use the current message
            if len(f.output) != 1 or not len(f.input):
                raise SelectionError(f"remove: {net_name}/{f.name} ({f.type}) has {len(f.input)} inputs and "
                                     f"{len(f.output)} outputs; only one-output functions with an input can be removed")
            x, y = f.input[0], f.output[0]
            if not _same_shape(net.variables[x], net.variables[y]):
                raise SelectionError(
                    f"remove: {net_name}/{f.name} ({f.type}) changes the shape {list(net.variables[x].shape.dim)} -> "
                    f"{list(net.variables[y].shape.dim)}; removing it would break its consumers")
            result.records.append({"network": net_name, "function": f.name, "type": f.type, "input": x,
                                   "output": y, "consumers": [c.name for c, _ in net.consumers(y)]})
            if dry_run:
                continue
            keep_name = y in referenced or not net.consumers(y)
            if keep_name and (x in net.inputs or net.is_parameter(x)):
                raise SelectionError(
                    f"remove: {net_name}/{f.name} connects network input '{x}' straight to output '{y}'; "
                    "nothing would be left to compute")
            net.remove_functions({f.name})
            if keep_name:
                _drop_declaration(net, y)
                net.rename_variable(x, y)
            else:
                net.redirect_uses(y, x)
            net.prune_variables()
    if not dry_run:
        drop_parameters_no_longer_used(model, before)
    result.changed = bool(result.records) and not dry_run
    verb = "would remove" if dry_run else "removed"
    result.summary = f"{verb} {len(result.records)} function(s)"
    return result


def _drop_declaration(net: Network, name: str) -> None:
    for i, v in enumerate(net.proto.variable):
        if v.name == name:
            del net.proto.variable[i]
            break
    net.refresh()
