"""Reject what NNabla silently accepts or cannot survive, before any NNabla graph is built: dangling names,
parameters that are not stored (NNabla would run on freshly initialised values), executors that name variables
their network does not have; unknown variable types, absurd shapes and batch sizes, two producers of one
variable, cycles (NNabla's graph walk never ends), and function arguments NNabla's C++ divides by or indexes
with unchecked (a Convolution ``group: 0`` or a pooling kernel of 0 kills the process with SIGFPE).

The argument check is generic: NNabla's function table (``functions.yaml``, via
:func:`nnsurgeon.graph.functions.function_info`) says which arguments a type has and their kinds; the small
tables below say which argument names must be positive, non-negative, non-zero, or a valid axis.
"""
from collections import defaultdict
from typing import Dict, List

from ..errors import ModelError
from .nnp import NnpModel

MAX_BATCH = 1 << 20  # a network's stored batch size: 1 .. MAX_BATCH
MAX_ELEMENTS = 1 << 40  # elements of one variable (with -1 taken as the batch size)
MAX_NDIM = 32
MAX_INT_ARG = (1 << 31) - 1  # |integer argument|: NNabla's C++ holds them in 32-bit ints
VARIABLE_TYPES = ("Buffer", "Parameter")
_POSITIVE = {"stride", "dilation", "kernel", "group", "multiplier", "deformable_group", "divisor", "num_groups",
             "num_layers", "fft_size", "window_size", "patch", "patch_step", "shift_step", "signal_ndim"}
_NON_NEGATIVE = {"pad", "output_padding", "padding", "sampling_ratio", "reps", "output_size", "size", "sizes"}
_NON_ZERO = {"step"}
_AXES = {"axis", "axes", "base_axis", "batch_axis", "channel_axis", "batch_dims"}


def validate(model: NnpModel) -> None:
    """Raise :class:`ModelError` naming the file, network and item for the first inconsistency found."""
    src = model.source
    networks = {}
    for net in model.proto.network:
        if not net.name:
            raise ModelError(f"{src}: a network has no name; re-export the model")
        if net.name in networks:
            raise ModelError(f"{src}: two networks are named '{net.name}'; re-export the model")
        networks[net.name] = _check_network(src, model, net)
    if not networks:
        raise ModelError(f"{src}: the definition holds no network; is this an .nnp exported by NNabla?")
    for kind, items in (("executor", model.proto.executor), ("optimizer", model.proto.optimizer),
                        ("monitor", model.proto.monitor)):
        for item in items:
            _check_user(src, kind, item, networks, model.parameters)


def _check_network(src, model, net):
    where = f"{src}: network '{net.name}'"
    if not 1 <= net.batch_size <= MAX_BATCH:
        raise ModelError(f"{where} stores batch size {net.batch_size}; NNabla needs 1 to {MAX_BATCH}. "
                         "Re-export the model")
    variables = {}
    for v in net.variable:
        _check_variable(where, net, v)
        variables[v.name] = v
    missing_params = []
    for f in net.function:
        for name in list(f.input) + list(f.output):
            if name not in variables:
                raise ModelError(
                    f"{src}: network '{net.name}', function '{f.name}' ({f.type}) uses variable '{name}', "
                    "which the network does not declare; re-export the model")
    _check_producers_and_cycles(where, net)
    for f in net.function:
        _check_function(where, f, variables)
    used = {name for f in net.function for name in f.input}
    for name, v in variables.items():
        if v.type != "Parameter" or name not in used:
            continue
        p = model.parameters.get(name)
        if p is None:
            missing_params.append(name)
        elif p.data.size != _size(v.shape.dim):
            raise ModelError(
                f"{src}: network '{net.name}', parameter '{name}' is declared {tuple(v.shape.dim)} but stored "
                f"{tuple(p.data.shape)}; re-export the model")
    if missing_params:
        more = f" and {len(missing_params) - 3} more" if len(missing_params) > 3 else ""
        raise ModelError(
            f"{src}: network '{net.name}' uses parameters that the file does not store "
            f"({', '.join(missing_params[:3])}{more}); NNabla would run on initial values. "
            "Export the model with its parameters (.h5 or .protobuf)")
    return variables


def _check_variable(where, net, v):
    if v.type not in VARIABLE_TYPES:
        raise ModelError(f"{where}, variable '{v.name}' has type '{v.type}'; NNabla knows Buffer and Parameter. "
                         "Re-export the model")
    dims = list(v.shape.dim)
    if len(dims) > MAX_NDIM or any(d < -1 for d in dims) or \
            _size(net.batch_size if d == -1 else d for d in dims) > MAX_ELEMENTS:
        raise ModelError(f"{where}, variable '{v.name}' has shape {tuple(dims)}; dimensions must be 0 or more "
                         f"(-1 for the batch), at most {MAX_NDIM} of them and {MAX_ELEMENTS:,} elements in all. "
                         "Re-export the model")


def _check_producers_and_cycles(where, net):
    """One producer per variable; no function (through any path) reads what it produces itself."""
    producer: Dict[str, int] = {}
    functions = list(net.function)
    for i, f in enumerate(functions):
        for name in f.output:
            if name in producer:
                other = functions[producer[name]]
                raise ModelError(f"{where}: variable '{name}' is written by two functions ('{_label(other)}' and "
                                 f"'{_label(f)}'); each variable needs one producer. Re-export the model")
            producer[name] = i
    deps = [{producer[n] for n in f.input if n in producer} for f in functions]
    waiting = [len(d) for d in deps]
    dependents: Dict[int, List[int]] = defaultdict(list)
    for i, d in enumerate(deps):
        for j in d:
            dependents[j].append(i)
    ready = [i for i, n in enumerate(waiting) if n == 0]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for k in dependents[i]:
            waiting[k] -= 1
            if waiting[k] == 0:
                ready.append(k)
    if done == len(functions):
        return
    cycle = _find_cycle([i for i, n in enumerate(waiting) if n > 0], deps, waiting)
    names = " -> ".join(f"'{_label(functions[i])}'" for i in cycle + cycle[:1])
    raise ModelError(f"{where} has a cycle: {names} (each feeds the next); "
                     "a network must flow one way. Re-export the model")


def _find_cycle(left, deps, waiting):
    """Walk from a function still waiting along inputs whose producer is also waiting, until one repeats."""
    seen: Dict[int, int] = {}
    path: List[int] = []
    i = left[0]
    while i not in seen:
        seen[i] = len(path)
        path.append(i)
        i = next(j for j in sorted(deps[i]) if waiting[j] > 0)
    return list(reversed(path[seen[i]:]))


def _label(f) -> str:
    return f"{f.name} ({f.type})" if f.name else f.type


def _check_function(where, f, variables):
    from ..graph.functions import function_info

    info = function_info().get(f.type)
    if info is None:
        raise ModelError(f"{where}, function '{_label(f)}' has type '{f.type}', which NNabla does not know; "
                         "re-export the model with this NNabla version")
    arguments = info.get("arguments") or {}
    field = info["snake_name"] + "_param"
    held = f.WhichOneof("parameter")
    if held is not None and held != field:
        raise ModelError(f"{where}, function '{_label(f)}' holds '{held}' arguments, not '{field}'; "
                         "re-export the model")
    if not arguments:
        return
    param = getattr(f, field)
    first = variables.get(f.input[0]) if len(f.input) else None
    ndim = max(len(first.shape.dim), 1) if first is not None else MAX_NDIM
    for name, spec in arguments.items():
        kind = spec.get("type", "")
        if kind not in ("int64", "Shape", "repeated int64") or not hasattr(param, name):
            continue
        value = getattr(param, name)
        values = list(value.dim) if kind == "Shape" else (list(value) if kind.startswith("repeated") else [value])
        problem = argument_problem(name, values, ndim)
        if problem:
            shown = values[0] if kind == "int64" else values
            raise ModelError(f"{where}, function '{_label(f)}': argument {name}={shown} {problem} "
                             f"(NNabla's {f.type} cannot run with it). Re-export the model")


def argument_problem(name, values, ndim):
    if any(abs(v) > MAX_INT_ARG for v in values):
        return f"is out of range (|value| <= {MAX_INT_ARG:,})"
    if name in _POSITIVE and any(v < 1 for v in values):
        return "must be 1 or more"
    if name in _NON_NEGATIVE and any(v < 0 for v in values):
        return "must be 0 or more"
    if name in _NON_ZERO and any(v == 0 for v in values):
        return "must not be 0"
    if name in _AXES and any(not -ndim - 1 <= v <= ndim for v in values):
        return f"is not an axis of its {ndim}-dimensional input"
    return None


def _size(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def _check_user(src, kind, item, networks, parameters):
    net_name = item.network_name
    if net_name not in networks:
        raise ModelError(
            f"{src}: {kind} '{item.name}' names network '{net_name}', which the file does not have "
            f"(it has {', '.join(networks)}); re-export the model")
    variables = networks[net_name]
    for field in ("data_variable", "generator_variable", "loss_variable", "output_variable",
                  "parameter_variable", "monitor_variable"):
        if not hasattr(item, field):
            continue
        for ref in getattr(item, field):
            if ref.variable_name not in variables and not (
                    field == "parameter_variable" and ref.variable_name in parameters):
                raise ModelError(
                    f"{src}: {kind} '{item.name}' names variable '{ref.variable_name}' ({field}), which network "
                    f"'{net_name}' does not have; re-export the model or fix the {kind}")
