"""The rows of ``list-layers``: one per function, in forward order, as NNabla builds the network.

Shapes come from the file where it states them (:func:`~nnsurgeon.graph.live.static_network`): building
NNabla's graph costs about 1 ms per function, reading the stored shapes next to nothing. A changed batch size
or a shape the file leaves open goes through NNabla's own shape inference (:class:`LiveNetwork`)."""
from typing import Dict, List, Optional

from .live import LiveNetwork, static_network


def layer_rows(model, network: Optional[str] = None, batch_size: Optional[int] = None) -> List[Dict]:
    """One dict per function of ``network`` (every network when None): network, index, name, type, inputs and
    outputs (``{name, shape}``, parameters apart), args, parameters and params (parameter element count).

    Example::

        rows = layer_rows(read_nnp("model.nnp"))
        print([r["name"] for r in rows if r["type"] == "ReLU"])
    """
    names = [network] if network else model.network_names
    rows = []
    for net_name in names:
        # the file's stored shapes where they give what NNabla computes; NNabla's graph otherwise
        live = static_network(model, net_name, batch_size) or LiveNetwork(model, net_name, batch_size=batch_size)
        kinds = {v.name: v.type for v in model.network(net_name).variable}
        for index, pf in enumerate(live.functions):
            inputs, params = [], []
            for n in pf.inputs:
                entry = {"name": n, "shape": _shape(live, n)}
                (params if kinds.get(n) == "Parameter" else inputs).append(entry)
            rows.append({
                "network": net_name,
                "index": index,
                "name": pf.name,
                "type": pf.type,
                "inputs": inputs,
                "outputs": [{"name": n, "shape": _shape(live, n)} for n in pf.outputs],
                "args": _plain(pf.args or {}),
                "parameters": params,
                "params": int(sum(_size(p["shape"]) for p in params)),
            })
    return rows


def _shape(live, name):
    s = live.shape(name)
    return list(s) if s is not None else None


def _size(shape):
    n = 1
    for d in shape or ():
        n *= d
    return n


def _plain(args: dict) -> dict:
    """Arguments as JSON-friendly values (tuples to lists, numpy scalars to Python)."""
    out = {}
    for k, v in args.items():
        if isinstance(v, (list, tuple)):
            v = [x.item() if hasattr(x, "item") else x for x in v]
        elif hasattr(v, "item"):
            v = v.item()
        out[k] = v
    return out
