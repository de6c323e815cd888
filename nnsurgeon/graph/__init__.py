"""One network's graph: stable names, topology, NNabla's function registry, the live NNabla graph."""
from .naming import assign_function_names
from .network import Network

__all__ = ["Network", "assign_function_names"]
