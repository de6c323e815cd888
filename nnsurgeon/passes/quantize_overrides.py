"""Mixed precision: which bit width each quantizer gets.

A rule matches the function a quantizer belongs to: the function whose output it quantizes (``after``),
whose data input it quantizes (``before``, and a network output's producer) or that reads the weight.

Precedence, highest first:

1. name rules (``{name: PATTERN, bits: N}`` in ``overrides``, then every ``keep`` entry ``BITS:PATTERN``,
   which counts as a later name rule); among name rules that match, the **last** one wins;
2. type rules (``{type: TYPE, bits: N}``); the last matching one wins;
3. the step's ``bits`` for activations, ``weights`` for weights.

A rule sets the bits of every quantizer of the function it matches (its output, inputs and weight alike).
``keep`` entries may share one width: ``8:fc1,fc2`` is ``8:fc1`` and ``8:fc2``.

Fixed ranges (``ranges: {TENSOR: [lo, hi]}``) name a quantized tensor, or a function's stable name for its
output; they win over calibration, and a name this step does not quantize is an error.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import OptionError, SelectionError, opt
from ..rules.selector import compile_selector


@dataclass
class Rule:
    bits: int
    name: Optional[str] = None
    type: Optional[str] = None

    def __post_init__(self):
        self.matches = compile_selector(types=[self.type] if self.type else [],
                                        names=[self.name] if self.name else [])


def parse_keep(items: Sequence[str]) -> List[Rule]:
    """``["8:@Runtime/Affine_1", "fc2"]`` -> name rules; an item without ``BITS:`` takes the previous width."""
    rules, bits = [], None
    for item in items:
        head, sep, rest = item.partition(":")
        if sep and head.isdigit():
            bits, pattern = int(head), rest
        else:
            pattern = item
        if bits is None or not 2 <= bits <= 16 or not pattern:
            raise OptionError(f"{opt('keep')} takes BITS:NAME (e.g. 8:@Runtime/Affine_1) with BITS from 2 to 16, "
                              f"not '{item}'")
        rules.append(Rule(bits, name=pattern))
    return rules


def precision_rules(overrides: Sequence[dict], keep: Sequence[str]) -> List[Rule]:
    """Name rules first (in precedence order), then type rules; see :func:`bits_for`."""
    named = [Rule(r["bits"], name=r["name"]) for r in overrides if "name" in r] + parse_keep(keep)
    typed = [Rule(r["bits"], type=r["type"]) for r in overrides if "type" in r]
    return named + typed


def bits_for(rules: List[Rule], function, default: int) -> int:
    """The bit width for a quantizer of ``function`` (module doc: last matching name rule, else last
    matching type rule, else ``default``)."""
    named = [r for r in rules if r.name is not None and r.matches(function)]
    if named:
        return named[-1].bits
    typed = [r for r in rules if r.type is not None and r.matches(function)]
    return typed[-1].bits if typed else default


def explicit_ranges(matched, given: Dict[str, list]) -> Dict[Tuple[str, str], Tuple[float, float]]:
    """``ranges`` keys (a tensor, or a function's stable name for its output) -> {(network, var): range}."""
    out: Dict[Tuple[str, str], Tuple[float, float]] = {}
    used = set()
    for n, (_, changes) in matched.items():
        for c in changes:
            if c.data["kind"] == "weight":
                continue
            for key in (c.data["var"], c.data.get("function")):
                if key in given:
                    out[(n, c.data["var"])] = tuple(given[key])
                    used.add(key)
                    break
    unknown = [k for k in given if k not in used]
    if unknown:
        names = sorted({c.data["var"] for _, (_, cs) in matched.items() for c in cs if c.data["kind"] != "weight"})
        raise SelectionError(f"{opt('ranges')} names '{unknown[0]}', which this step does not quantize; quantized "
                             f"tensors: {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}")
    return out
