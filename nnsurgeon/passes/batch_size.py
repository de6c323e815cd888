"""set-batch-size: make networks run at a new batch size by default."""
from typing import Optional, Sequence

from ..errors import SelectionError
from .base import PassResult


def set_batch_size(model, batch_size: int, networks: Optional[Sequence[str]] = None,
                   dry_run: bool = False) -> PassResult:
    """Set ``batch_size`` on ``networks`` (all when None): the network's batch size, and the first dimension
    of buffer variables that carried the old batch size. ``-1`` dimensions stay placeholders, which NNabla
    fills with the network's batch size when it loads the file."""
    if batch_size < 1:
        raise SelectionError(f"batch size must be at least 1, got {batch_size}")
    result = PassResult("set-batch-size")
    for name in networks or model.network_names:
        net = model.network(name)
        old = net.batch_size
        if old == batch_size:
            continue
        if dry_run:
            result.records.append({"network": name, "from": old, "to": batch_size})
            continue
        net.batch_size = batch_size
        changed_vars = 0
        for v in net.variable:
            if v.type == "Buffer" and len(v.shape.dim) and old > 0 and v.shape.dim[0] == old:
                v.shape.dim[0] = batch_size
                changed_vars += 1
        result.changed = True
        result.records.append({"network": name, "from": old, "to": batch_size, "variables": changed_vars})
    result.summary = f"{'would set' if dry_run else 'set'} batch size {batch_size} on {len(result.records)} network(s)"
    return result
