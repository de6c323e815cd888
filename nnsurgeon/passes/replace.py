"""replace: change selected functions' type and/or arguments (ReLU -> LeakyReLU with alpha=0.2, Convolution
pad, ...), keeping their name, inputs and outputs. Built through NNabla's function registry: with a new
type, arguments start at that type's defaults; with the same type, at the function's current ones; the
given ``args`` override them."""
from typing import Dict, Optional, Sequence

from ..errors import SelectionError
from ..graph.functions import check_type, function_args, function_info, make_function
from ..rules import Selector, select
from .base import PassResult


def _input_range(type_name: str):
    inputs = function_info()[type_name].get("inputs") or {}
    required = sum(1 for spec in inputs.values() if not (spec or {}).get("optional"))
    variadic = any((spec or {}).get("variadic") for spec in inputs.values())
    return required, (10 ** 6 if variadic else len(inputs))


def replace(model, types: Sequence[str] = (), names: Sequence[str] = (), exclude: Sequence[str] = (),
            networks: Sequence[str] = (), to: Optional[str] = None, args: Optional[Dict] = None,
            allow_empty: bool = False, dry_run: bool = False) -> PassResult:
    """Replace the selected functions of ``model`` in place.

    Example::

        replace(model, types=["ReLU"], to="LeakyReLU", args={"alpha": 0.2})
    """
    if not types and not names:
        raise SelectionError("replace: say which functions with types and/or names")
    if to is None and not args:
        raise SelectionError("replace: give a new type ('to') and/or 'args'")
    if to is not None:
        check_type(to)
    selection = select(model, Selector(list(types), list(names), list(exclude), list(networks)), allow_empty)
    result = PassResult("replace")
    for net_name, (net, functions) in selection.items():
        for f in functions:
            new_type = to or f.type
            lo, hi = _input_range(new_type)
            if not lo <= len(f.input) <= hi:
                raise SelectionError(
                    f"replace: {net_name}/{f.name} has {len(f.input)} input(s); {new_type} takes "
                    f"{lo if lo == hi else f'{lo} to {hi}'}")
            base = function_args(f) if new_type == f.type else {}
            base.update(args or {})
            new = make_function(f.name, new_type, list(f.input), list(f.output), base)
            result.records.append({"network": net_name, "function": f.name, "from": f.type, "to": new_type,
                                   "args": dict(args or {})})
            if not dry_run:
                f.CopyFrom(new)
        net.refresh()
    result.changed = bool(result.records) and not dry_run
    result.summary = f"{'would replace' if dry_run else 'replaced'} {len(result.records)} function(s)"
    return result
