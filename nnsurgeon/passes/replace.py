"""replace: change selected functions' type and/or arguments (ReLU -> LeakyReLU with alpha=0.2, Convolution
pad, ...), keeping their name, inputs and outputs. Built through NNabla's function registry: with a new
type, arguments start at that type's defaults; with the same type, at the function's current ones; the
given ``args`` override them."""
from typing import List

from ..errors import OptionError, SelectionError, opt
from ..graph.functions import check_args, function_args, function_info, make_function
from ..graph.network import Network
from .base import Change, Pass
from .options import SELECT, Option


def _input_range(type_name: str):
    inputs = function_info()[type_name].get("inputs") or {}
    required = sum(1 for spec in inputs.values() if not (spec or {}).get("optional"))
    variadic = any((spec or {}).get("variadic") for spec in inputs.values())
    return required, (10 ** 6 if variadic else len(inputs))


class Replace(Pass):
    name = "replace"
    help = "Change selected functions' type and/or arguments, keeping their name, inputs and outputs."
    verbs = ("replaced", "would replace")
    options = SELECT + (
        Option("to", "type", None, "The new function type (default: keep the type).", metavar="TYPE"),
        Option("args", "mapping", None, "Arguments to set, e.g. {alpha: 0.2} (recipe/Python only)."),
    )
    required = (("types", "names"), ("to", "args"))

    def check(self, opts) -> None:
        """Arguments are checked against NNabla's table for the new type (or each selected type)."""
        if not opts.args:
            return
        from ..model.validate import MAX_NDIM, argument_problem

        for type_name in ([opts.to] if opts.to else list(opts.types)):
            try:
                args = check_args(type_name, opts.args)
            except SelectionError as e:
                err = OptionError(f"{opt('args')}: {e}")
                err.key = "args"
                raise err from None
            for name, value in args.items():
                values = value if isinstance(value, list) else [value]
                if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                    problem = argument_problem(name, values, MAX_NDIM)
                    if problem:
                        err = OptionError(f"{opt('args')}: argument {name}={value} of {type_name} {problem}")
                        err.key = "args"
                        raise err

    def match(self, model, net: Network, functions, opts, notes) -> List[Change]:
        changes = []
        for f in functions:
            new_type = opts.to or f.type
            lo, hi = _input_range(new_type)
            if not lo <= len(f.input) <= hi:
                raise SelectionError(
                    f"{net.name}/{f.name} has {len(f.input)} input(s); {new_type} takes "
                    f"{lo if lo == hi else f'{lo} to {hi}'}")
            base = function_args(f) if new_type == f.type else {}
            base.update(opts.args or {})
            ndim = len(net.variables[f.input[0]].shape.dim) if len(f.input) and f.input[0] in net.variables else None
            new = make_function(f.name, new_type, list(f.input), list(f.output), base, input_ndim=ndim)
            changes.append(Change({"network": net.name, "function": f.name, "from": f.type, "to": new_type,
                                   "args": dict(opts.args or {})}, new))
        return changes

    def rewrite(self, model, net: Network, changes: List[Change], opts) -> None:
        for change in changes:
            net.functions[change.record["function"]].CopyFrom(change.data)
        net.refresh()
