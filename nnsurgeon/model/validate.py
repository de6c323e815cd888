"""Reject what NNabla silently accepts: dangling names, parameters that are not stored (NNabla would run on
freshly initialised values), executors that name variables their network does not have."""
from ..errors import ModelError
from .nnp import NnpModel


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
    variables = {}
    for v in net.variable:
        variables[v.name] = v
    missing_params = []
    for f in net.function:
        for name in list(f.input) + list(f.output):
            if name not in variables:
                raise ModelError(
                    f"{src}: network '{net.name}', function '{f.name}' ({f.type}) uses variable '{name}', "
                    "which the network does not declare; re-export the model")
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
