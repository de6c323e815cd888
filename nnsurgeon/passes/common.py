"""What several passes share: the model-level references to a network's variables (executors, optimizers,
monitors, datasets), and dropping parameters a pass made unused."""
from typing import Iterator, Set, Tuple

_FIELDS = ("data_variable", "generator_variable", "loss_variable", "output_variable", "parameter_variable",
           "monitor_variable")


def references(model, network: str) -> Iterator[Tuple[str, object, str, object]]:
    """(kind, item, field, ref) for every executor/optimizer/monitor reference to a variable of ``network``."""
    for kind, items in (("executor", model.proto.executor), ("optimizer", model.proto.optimizer),
                        ("monitor", model.proto.monitor)):
        for item in items:
            if item.network_name != network:
                continue
            for field in _FIELDS:
                for ref in getattr(item, field, ()):
                    yield kind, item, field, ref


def referenced_variables(model, network: str) -> Set[str]:
    return {ref.variable_name for _, _, field, ref in references(model, network) if field != "parameter_variable"}


def used_parameters(model) -> Set[str]:
    """Parameter names some function of some network reads."""
    used = set()
    for net in model.proto.network:
        kinds = {v.name: v.type for v in net.variable}
        for f in net.function:
            used.update(n for n in f.input if kinds.get(n) == "Parameter")
    return used


def drop_parameters_no_longer_used(model, before: Set[str]) -> Set[str]:
    """Remove parameters that were used before a pass and are not now (parameters the file stored without
    using stay: a round trip keeps them). Returns the names removed."""
    gone = before - used_parameters(model)
    for name in gone:
        model.parameters.pop(name, None)
    for items in (model.proto.executor, model.proto.optimizer):
        for item in items:
            refs = [r for r in item.parameter_variable if r.variable_name in gone]
            for r in refs:
                item.parameter_variable.remove(r)
    return gone
