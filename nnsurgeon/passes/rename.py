"""rename: give functions or variables new names.

Function names are per network. A variable is renamed in its network and in every executor, optimizer
and monitor that names it; a parameter is shared by name across networks, so it is renamed in every
network and in the stored parameters.
"""
from typing import Dict, Optional, Sequence

from ..errors import SelectionError
from ..graph.network import Network
from .base import PassResult
from .common import references


def rename(model, functions: Optional[Dict[str, str]] = None, variables: Optional[Dict[str, str]] = None,
           networks: Sequence[str] = (), dry_run: bool = False) -> PassResult:
    """Rename functions and/or variables of ``model`` in place; every old name must exist.

    Example::

        rename(model, functions={"@Runtime/Affine_1": "classifier"}, variables={"y": "logits"})
    """
    functions, variables = dict(functions or {}), dict(variables or {})
    if not functions and not variables:
        raise SelectionError("rename: give 'functions' and/or 'variables' as {old: new}")
    result = PassResult("rename")
    nets = list(networks) or model.network_names
    for old, new in list(functions.items()) + list(variables.items()):
        if not isinstance(new, str) or not new:
            raise SelectionError(f"rename: the new name for '{old}' must be a non-empty string")
    found_f, found_v = set(), set()
    for net_name in nets:
        net = Network(model.network(net_name), model.source)
        for old, new in functions.items():
            if old in net.functions:
                if new in net.functions and new != old:
                    raise SelectionError(f"rename: network '{net_name}' already has a function '{new}'")
                found_f.add(old)
                result.records.append({"network": net_name, "function": old, "to": new})
                if not dry_run:
                    net.functions[old].name = new
                    net.refresh()
        for old, new in variables.items():
            if old not in net.variables:
                continue
            if new in net.variables and new != old:
                raise SelectionError(f"rename: network '{net_name}' already has a variable '{new}'")
            if net.is_parameter(old):
                raise SelectionError(f"rename: '{old}' is a parameter, shared by name across networks; "
                                     "parameters cannot be renamed")
            found_v.add(old)
            result.records.append({"network": net_name, "variable": old, "to": new})
            if not dry_run:
                net.rename_variable(old, new)
                for _, _, _, ref in references(model, net_name):
                    if ref.variable_name == old:
                        ref.variable_name = new
    missing = [n for n in functions if n not in found_f] + [n for n in variables if n not in found_v]
    if missing:
        raise SelectionError(f"rename: no function or variable named {', '.join(repr(m) for m in missing)} in "
                             f"network(s) {', '.join(nets)}; see 'nnsurgeon list-layers {model.source}'")
    result.changed = bool(result.records) and not dry_run
    result.summary = f"{'would rename' if dry_run else 'renamed'} {len(result.records)} name(s)"
    return result
