"""Run a network of a model over batches: live graphs per batch size (the last batch may be smaller),
values of chosen variables kept (``persistent``) while everything else is freed as the forward goes.

A network whose batch size is fixed inside the graph (a Reshape to (1, ...), as NNabla's ONNX importer
writes them) cannot be built at another batch size: the runner then runs it at its own batch size, a slice
of each batch at a time (the last slice padded by repeating a sample, whose values are dropped), and says so
once (``notes``, and a warning on the ``nnsurgeon`` logger, which the CLI prints as a ``note:`` line).
"""
import logging
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from .._nnabla import c_stderr_silenced, nnabla_quiet
from ..errors import DataError, ModelError
from ..graph.live import LiveNetwork
from ..interrupt import check_interrupted
from .context import get_context


class Runner:
    """Feeds batches to network ``network`` of ``model`` and returns the values of ``watch`` variables.

    Example::

        runner = Runner(model, "Runtime", watch=["y"])
        for batch in batches:
            values = runner.run(batch)
    """

    def __init__(self, model, network: Optional[str] = None, watch: Sequence[str] = (), context: str = "cpu",
                 ranges: Sequence[str] = (), only_watched: bool = False, ranges_in_graph: Optional[bool] = None):
        nnabla_quiet()
        self.model = model
        self.ranges = list(ranges)  # variables whose min and max each batch gives
        self.network = model.network(network).name
        self.context = get_context(context) if isinstance(context, str) else context
        self.watch = list(watch)
        self._graphs: Dict[int, LiveNetwork] = {}
        # static quantizers run as their bit-identical faster equivalent (runtime/fastquant.py); checked
        # against NNabla's CPU kernels, so other backends run MinMaxQuantize itself
        from .fastquant import measurement_model

        on_cpu = all(str(b).startswith("cpu") for b in getattr(self.context, "backend", ["cpu"]))
        self.run_model = measurement_model(model, self.network) if on_cpu else model
        # ranges: on CPU numpy reads each activation's min and max in place (several times faster than
        # NNabla's reductions); elsewhere NNabla reduces on the device, all of them stacked into one small
        # output read once per batch (a device array read costs a transfer)
        self.ranges_in_graph = (not on_cpu) if ranges_in_graph is None else ranges_in_graph
        self.notes: List[str] = []
        self.fixed_batch: Optional[int] = None  # set when the network runs only at its own batch size

        net = model.view(self.network)  # shapes as stored; no graph is built yet
        self._stored_batch = net.proto.batch_size if net.proto.batch_size > 0 else None
        self._batched_outputs = [o for o in net.outputs if self._stored_batch and len(net.variables[o].shape.dim)
                                 and net.variables[o].shape.dim[0] == self._stored_batch]
        self.output_names = net.outputs
        missing = [w for w in self.watch + self.ranges if w not in net.variables]
        if missing:
            raise DataError(f"network '{self.network}' has no variable {', '.join(missing)}")
        # what the forward computes: the network outputs, or with only_watched just the watched variables, so
        # inputs only the outputs need (labels of a training network) are not demanded
        self.targets = (self.watch + self.ranges) if only_watched and (self.watch or self.ranges) \
            else list(self.output_names)
        needed = needed_inputs(net, self.targets)
        self.input_shapes = {k: v for k, v in net.input_shapes().items() if k in needed}
        self.unused_inputs = [k for k in net.inputs if k not in needed]

    def set_watch(self, watch: Sequence[str]) -> None:
        """Watch other variables from now on (graphs are rebuilt: watched variables are kept when built)."""
        self.watch = list(watch)
        self._graphs.clear()

    def _graph(self, batch_size: int) -> LiveNetwork:
        if batch_size not in self._graphs:
            if len(self._graphs) >= 3:  # keep at most a few sizes alive
                self._graphs.pop(next(iter(self._graphs)))
            live = LiveNetwork(self.run_model, self.network, batch_size=batch_size, context=self.context)
            for name in self.watch:
                live.variables[name].persistent = True
            if self.ranges and self.ranges_in_graph:
                import nnabla.functions as F

                with nnabla_quiet().context_scope(self.context):
                    ends = [F.reshape(r(live.variables[name]), (1,)) for name in self.ranges for r in (F.min, F.max)]
                    live.range_stack = F.concatenate(*ends, axis=0) if len(ends) > 1 else ends[0]
            elif self.ranges:
                for name in self.ranges:  # kept after the forward: numpy reads their min and max in place
                    live.variables[name].persistent = True
            self._graphs[batch_size] = live
        return self._graphs[batch_size]

    def _builds_at(self, n: int) -> bool:
        """Whether the network builds at batch size ``n`` with outputs of that batch size."""
        try:
            live = self._graph(n)
        except ModelError:
            if n == self._stored_batch or self._stored_batch is None:
                raise
            return False
        return all(live.outputs[o].shape[0] == n for o in self._batched_outputs if o in live.outputs)

    def run(self, batch: Dict[str, np.ndarray], watch: Optional[Iterable[str]] = None,
            copy: bool = True) -> Dict[str, np.ndarray]:
        """Forward one batch; return the watched variables' values (copies, or with ``copy=False`` views that
        the next batch overwrites)."""
        check_interrupted()
        n = len(next(iter(batch.values()))) if batch else None  # no data input: the network's own batch size
        if n is not None and self.fixed_batch is None and n != self._stored_batch and not self._builds_at(n):
            self._graphs.pop(n, None)
            self.fixed_batch = self._stored_batch
            note = (f"network '{self.network}' has its batch size fixed to {self.fixed_batch} inside the graph; "
                    f"running {self.fixed_batch} sample(s) at a time")
            self.notes.append(note)
            logging.getLogger("nnsurgeon").warning(note)
        if n is not None and self.fixed_batch is not None and n != self.fixed_batch:
            return self._run_sliced(batch, n, watch)
        return self._run(batch, n, watch, copy)

    def _run_sliced(self, batch, n, watch) -> Dict[str, np.ndarray]:
        size = self.fixed_batch
        parts: Dict[str, list] = {}
        lo = hi = None
        for start in range(0, n, size):
            part = {k: v[start:start + size] for k, v in batch.items()}
            real = len(next(iter(part.values())))
            if real < size:
                part = {k: np.concatenate([v, np.repeat(v[-1:], size - real, axis=0)]) for k, v in part.items()}
            values = self._run(part, size, watch, True)
            for k, v in values.items():
                parts.setdefault(k, []).append(v[:real])
            if self.ranges:
                r = {k: self._last_range(k) for k in self.ranges}
                lo = {k: v[0] for k, v in r.items()} if lo is None else {k: min(lo[k], r[k][0]) for k in r}
                hi = {k: v[1] for k, v in r.items()} if hi is None else {k: max(hi[k], r[k][1]) for k in r}
        self._sliced_ranges = {k: (lo[k], hi[k]) for k in self.ranges} if self.ranges else None
        return {k: np.concatenate(v) for k, v in parts.items()}

    def _last_range(self, name):
        return self._last_ranges[name]

    def _run(self, batch, n, watch, copy) -> Dict[str, np.ndarray]:
        nn = nnabla_quiet()
        self._sliced_ranges = None
        live = self._graph(n)
        outputs = [live.variables[t] for t in dict.fromkeys(self.targets)]
        if self.ranges and self.ranges_in_graph:
            outputs.append(live.range_stack)
        # NNabla's allocator prints 'Failed to allocate again.' on fd 2 before raising: one Error line only
        with nn.context_scope(self.context), c_stderr_silenced():
            for name, v in live.inputs.items():
                if name in self.input_shapes:  # inputs the watched values need (labels are not demanded)
                    v.d = batch[name]
            if len(outputs) == 1:
                outputs[0].forward(clear_no_need_grad=True)
            else:
                nn.forward_all(outputs, clear_no_need_grad=True)
        self._last = live
        if self.ranges and self.ranges_in_graph:
            stack = live.range_stack.d.tolist()
            self._last_ranges = {name: (stack[2 * i], stack[2 * i + 1]) for i, name in enumerate(self.ranges)}
        elif self.ranges:
            # fmin/fmax skip NaN as NNabla's reductions do (a Log of a negative value must not make the range
            # NaN); + 0.0 turns a -0.0 end into 0.0
            values = {name: live.variables[name].d for name in self.ranges}
            self._last_ranges = {name: (float(np.fmin.reduce(v, axis=None)) + 0.0,
                                        float(np.fmax.reduce(v, axis=None)) + 0.0) for name, v in values.items()}
        if copy:
            return {name: np.array(live.variables[name].d) for name in (watch or self.watch)}
        return {name: live.variables[name].d for name in (watch or self.watch)}

    def last_ranges(self) -> Dict[str, tuple]:
        """(min, max) of each ``ranges`` variable in the last batch."""
        if getattr(self, "_sliced_ranges", None):
            return dict(self._sliced_ranges)
        return dict(self._last_ranges)


def needed_inputs(net, targets: Sequence[str]) -> set:
    """Network inputs that some path to ``targets`` reads (inputs no target needs, such as the label of a
    training network whose loss is not computed, are left out)."""
    return set(net.inputs) & net.upstream(targets)[0]
