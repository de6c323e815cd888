"""One network of a model as a graph: functions in order, producers and consumers of every variable, network
inputs and outputs, stable function names, and the edits passes make (add a function, rename a variable).

Edits happen on NNabla's own ``nnabla_pb2.Network`` message, so everything the file says about the network
(variable initialisers, repeat ids, contexts) survives, and saving stays linear in the graph's size.
"""
from collections import defaultdict
from typing import Dict, List, Optional, Set, Tuple

from ..errors import ModelError
from .naming import unique_name

Use = Tuple[object, int]  # (nnabla_pb2.Function, input or output index)


class Network:
    """A view over one ``nnabla_pb2.Network``; :meth:`refresh` after editing the message directly.

    Example::

        net = Network(model.network("Runtime"))
        for f in net.topological():
            print(f.name, f.type, [net.consumers(o) for o in f.output])
    """

    def __init__(self, proto, source: str = ""):
        self.proto = proto
        self.source = source
        self.refresh()

    @property
    def name(self) -> str:
        return self.proto.name

    def refresh(self) -> None:
        self.variables = {v.name: v for v in self.proto.variable}
        self.functions = {f.name: f for f in self.proto.function}
        self._producer: Dict[str, Use] = {}
        self._consumers: Dict[str, List[Use]] = defaultdict(list)
        for f in self.proto.function:
            for i, name in enumerate(f.input):
                self._consumers[name].append((f, i))
            for i, name in enumerate(f.output):
                self._producer[name] = (f, i)

    # -- queries -------------------------------------------------------------------------------------------
    def producer(self, variable: str) -> Optional[Use]:
        return self._producer.get(variable)

    def consumers(self, variable: str) -> List[Use]:
        return list(self._consumers.get(variable, ()))

    def is_parameter(self, variable: str) -> bool:
        v = self.variables.get(variable)
        return v is not None and v.type == "Parameter"

    @property
    def inputs(self) -> List[str]:
        """Network inputs as NNabla sees them: buffers that some function reads and none produces."""
        return [v.name for v in self.proto.variable
                if v.type != "Parameter" and v.name not in self._producer and v.name in self._consumers]

    def input_shapes(self) -> Dict[str, Tuple[int, ...]]:
        """Each network input's shape as stored, without the batch dimension."""
        return {k: tuple(self.variables[k].shape.dim[1:]) for k in self.inputs}

    @property
    def outputs(self) -> List[str]:
        """Network outputs as NNabla sees them: variables some function produces and none reads."""
        return [v.name for v in self.proto.variable if v.name in self._producer and v.name not in self._consumers]

    def upstream(self, variables) -> Tuple[Set[str], Set[str]]:
        """What computing ``variables`` needs: (every variable on a path to them, them included; the names of
        the functions that produce those variables)."""
        seen: Set[str] = set()
        functions: Set[str] = set()
        stack = list(variables)
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            use = self._producer.get(v)
            if use is not None:
                functions.add(use[0].name)
                stack.extend(use[0].input)
        return seen, functions

    def uses_loop_control(self) -> bool:
        return any(f.type in _LOOP_CONTROL for f in self.proto.function) or len(self.proto.repeat_info) > 0

    def require_plain(self, what: str) -> None:
        """Refuse networks with loop control (RepeatStart, RecurrentInput, ...): NNabla expands them into
        renamed copies when it builds them, so their functions have no single stable name to edit or read."""
        if self.uses_loop_control():
            from ..errors import SelectionError

            raise SelectionError(
                f"{self.source}: network '{self.name}' uses loop control (repeat/recurrent functions), which "
                f"nnsurgeon cannot {what} yet; list-layers, info and convert work on it")

    def topological(self) -> List[object]:
        """Functions in an order where every producer comes before its consumers; file order among equals."""
        order = {id(f): i for i, f in enumerate(self.proto.function)}
        pending = {}
        ready = []
        for f in self.proto.function:
            deps = {id(self._producer[n][0]) for n in f.input if n in self._producer}
            deps.discard(id(f))
            pending[id(f)] = len(deps)
            if not deps:
                ready.append(f)
        dependents = defaultdict(dict)  # producer id -> {consumer name: consumer}
        for f in self.proto.function:
            for n in f.input:
                if n in self._producer and self._producer[n][0] is not f:
                    dependents[id(self._producer[n][0])][f.name] = f
        import heapq

        heap = [(order[id(f)], f.name) for f in ready]
        heapq.heapify(heap)
        result = []
        while heap:
            _, name = heapq.heappop(heap)
            f = self.functions[name]
            result.append(f)
            for g in dependents[id(f)].values():
                pending[id(g)] -= 1
                if pending[id(g)] == 0:
                    heapq.heappush(heap, (order[id(g)], g.name))
        if len(result) != len(self.proto.function):
            raise ModelError(f"{self.source}: network '{self.name}' has a cycle; re-export the model")
        return result

    def function(self, name: str):
        from ..errors import SelectionError

        if name not in self.functions:
            import difflib

            close = difflib.get_close_matches(name, list(self.functions), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise SelectionError(
                f"network '{self.name}' has no function '{name}'{hint} See 'nnsurgeon list-layers {self.source}'")
        return self.functions[name]

    # -- edits ---------------------------------------------------------------------------------------------
    def taken_names(self) -> Set[str]:
        return set(self.variables) | set(self.functions)

    def add_variable(self, base: str, shape, kind: str = "Buffer", taken: Optional[Set[str]] = None) -> str:
        """Declare a new variable named ``base`` (made unique); return its name."""
        name = unique_name(base, taken if taken is not None else set(self.variables))
        v = self.proto.variable.add()
        v.name = name
        v.type = kind
        v.shape.dim.extend(list(shape))
        self.variables[name] = v
        return name

    def insert_functions(self, placements: Dict[str, List[object]],
                         before: Optional[Dict[str, List[object]]] = None) -> None:
        """Insert new ``nnabla_pb2.Function`` messages, each list right after the function named by its key
        (``before``: right before it), so file order keeps producers before their new consumers. One pass over
        the list, so inserting k functions into n costs O(n + k), not O(n k)."""
        before = before or {}
        if not placements and not before:
            return
        ordered = []
        for f in self.proto.function:
            ordered.extend(before.get(f.name, ()))
            ordered.append(f)
            ordered.extend(placements.get(f.name, ()))
        self._set_functions(ordered)

    def _set_functions(self, functions: List[object]) -> None:
        """Make the network's function list ``functions`` (copied first: they may be its own messages)."""
        replace_messages(self.proto.function, functions)
        self.refresh()

    def redirect_uses(self, old: str, new: str) -> int:
        """Every function input that reads ``old`` reads ``new`` instead; returns how many were changed."""
        n = 0
        for f, i in self.consumers(old):
            f.input[i] = new
            n += 1
        self.refresh()
        return n

    def rename_variable(self, old: str, new: str) -> None:
        """Rename a declared variable everywhere in this network (its declaration, producers, consumers)."""
        self.variables[old].name = new
        for f in self.proto.function:
            for i, name in enumerate(f.input):
                if name == old:
                    f.input[i] = new
            for i, name in enumerate(f.output):
                if name == old:
                    f.output[i] = new
        self.refresh()

    def remove_functions(self, names: Set[str]) -> None:
        """Delete the functions called ``names`` (one pass over the list)."""
        if names:
            self._set_functions([f for f in self.proto.function if f.name not in names])

    def prune_variables(self) -> List[str]:
        """Drop declared variables that no function reads or writes any more; return their names."""
        used = {n for f in self.proto.function for n in list(f.input) + list(f.output)}
        dropped = [v.name for v in self.proto.variable if v.name not in used]
        if dropped:
            replace_messages(self.proto.variable, [v for v in self.proto.variable if v.name in used])
            self.refresh()
        return dropped

    def drop_declaration(self, name: str) -> None:
        """Delete the declaration of variable ``name`` (its producers and consumers are the caller's)."""
        for i, v in enumerate(self.proto.variable):
            if v.name == name:
                del self.proto.variable[i]
                break
        self.refresh()

    def rename_output(self, function, index: int, new_name: str) -> str:
        """Make ``function``'s output ``index`` write to ``new_name`` instead; return the old name. Consumers
        and executors still name the old variable, which the caller gives a new producer."""
        old = function.output[index]
        function.output[index] = new_name
        return old


def replace_messages(field, messages: List[object]) -> None:
    """Set a repeated message field to copies of ``messages`` in one pass (protobuf has no cheap insert or
    delete in the middle: rebuilding is O(n))."""
    copies = []
    for m in messages:
        c = type(m)()
        c.CopyFrom(m)
        copies.append(c)
    del field[:]
    field.extend(copies)


_LOOP_CONTROL = {"RepeatStart", "RepeatEnd", "RecurrentInput", "RecurrentOutput", "Delay"}
