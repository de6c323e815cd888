"""NNabla's function registry, used generically: known type names, a function's arguments from its proto,
and a new function proto from a type name and arguments. No per-type table, no eval: the conversion goes
through NNabla's own generated converters (``nnabla.utils.load_function`` / ``save_function``) and the type
list through ``nnabla.utils.converter.utils.get_function_info`` (NNabla's functions.yaml, shipped offline).
"""
import difflib
import re
from functools import lru_cache
from typing import Dict, Optional, Sequence

from .._nnabla import nnabla_quiet
from ..errors import SelectionError


@lru_cache(maxsize=1)
def function_info() -> Dict[str, dict]:
    """NNabla's description of every function type: inputs, arguments (with defaults), outputs.

    NNabla ships it as a pickled table in its converter package (``nnabla/utils/converter/functions.pkl``);
    its public ``get_function_info()`` imports the whole converter package (0.35 s), renders the table as YAML
    and parses it back (about 1.5 s on every command). The table is read here directly (a few ms): a file of
    the installed NNabla package, as trusted as its modules, never one a model names. Copied into plain dicts;
    the content is NNabla's (a test compares it with ``get_category_info_string``)."""
    import importlib.util
    import json
    import os
    import pickle

    spec = importlib.util.find_spec("nnabla")
    path = os.path.join(list(spec.submodule_search_locations)[0], "utils", "converter", "functions.pkl")
    with open(path, "rb") as f:
        categories = json.loads(json.dumps(pickle.load(f)["nnabla_func_info"]))
    return {name: info for category in categories.values() for name, info in category.items()}


def check_type(name: str, available: Optional[Sequence[str]] = None) -> str:
    """Return ``name`` if NNabla knows a function of that type; else raise with the closest known spelling."""
    types = function_info()
    if name in types:
        return name
    lowered = {t.lower(): t for t in types}
    if name.lower() in lowered:
        close = [lowered[name.lower()]]
    else:
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)]
    hint = f"; did you mean '{close[0]}'?" if close else ""
    extra = f" Types in this model: {', '.join(sorted(available))}." if available else ""
    raise SelectionError(f"unknown function type '{name}'{hint}{extra}")


def function_args(proto_function) -> dict:
    """The arguments of a ``nnabla_pb2.Function`` as NNabla's function object sees them (``info.args``)."""
    nn = nnabla_quiet()
    from nnabla.utils.load_function import _create_function_instance

    return dict(_create_function_instance(nn.get_current_context(), proto_function).arguments)


def default_args(type_name: str) -> dict:
    """Arguments of ``type_name`` at their defaults, as a function proto of that type holds them."""
    return dict(_default_args(type_name))


@lru_cache(maxsize=None)
def _default_args(type_name: str) -> tuple:
    return tuple(_compute_default_args(type_name).items())


def _compute_default_args(type_name: str) -> dict:
    from nnabla.utils import nnabla_pb2

    proto = nnabla_pb2.Function(type=type_name)
    info = function_info()[type_name]
    snake = info["snake_name"] + "_param"
    if info.get("arguments") and snake in nnabla_pb2.Function.DESCRIPTOR.fields_by_name:
        getattr(proto, snake).SetInParent()
    args = function_args(proto)
    for key, spec in (info.get("arguments") or {}).items():
        default = spec.get("default")
        if key in args and default is not None and args[key] in (0, 0.0, False, "", [], ()):
            args[key] = _parse_default(spec.get("type"), default, args[key])
    return args


def _parse_default(kind, text, current):
    """functions.yaml writes defaults as Python-ish literals; read the plain ones (numbers, bools, strings)."""
    try:
        if kind == "bool":
            return text == "True"
        if kind == "float":
            return float(text)
        if kind in ("int64", "int"):
            return int(text)
        if kind == "string":
            return text.strip("'\"")
    except ValueError:
        pass
    return current


_REPEAT = re.compile(r"^\((-?[0-9.]+),\)\s*\*\s*len\((\w+)\)$")
_REPEAT_SPATIAL = re.compile(r"^\((-?[0-9.]+),\)\s*\*\s*\(len\(x\.shape\)\s*-\s*\(base_axis\s*\+\s*1\)\)$")


def check_args(type_name: str, args: dict) -> dict:
    """``args`` checked against NNabla's declaration of ``type_name``'s arguments (names, value kinds,
    allowed strings); returns them with numbers as the declared kind. Raises :class:`SelectionError`.

    Example::

        check_args("LeakyReLU", {"alpha": 0.2})
    """
    declared = function_info()[check_type(type_name)].get("arguments") or {}
    out = {}
    for key, value in (args or {}).items():
        if key not in declared:
            close = difflib.get_close_matches(str(key), list(declared), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise SelectionError(f"function type '{type_name}' has no argument '{key}'; {hint}"
                                 f"it takes: {', '.join(declared) or 'none'}")
        out[key] = _check_value(type_name, key, declared[key], value)
    return out


def _check_value(type_name, key, spec, value):
    kind = spec.get("type")
    where = f"argument '{key}' of {type_name}"

    def bad(want):
        return SelectionError(f"{where} must be {want}, not {type(value).__name__} {value!r}"[:300])

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool) and -2 ** 62 < v < 2 ** 62

    def is_num(v):
        return (isinstance(v, (int, float)) and not isinstance(v, bool)) and abs(v) < 1e300

    if kind in ("float", "double"):
        if not is_num(value):
            raise bad("a number")
        return float(value)
    if kind == "int64":
        if not is_int(value):
            raise bad("an integer")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind == "string":
        allowed = spec.get("available_values")
        if not isinstance(value, str) or (allowed and value not in allowed):
            raise bad("one of " + ", ".join(allowed) if allowed else "a string")
        return value
    if kind in ("Shape", "repeated int64"):
        if not isinstance(value, (list, tuple)) or len(value) > 64 or not all(is_int(v) for v in value):
            raise bad("a list of integers")
        return list(value)
    if kind == "repeated float":
        if not isinstance(value, (list, tuple)) or len(value) > 4096 or not all(is_num(v) for v in value):
            raise bad("a list of numbers")
        return [float(v) for v in value]
    raise SelectionError(f"{where} ({kind}) cannot be set by nnsurgeon")


def _fill_expression_defaults(type_name: str, full: dict, given: dict, input_ndim: Optional[int]) -> None:
    """Arguments whose default NNabla writes as an expression of other arguments (``stride: kernel``,
    ``pad: (0,) * len(kernel)``, ``(1,) * (len(x.shape) - (base_axis+1))``) get that value when not given."""
    for key, spec in (function_info()[type_name].get("arguments") or {}).items():
        text = str(spec.get("default", "")).strip()
        if key in given or not text:
            continue
        if text in full and text != key and spec.get("type") == "Shape":
            full[key] = list(full[text])
            continue
        m = _REPEAT.match(text)
        if m and isinstance(full.get(m.group(2)), (list, tuple)):
            full[key] = [int(float(m.group(1)))] * len(full[m.group(2)])
            continue
        m = _REPEAT_SPATIAL.match(text)
        if m and input_ndim is not None and isinstance(full.get("base_axis"), int):
            full[key] = [int(float(m.group(1)))] * max(0, input_ndim - (full["base_axis"] + 1))


def make_function(name: str, type_name: str, inputs: Sequence[str], outputs: Sequence[str],
                  args: Optional[dict] = None, input_ndim: Optional[int] = None):
    """A new ``nnabla_pb2.Function`` of ``type_name``; ``args`` override the type's defaults (defaults that
    depend on other arguments or on the input's rank, ``input_ndim``, are computed as NNabla documents them).

    Example::

        f = make_function("q", "MinMaxQuantize", ["x", "qr_min", "qr_max", "ql_min", "ql_max"], ["y"],
                          {"x_min_max": False, "ema": True})
    """
    nnabla_quiet()
    from nnabla.utils import nnabla_pb2
    from nnabla.utils.save_function import _create_function_nntxt

    full = default_args(check_type(type_name))
    given = check_args(type_name, args or {})
    full.update(given)
    _fill_expression_defaults(type_name, full, given, input_ndim)
    proto = nnabla_pb2.Function()
    _create_function_nntxt(proto, name, {"type": type_name, "inputs": list(inputs),
                                         "outputs": list(outputs), "args": full})
    return proto
