"""Selecting functions: by type name, by name (glob, or regex with ``re:``), exclusions, networks.

Precedence: a function is selected when its network is chosen, its type is one of ``types`` (any type when
none are given), its name matches one of ``names`` (any name when none are given), and it matches no
``exclude`` entry. Exclusion wins. An exclude entry that is a known NNabla type name excludes by type,
otherwise it is a name pattern.
"""
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import SelectionError, opt
from ..graph.functions import check_type, function_info
from ..graph.network import Network


@dataclass
class Selector:
    """Which functions a step applies to. Empty ``types``/``names`` mean any."""

    types: List[str] = field(default_factory=list)
    names: List[str] = field(default_factory=list)
    exclude: List[str] = field(default_factory=list)
    networks: List[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = []
        if self.types:
            parts.append("type " + ",".join(self.types))
        if self.names:
            parts.append("name " + ",".join(self.names))
        if self.exclude:
            parts.append("excluding " + ",".join(self.exclude))
        if self.networks:
            parts.append("in network " + ",".join(self.networks))
        return " ".join(parts) or "every function"


def split_list(values: Optional[Sequence[str]]) -> List[str]:
    """``["ReLU,Affine", "Conv"]`` -> ``["ReLU", "Affine", "Conv"]``: options may repeat or hold commas."""
    out = []
    for v in values or ():
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def check_pattern(pattern: str) -> None:
    """Raise :class:`SelectionError` for a name pattern that cannot be used (a bad ``re:`` expression)."""
    _name_matcher(pattern)


def _name_matcher(pattern: str):
    if pattern.startswith("re:"):
        try:
            rx = re.compile(pattern[3:])
        except re.error as e:
            raise SelectionError(f"bad regular expression '{pattern[3:]}' ({e})") from None
        return lambda name: rx.fullmatch(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def compile_selector(types: Sequence[str] = (), names: Sequence[str] = (), exclude: Sequence[str] = ()):
    """A predicate ``f -> bool`` on ``nnabla_pb2.Function`` implementing the precedence rule above (types
    are checked against NNabla's registry first)."""
    for t in types:
        check_type(t)
    known = function_info() if exclude else {}  # the table only when a selector needs it
    exclude_types = {e for e in exclude if e in known}
    exclude_names = [_name_matcher(e) for e in exclude if e not in known]
    name_matchers = [_name_matcher(n) for n in names]
    wanted = set(types)

    def matches(f) -> bool:
        if wanted and f.type not in wanted:
            return False
        if name_matchers and not any(m(f.name) for m in name_matchers):
            return False
        return not (f.type in exclude_types or any(m(f.name) for m in exclude_names))

    return matches


def select(model, selector: Selector, allow_empty: bool = False) -> Dict[str, Tuple[Network, List[object]]]:
    """Per network name, the :class:`Network` view and its selected ``nnabla_pb2.Function`` messages in
    topological order; networks with no match are left out. Raises :class:`SelectionError` when nothing
    matches, unless ``allow_empty``. Passes edit through the returned view.

    Example::

        select(model, Selector(types=["ReLU"], exclude=["fc*"]))
    """
    matches = compile_selector(selector.types, selector.names, selector.exclude)
    networks = selector.networks or model.network_names
    for n in networks:
        model.network(n)  # unknown network -> SelectionError listing the real ones
    result: Dict[str, Tuple[Network, List[object]]] = {}
    present = set()
    for net_name in networks:
        net = model.view(net_name)
        net.require_plain("edit")
        chosen = []
        for f in net.topological():
            present.add(f.type)
            if matches(f):
                chosen.append(f)
        if chosen:
            result[net_name] = (net, chosen)
    if not result and not allow_empty:
        where = f"network {', '.join(networks)}" if selector.networks else f"{model.source}"
        raise SelectionError(
            f"no function matches {selector.describe()} in {where}; types present: {', '.join(sorted(present))}. "
            f"See 'nnsurgeon list-layers {model.source}', or add {opt('allow-empty', 'true')}")
    return result


def unmatched_excludes(functions: Sequence[object], exclude: Sequence[str]) -> List[str]:
    """A warning for each ``exclude`` entry that matches none of ``functions`` (types and stable names), with
    the closest type or name: a misspelt exclusion would otherwise silently exclude nothing."""
    import difflib

    known = function_info()
    types = sorted({f.type for f in functions})
    names = [f.name for f in functions]
    warnings = []
    for e in exclude:
        if e in known:
            if e in types:
                continue
        elif any(_name_matcher(e)(n) for n in names):
            continue
        close = difflib.get_close_matches(e, types + names, n=1, cutoff=0.5)
        if not close:
            close = [n for n in names if e.lower() in n.lower()][:1]
        hint = f"; closest {'type' if close and close[0] in types else 'name'}: '{close[0]}'" if close else ""
        warnings.append(f"exclude '{e}' matches nothing{hint}")
    return warnings


def data_inputs(net: Network, function) -> List[str]:
    """The inputs of ``function`` that carry data (not parameters), in order, each once: what a step that
    works on a function's inputs (quantize's ``before``) selects once the function itself is selected."""
    out: List[str] = []
    for name in function.input:
        if not net.is_parameter(name) and name not in out:
            out.append(name)
    return out
