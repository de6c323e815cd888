"""The one naming rule for functions. Every command (list-layers, --name, recipes, extract) names functions
through :func:`assign_function_names`.

Rule: a function keeps the name stored in the file when it has one that no earlier function of the same
network already uses. A function with no stored name is named after its type; a clash gets the smallest
suffix ``_N`` (N = 1, 2, ...) that makes it unique. The walk is in file order, so the same file always gives
the same names, and a well-formed file keeps every stored name.
"""
from typing import Iterable, List, Set


def unique_name(base: str, taken: Set[str]) -> str:
    """``base`` if free, else ``base_1``, ``base_2``, ...: the first one not in ``taken`` (which is updated)."""
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def assign_function_names(functions: Iterable) -> List[str]:
    """Give every ``nnabla_pb2.Function`` in ``functions`` a unique, stable name in place; return the names."""
    taken: Set[str] = set()
    names = []
    pending = []
    for f in functions:
        if f.name and f.name not in taken:
            taken.add(f.name)
            names.append(f.name)
        else:
            pending.append((len(names), f))
            names.append(None)
    for index, f in pending:
        names[index] = f.name = unique_name(f.name or f.type, taken)
    return names
