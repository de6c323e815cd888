"""The in-memory form of an .nnp file: everything in it, kept as NNabla's own protobuf messages and arrays.

An ``NnpModel`` holds the file's definition (networks, executors, optimizers, monitors, datasets, training and
global config) as one ``nnabla_pb2.NNablaProtoBuf`` with its ``parameter`` field emptied, the parameters as
numpy arrays in file order, the zip layout (which member held what, in which format) and every other member
byte for byte. Saving writes the same layout back, so a load/save round trip loses nothing.
"""
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

DEFINITION_FORMATS = {".nntxt": "nntxt", ".prototxt": "nntxt", ".protobuf": "protobuf"}


def is_text_definition(name: Optional[str]) -> bool:
    """Whether the member ``name`` holds a definition in protobuf's text format (.nntxt, .prototxt)."""
    return name is not None and DEFINITION_FORMATS.get(os.path.splitext(name)[1].lower()) == "nntxt"


PARAMETER_FORMATS = {".h5": "h5", ".protobuf": "protobuf", ".nntxt": "nntxt", ".prototxt": "nntxt"}


@dataclass
class Parameter:
    """One parameter: its values (dtype and bits as stored) and whether it is trainable."""

    data: np.ndarray
    need_grad: bool = True


@dataclass
class Layout:
    """Where things live inside the zip: member names in order, and which held the definition/parameters."""

    members: List[str] = field(default_factory=list)
    definition: Optional[str] = None
    parameters: Optional[str] = None
    version_member: Optional[str] = "nnp_version.txt"
    sizes: Dict[str, int] = field(default_factory=dict)  # member name -> uncompressed bytes, as read
    # member name -> zip compression (zipfile.ZIP_STORED, ZIP_DEFLATED, ...), as read; the writer keeps it
    compression: Dict[str, int] = field(default_factory=dict)


@dataclass
class NnpModel:
    """A loaded .nnp: definition proto, parameters, layout, untouched extra members and where it came from."""

    proto: object  # nnabla_pb2.NNablaProtoBuf, parameter field empty
    parameters: "OrderedDict[str, Parameter]"
    layout: Layout
    extras: Dict[str, bytes] = field(default_factory=dict)
    version: str = ""
    source: str = ""

    def __post_init__(self):
        # Stable names are assigned once, here; views and every command read them from the definition.
        from ..graph.naming import assign_function_names

        for net in self.proto.network:
            assign_function_names(net.function)
        self._views: Dict[str, object] = {}

    def view(self, name: Optional[str] = None):
        """The :class:`~nnsurgeon.graph.network.Network` view of network ``name``, built once and kept until
        :meth:`invalidate_views` (the plan driver calls it after every step)."""
        proto = self.network(name)
        view = self._views.get(proto.name)
        if view is None or view.proto is not proto:
            from ..graph.network import Network

            view = self._views[proto.name] = Network(proto, self.source)
        return view

    def invalidate_views(self) -> None:
        self._views.clear()

    @property
    def network_names(self) -> List[str]:
        return [n.name for n in self.proto.network]

    def default_network(self) -> Optional[str]:
        """The network the file's first executor runs (what NNabla's runtime runs), the only network when there
        is one, else None."""
        names = self.network_names
        if len(names) == 1:
            return names[0]
        for e in self.proto.executor:
            if e.network_name in names:
                return e.network_name
        return None

    def network(self, name: Optional[str] = None):
        """The ``nnabla_pb2.Network`` called ``name`` (the only one when ``name`` is None and there is one)."""
        from ..errors import SelectionError, opt

        names = self.network_names
        if name is None:
            if len(names) == 1:
                return self.proto.network[0]
            raise SelectionError(
                f"{self.source}: holds {len(names)} networks ({', '.join(names)}); choose one with {opt('network')}"
            )
        for n in self.proto.network:
            if n.name == name:
                return n
        raise SelectionError(
            f"{self.source}: no network named '{name}'; it has: {', '.join(names) or 'none'}"
        )

    def parameter_count(self) -> int:
        return int(sum(p.data.size for p in self.parameters.values()))

    def parameter_bytes(self) -> int:
        return int(sum(p.data.nbytes for p in self.parameters.values()))

    def copy(self) -> "NnpModel":
        """A copy to edit while keeping this one: the definition is copied, parameter arrays are shared (passes
        replace arrays, never write into them)."""
        from nnabla.utils import nnabla_pb2

        proto = nnabla_pb2.NNablaProtoBuf()
        proto.CopyFrom(self.proto)
        params = OrderedDict((k, Parameter(v.data, v.need_grad)) for k, v in self.parameters.items())
        layout = Layout(list(self.layout.members), self.layout.definition, self.layout.parameters,
                        self.layout.version_member, dict(self.layout.sizes), dict(self.layout.compression))
        return NnpModel(proto, params, layout, dict(self.extras), self.version, self.source)

    def replace_contents(self, other: "NnpModel") -> None:
        """Take ``other``'s definition and parameters (a successfully edited copy of this model)."""
        self.proto.CopyFrom(other.proto)
        self.parameters.clear()
        self.parameters.update(other.parameters)
        self.invalidate_views()

    def parameters_key(self) -> tuple:
        """Identifies the parameter values: the same arrays under the same names give the same key (caches of
        values built from the parameters follow the arrays, not the dict)."""
        return tuple((k, id(p.data), p.need_grad) for k, p in self.parameters.items())
