"""rename: give functions or variables new names.

Function names are per network. A variable is renamed in its network and in every executor, optimizer
and monitor that names it; a parameter is shared by name across networks, so it is renamed in every
network and in the stored parameters.
"""
from typing import List

from ..errors import OptionError, SelectionError, opt
from ..graph.network import Network
from .base import Change, Pass
from .common import references
from .options import NETWORKS, Option


class Rename(Pass):
    name = "rename"
    help = "Give functions or variables new names."
    verbs = ("renamed", "would rename")
    noun = "name"
    options = (
        Option("functions", "str-mapping", None, "{old stable name: new name}."),
        Option("variables", "str-mapping", None, "{old variable name: new name}."),
        NETWORKS,
    )
    required = (("functions", "variables"),)

    def select(self, model, opts):
        nets = list(opts.networks) or model.network_names
        selection = {n: (model.view(n), []) for n in nets}
        found = {old for n in nets for old in (opts.functions or {}) if old in selection[n][0].functions}
        found |= {old for n in nets for old in (opts.variables or {}) if old in selection[n][0].variables}
        missing = [n for n in list(opts.functions or {}) + list(opts.variables or {}) if n not in found]
        if missing:
            raise SelectionError(f"no function or variable named {', '.join(repr(m) for m in missing)} in "
                                 f"network(s) {', '.join(nets)}; see 'nnsurgeon list-layers {model.source}'")
        return selection

    def check(self, opts) -> None:
        for kind, mapping in (("functions", opts.functions or {}), ("variables", opts.variables or {})):
            new = list(mapping.values())
            twice = sorted({n for n in new if new.count(n) > 1})
            if twice:
                raise OptionError(f"{opt(kind)}: several names would become {', '.join(repr(t) for t in twice)}; "
                                  "every new name must be different")

    def match(self, model, net: Network, functions, opts, notes) -> List[Change]:
        changes = []
        for old, new in (opts.functions or {}).items():
            if old in net.functions:
                if new in net.functions and new != old:
                    raise SelectionError(f"network '{net.name}' already has a function '{new}'")
                changes.append(Change({"network": net.name, "function": old, "to": new}))
        for old, new in (opts.variables or {}).items():
            if old not in net.variables:
                continue
            if new in net.variables and new != old:
                raise SelectionError(f"network '{net.name}' already has a variable '{new}'")
            if net.is_parameter(old):
                raise SelectionError(f"'{old}' is a parameter, shared by name across networks; "
                                     "parameters cannot be renamed")
            changes.append(Change({"network": net.name, "variable": old, "to": new}))
        return changes

    def rewrite(self, model, net: Network, changes: List[Change], opts) -> None:
        for change in changes:
            r = change.record
            if "function" in r:
                net.functions[r["function"]].name = r["to"]
                net.refresh()
                continue
            net.rename_variable(r["variable"], r["to"])
            for _, _, _, ref in references(model, net.name):
                if ref.variable_name == r["variable"]:
                    ref.variable_name = r["to"]
