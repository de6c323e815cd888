"""Which network a command that feeds data runs: the one named, else the network the file's first executor
runs (what NNabla's runtime would run), and the one-line note saying so."""
from typing import Optional, Tuple

from ..errors import SelectionError, opt, render


def data_network(model, name: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """``(network name, note)``: ``name`` when given (checked), else the default network with a note naming it
    and how to choose another (None when the file has one network).

    Example::

        net, note = data_network(load("nnc.nnp"))   # ("MainRuntime", "using network 'MainRuntime' ...")
    """
    if name:
        return model.network(name).name, None
    names = model.network_names
    if len(names) == 1:
        return names[0], None
    default = model.default_network()
    if default is None:
        raise SelectionError(f"{model.source}: holds {len(names)} networks ({', '.join(names)}) and no executor "
                             f"says which one runs; choose one with {opt('network')}")
    executor = next(e.name for e in model.proto.executor if e.network_name == default)
    others = ", ".join(n for n in names if n != default)
    return default, render(f"using network '{default}' (run by the first executor, '{executor}'); "
                     f"choose another ({others}) with {opt('network')}")


def variable_key(network: str, variable: str) -> str:
    """``variable`` without the ``@NETWORK/`` prefix NNabla's saver gives names it generates, so the same
    layer in Training, Validation and Runtime networks has one key (files that share plain names keep them)."""
    prefix = f"@{network}/"
    return variable[len(prefix):] if variable.startswith(prefix) else variable


def calibrate_networks(model, wanted, calibrate, named: bool, grids=None):
    """Ranges ``{(network, variable): (lo, hi)}`` for ``wanted`` (``{network: [variables]}``) through the callable
    ``calibrate(model, wanted)``, and notes. When the networks were not ``named`` and the file has several, only
    the default network (:func:`data_network`) runs the data; every other network gets the range of the
    variable with the same key (:func:`variable_key`); a variable the default network lacks is calibrated in its
    own network, and the note says so. ``grids``: ``{(network, variable): (ql_min, ql_max)}`` for the methods
    that need the quantization grid, passed on to ``calibrate``."""
    notes = []
    grids = dict(grids or {})
    if named or len(model.network_names) < 2 or not wanted:
        return calibrate(model, wanted, grids), notes
    default, _ = data_network(model)
    own = model.view(default).variables
    keys = {variable_key(default, v): v for v in own}
    base = dict.fromkeys(wanted.get(default, []))
    for net, variables in wanted.items():
        for v in variables:
            k = variable_key(net, v)
            if k in keys:
                base.setdefault(keys[k])
                if (net, v) in grids:
                    grids.setdefault((default, keys[k]), grids[(net, v)])
    ranges = calibrate(model, {default: list(base)}, grids) if base else {}
    out, rest, copied = {}, {}, set()
    for net, variables in wanted.items():
        for v in variables:
            source = keys.get(variable_key(net, v))
            if source is not None and (default, source) in ranges:
                out[(net, v)] = ranges[(default, source)]
                if net != default:
                    copied.add(net)
            else:
                rest.setdefault(net, []).append(v)
    if base:
        notes.append(f"calibrated network '{default}' (run by the first executor)"
                     + (f"; gave {', '.join(sorted(copied))} the same ranges for the same variables" if copied else ""))
    for net, variables in rest.items():
        notes.append(f"network '{net}': {len(variables)} variable(s) not in '{default}' "
                     f"({', '.join(variables[:3])}{', ...' if len(variables) > 3 else ''}); calibrated in '{net}'")
        out.update(calibrate(model, {net: variables}, grids))
    return out, notes
