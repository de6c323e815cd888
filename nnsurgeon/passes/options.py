"""Typed options of every pass, declared once.

Each pass lists its options as :class:`Option` entries. From that one declaration come the CLI options
(:mod:`nnsurgeon.cli.step_options`), the recipe keys and their validation (:mod:`nnsurgeon.recipe`), the JSON
Schema, the Python keyword arguments (``allow-empty`` is ``allow_empty=``), and the defaults (the only place a
default is written). :func:`parse_options` turns values given in any of those forms into a typed, validated
options object; it is the single gate every value passes.
"""
import math
import os
from dataclasses import dataclass, make_dataclass
from dataclasses import field as dc_field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import OptionError, opt

# kinds: types (NNabla function type names), type (one), names (patterns), networks, str, int, number, bool,
# path (an existing file or folder), mapping (function arguments), str-mapping, enum, rules (a list of
# {name|type: ..., bits: N} mappings), ranges (a mapping tensor -> [lo, hi]; on the CLI NAME=LO,HI)
LIST_KINDS = ("types", "names", "networks")
INT_LIMIT = 2 ** 31 - 1


@dataclass(frozen=True)
class Option:
    """One option: ``key`` as a recipe spells it, its kind, default, limits and help text."""

    key: str
    kind: str
    default: Any = None
    help: str = ""
    choices: Tuple[str, ...] = ()
    min: Optional[float] = None
    max: Optional[float] = None
    cli: Optional[str] = None  # the CLI flag when it is not --KEY (e.g. --name for names)
    metavar: Optional[str] = None
    aliases: Tuple[str, ...] = ()  # further CLI flags for the same option (quantize's --type for --after)
    synonyms: Tuple[str, ...] = ()  # further recipe keys / Python keywords (quantize's types for after)
    idea: Optional[str] = None  # the shared idea this option is one spelling of (``types`` for after)

    @property
    def attr(self) -> str:
        return self.key.replace("-", "_")

    @property
    def flag(self) -> str:
        return self.cli or "--" + self.key

    def describe(self) -> str:
        """What a value must be, for messages."""
        if self.kind == "enum":
            return "one of " + ", ".join(self.choices)
        limits = ""
        if self.min is not None and self.max is not None:
            limits = f" from {_n(self.min)} to {_n(self.max)}"
        elif self.min is not None:
            limits = f" of at least {_n(self.min)}"
        return {"types": "a function type or a list of them", "type": "a function type",
                "names": "a name pattern or a list of them", "networks": "a network name or a list of them",
                "str": "a string", "path": "a path to an existing file or folder", "int": "an integer" + limits,
                "rules": "a list of {name: PATTERN, bits: N} or {type: TYPE, bits: N} mappings",
                "ranges": "a mapping of tensor names to [low, high]",
                "number": "a number" + limits, "bool": "true or false", "mapping": "a mapping of arguments",
                "str-mapping": "a mapping of names to names"}[self.kind]


# Selection options shared by the passes that select functions (see nnsurgeon.rules).
TYPES = Option("types", "types", (), "Function types to select (ReLU,Affine).", cli="--type", metavar="TYPES")
NAMES = Option("names", "names", (), "Stable names to select: glob, or re:REGEX (as list-layers shows them).",
               cli="--name", metavar="GLOB")
EXCLUDE = Option("exclude", "names", (), "Leave out these names or types (exclusion wins).", metavar="NAMES|TYPES")
NETWORKS = Option("networks", "networks", (), "Only these networks. Default: every network.", cli="--network",
                  metavar="NAME")
ALLOW_EMPTY = Option("allow-empty", "bool", False, "Succeed when nothing matches.")
SELECT = (TYPES, NAMES, EXCLUDE, NETWORKS, ALLOW_EMPTY)


def _n(x) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def as_list(value) -> list:
    """``"A,B"`` or ``["A", "B,C"]`` -> ``["A", "B", "C"]``; None -> []."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    out = []
    for item in items:
        out.extend(x.strip() for x in str(item).split(",") if x.strip()) if isinstance(item, str) else \
            out.append(item)
    return out


def _bad(o: Option, where: str, value) -> OptionError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    e = OptionError(f"{opt(o.key)}{where} must be {o.describe()}, not {type(value).__name__} {shown}")
    e.key = o.key
    return e


def _coerce(o: Option, value, base_dir: str, where: str):
    """One value checked and normalised for ``o`` (lists split, numbers range-checked, paths made absolute)."""
    if o.kind in LIST_KINDS:
        if not (isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value))):
            raise _bad(o, where, value)
        items = tuple(as_list(value))
        if o.kind == "types":
            from ..graph.functions import check_type

            for t in items:
                try:
                    check_type(t)
                except OptionError:
                    raise
                except Exception as e:  # SelectionError with the closest spelling
                    err = OptionError(f"{opt(o.key)}{where}: {e}")
                    err.key, err.item = o.key, t
                    raise err from None
        if o.kind == "names":
            from ..rules.selector import check_pattern

            for p in items:
                try:
                    check_pattern(p)
                except OptionError:
                    raise
                except Exception as e:
                    err = OptionError(f"{opt(o.key)}{where}: {e}")
                    err.key, err.item = o.key, p
                    raise err from None
        return items
    if o.kind == "bool":
        if not isinstance(value, bool):
            raise _bad(o, where, value)
        return value
    if o.kind in ("int", "number"):
        ok = isinstance(value, int) if o.kind == "int" else isinstance(value, (int, float))
        if not ok or isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
            raise _bad(o, where, value)
        lo = o.min if o.min is not None else -INT_LIMIT
        hi = o.max if o.max is not None else INT_LIMIT
        if not lo <= value <= hi:
            e = OptionError(f"{opt(o.key)}{where} must be {'an integer' if o.kind == 'int' else 'a number'} "
                            f"from {_n(lo)} to {_n(hi)}, not {value}")
            e.key = o.key
            raise e
        return value
    if o.kind == "enum":
        if value not in o.choices:
            raise _bad(o, where, value)
        return value
    if o.kind in ("str", "type"):
        if not isinstance(value, str) or not value:
            raise _bad(o, where, value)
        if o.kind == "type":
            from ..graph.functions import check_type

            try:
                check_type(value)
            except Exception as e:
                err = OptionError(f"{opt(o.key)}{where}: {e}")
                err.key = o.key
                raise err from None
        return value
    if o.kind == "path":
        if not isinstance(value, str) or not value:
            raise _bad(o, where, value)
        path = value if os.path.isabs(value) else os.path.normpath(os.path.join(base_dir, value))
        if not os.path.exists(path):
            e = OptionError(f"{opt(o.key)}{where} names {value}, which does not exist"
                            + (f" (looked for {path})" if path != value else ""))
            e.key = o.key
            raise e
        return path
    if o.kind == "mapping":
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _bad(o, where, value)
        return dict(value)
    if o.kind == "str-mapping":
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(x, str) and x
                                                  for k, x in value.items()):
            raise _bad(o, where, value)
        return dict(value)
    if o.kind == "rules":
        return _coerce_rules(o, value, where)
    if o.kind == "ranges":
        return _coerce_ranges(o, value, where)
    raise AssertionError(f"unknown option kind {o.kind}")  # pragma: no cover - declaration bug


def _coerce_rules(o: Option, value, where: str) -> tuple:
    """A list of ``{name: PATTERN, bits: N}`` / ``{type: TYPE, bits: N}`` rules (precision overrides)."""
    if not isinstance(value, (list, tuple)):
        raise _bad(o, where, value)
    out = []
    for i, rule in enumerate(value):
        at = f"{opt(o.key)}{where}, entry {i + 1}"
        if not isinstance(rule, dict) or set(rule) - {"name", "type", "bits"} or \
                len({"name", "type"} & set(rule)) != 1 or "bits" not in rule:
            e = OptionError(f"{at} must be {{name: PATTERN, bits: N}} or {{type: TYPE, bits: N}}, not {rule!r}"[:300])
            e.key = o.key
            raise e
        bits = rule["bits"]
        if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 16:
            e = OptionError(f"{at}: bits must be an integer from 2 to 16, not {bits!r}")
            e.key = o.key
            raise e
        if "type" in rule:
            from ..graph.functions import check_type

            try:
                check_type(rule["type"] if isinstance(rule["type"], str) else "")
            except Exception as err:
                e = OptionError(f"{at}: {err}")
                e.key = o.key
                raise e from None
        else:
            if not isinstance(rule["name"], str) or not rule["name"]:
                raise _bad(o, where, value)
            from ..rules.selector import check_pattern

            check_pattern(rule["name"])
        out.append(dict(rule))
    return tuple(out)


def parse_range_text(text: str) -> Tuple[str, List[float]]:
    """``"NAME=LO,HI"`` (the CLI form of one ``ranges`` entry) -> ``(NAME, [LO, HI])``."""
    name, sep, rest = str(text).rpartition("=")
    parts = rest.split(",")
    try:
        if not sep or not name or len(parts) != 2:
            raise ValueError
        return name, [float(parts[0]), float(parts[1])]
    except ValueError:
        e = OptionError(f"{opt('ranges')} takes TENSOR=LOW,HIGH (e.g. y=-4,4), not '{text}'")
        e.key = "ranges"
        raise e from None


def _coerce_ranges(o: Option, value, where: str) -> Dict[str, List[float]]:
    if not isinstance(value, dict):
        raise _bad(o, where, value)
    out = {}
    for name, pair in value.items():
        ok = isinstance(name, str) and isinstance(pair, (list, tuple)) and len(pair) == 2 and \
            all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in pair)
        if not ok or not pair[0] < pair[1]:
            e = OptionError(f"{opt(o.key)}{where}: '{name}' must map to [low, high] with low < high, not {pair!r}"
                            [:300])
            e.key = o.key
            raise e
        out[name] = [float(pair[0]), float(pair[1])]
    return out


_CLASSES: Dict[str, type] = {}


def options_class(step: str, options: Sequence[Option]) -> type:
    """The typed options dataclass of ``step`` (fields named like the Python keyword arguments)."""
    if step not in _CLASSES:
        fields = [(o.attr, Any, dc_field(default=o.default)) for o in options]
        _CLASSES[step] = make_dataclass(step.title().replace("-", "") + "Options", fields, frozen=True)
    return _CLASSES[step]


def normalise_keys(step: str, options: Sequence[Option], raw: Dict, where: str) -> Dict:
    """``raw`` with Python-style keys (``allow_empty``) turned into recipe keys; unknown keys refused."""
    known = {o.key: o for o in options}
    synonyms = {syn: o.key for o in options for syn in o.synonyms}
    out = {}
    for key, value in raw.items():
        k = str(key).replace("_", "-")
        if k in synonyms:
            if synonyms[k] in out or synonyms[k] in raw:
                e = OptionError(f"{where}: give {opt(synonyms[k])} or {opt(k)}, not both")
                e.key = k
                raise e
            k = synonyms[k]
        if k not in known:
            import difflib

            close = difflib.get_close_matches(k, list(known), n=1)
            hint = f"; did you mean {opt(close[0])}?" if close else "; it takes: " + \
                ", ".join(opt(o.key) for o in options)
            e = OptionError(f"unknown option '{key}' in {where}{hint}")
            e.key, e.unknown = key, True
            raise e
        out[k] = value
    return out


def parse_options(step: str, options: Sequence[Option], raw: Dict, base_dir: str = ".",
                  required: Sequence[Sequence[str]] = (), where: Optional[str] = None):
    """Validate ``raw`` (recipe or Python keys; None means default) and return the typed options object.
    Raises :class:`OptionError` (``.key``: the offending key) naming what is wrong; ``where`` names the
    place in messages (default: the step)."""
    where = where or f"step '{step}'"
    raw = normalise_keys(step, options, raw, where)
    values = {}
    for o in options:
        value = raw.get(o.key)
        if value is None:
            values[o.attr] = o.default
            continue
        values[o.attr] = _coerce(o, value, base_dir, f" in {where}")
    for group in required:
        if not any(values.get(k.replace("-", "_")) not in (None, (), [], {}, "") for k in group):
            e = OptionError(f"{where} needs " + " or ".join(opt(k) for k in group))
            e.key = None
            raise e
    return options_class(step, options)(**values)


def given(options: Sequence[Option], parsed) -> Dict:
    """The options of ``parsed`` that differ from their defaults, in recipe form (for recipes and records)."""
    out = {}
    for o in options:
        v = getattr(parsed, o.attr)
        if v != o.default:
            out[o.key] = [dict(x) if isinstance(x, dict) else x for x in v] if isinstance(v, tuple) else v
    return out


def paths_in(options: Sequence[Option], parsed) -> List[str]:
    """Every path option's value (absolute): files the step reads."""
    return [getattr(parsed, o.attr) for o in options if o.kind == "path" and getattr(parsed, o.attr)]
