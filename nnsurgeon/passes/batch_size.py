"""set-batch-size: make networks run at a new batch size by default."""
from typing import List

from ..graph.network import Network
from .base import Change, Pass
from .options import NETWORKS, Option


class SetBatchSize(Pass):
    """The network's batch size, and the first dimension of buffer variables that carried the old batch size.
    ``-1`` dimensions stay placeholders, which NNabla fills with the network's batch size when it loads."""

    name = "set-batch-size"
    help = "Set the networks' batch size."
    verbs = ("set batch size on", "would set batch size on")
    noun = "network"
    options = (Option("batch-size", "int", None, "The new batch size.", min=1, max=65536), NETWORKS)
    required = (("batch-size",),)

    def select(self, model, opts):
        return {n: (model.view(n), []) for n in (list(opts.networks) or model.network_names)}

    def match(self, model, net: Network, functions, opts, notes) -> List[Change]:
        old = net.proto.batch_size
        if old == opts.batch_size:
            return []
        return [Change({"network": net.name, "from": old, "to": opts.batch_size})]

    def rewrite(self, model, net: Network, changes: List[Change], opts) -> None:
        old = net.proto.batch_size
        net.proto.batch_size = opts.batch_size
        for v in net.proto.variable:
            if v.type == "Buffer" and len(v.shape.dim) and old > 0 and v.shape.dim[0] == old:
                v.shape.dim[0] = opts.batch_size
        net.refresh()
