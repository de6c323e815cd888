"""What ``nnsurgeon info`` reports: the zip's members and everything the definition holds."""
from collections import Counter
from typing import Dict


def summarize(model) -> Dict:
    """A JSON-friendly summary of ``model``: members, networks, executors, optimizers, monitors, datasets,
    parameters, function-type histogram and nnp version."""
    p = model.proto
    networks = []
    types = Counter()
    for net in p.network:
        produced = {o for f in net.function for o in f.output}
        consumed = {i for f in net.function for i in f.input}
        kinds = {v.name: v for v in net.variable}
        inputs = [v for v in net.variable if v.type != "Parameter" and v.name in consumed and v.name not in produced]
        outputs = [v for v in net.variable if v.name in produced and v.name not in consumed]
        types.update(f.type for f in net.function)
        networks.append({
            "name": net.name,
            "batch_size": net.batch_size,
            "functions": len(net.function),
            "inputs": [{"name": v.name, "shape": list(v.shape.dim)} for v in inputs],
            "outputs": [{"name": v.name, "shape": list(v.shape.dim)} for v in outputs],
            "parameters": sum(1 for v in kinds.values() if v.type == "Parameter"),
        })
    return {
        "file": model.source,
        "nnp_version": model.version.strip(),
        "members": _members(model),
        "networks": networks,
        "executors": [{"name": e.name, "network": e.network_name,
                       "data": [d.variable_name for d in e.data_variable],
                       "outputs": [o.variable_name for o in e.output_variable]} for e in p.executor],
        "optimizers": [{"name": o.name, "network": o.network_name, "solver": o.solver.type,
                        "datasets": list(o.dataset_name)} for o in p.optimizer],
        "monitors": [{"name": m.name, "network": m.network_name, "datasets": list(m.dataset_name)}
                     for m in p.monitor],
        "datasets": [{"name": d.name, "uri": d.uri, "batch_size": d.batch_size} for d in p.dataset],
        "training_config": ({"max_epoch": p.training_config.max_epoch,
                             "iter_per_epoch": p.training_config.iter_per_epoch,
                             "save_best": p.training_config.save_best}
                            if p.HasField("training_config") else None),
        "parameters": {"tensors": len(model.parameters), "count": model.parameter_count(),
                       "bytes": model.parameter_bytes()},
        "function_types": dict(sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def _members(model):
    """The zip's members; for an ONNX file (converted in memory), the file itself."""
    import os

    if model.source.lower().endswith(".onnx") and os.path.isfile(model.source):
        return [{"name": os.path.basename(model.source) + " (ONNX, converted in memory)",
                 "bytes": os.path.getsize(model.source)}]
    return [{"name": n, "bytes": model.layout.sizes.get(n, 0)} for n in model.layout.members]
