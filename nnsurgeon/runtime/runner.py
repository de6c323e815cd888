"""Run a network of a model over batches: live graphs per batch size (the last batch may be smaller),
values of chosen variables kept (``persistent``) while everything else is freed as the forward goes."""
from typing import Dict, Iterable, Optional, Sequence

import numpy as np

from .._nnabla import nnabla_quiet
from ..errors import DataError
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
                 ranges: Sequence[str] = (), only_watched: bool = False):
        nnabla_quiet()
        self.model = model
        self.ranges = list(ranges)  # variables whose min and max NNabla computes in the graph itself
        self.network = model.network(network).name
        self.context = get_context(context) if isinstance(context, str) else context
        self.watch = list(watch)
        self._graphs: Dict[int, LiveNetwork] = {}

        net = model.view(self.network)  # shapes as stored; no graph is built yet
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

    def _graph(self, batch_size: int) -> LiveNetwork:
        if batch_size not in self._graphs:
            if len(self._graphs) >= 3:  # keep at most a few sizes alive
                self._graphs.pop(next(iter(self._graphs)))
            live = LiveNetwork(self.model, self.network, batch_size=batch_size, context=self.context)
            for name in self.watch:
                live.variables[name].persistent = True
            if self.ranges:
                import nnabla.functions as F

                with nnabla_quiet().context_scope(self.context):
                    live.range_vars = {name: (F.min(live.variables[name]), F.max(live.variables[name]))
                                       for name in self.ranges}
            self._graphs[batch_size] = live
        return self._graphs[batch_size]

    def run(self, batch: Dict[str, np.ndarray], watch: Optional[Iterable[str]] = None,
            copy: bool = True) -> Dict[str, np.ndarray]:
        """Forward one batch; return the watched variables' values (copies, or with ``copy=False`` views that
        the next batch overwrites)."""
        check_interrupted()
        nn = nnabla_quiet()
        n = len(next(iter(batch.values()))) if batch else None  # no data input: the network's own batch size
        live = self._graph(n)
        for name, v in live.inputs.items():
            if name in self.input_shapes:
                v.d = batch[name]
        outputs = [live.variables[t] for t in dict.fromkeys(self.targets)]
        if self.ranges:
            outputs += [r for pair in live.range_vars.values() for r in pair]
        with nn.context_scope(self.context):
            if len(outputs) == 1:
                outputs[0].forward(clear_no_need_grad=True)
            else:
                nn.forward_all(outputs, clear_no_need_grad=True)
        self._last = live
        if copy:
            return {name: np.array(live.variables[name].d) for name in (watch or self.watch)}
        return {name: live.variables[name].d for name in (watch or self.watch)}

    def last_ranges(self) -> Dict[str, tuple]:
        """(min, max) of each ``ranges`` variable in the last batch, computed by NNabla in the graph."""
        return {name: (float(lo.d), float(hi.d)) for name, (lo, hi) in self._last.range_vars.items()}


def needed_inputs(net, targets: Sequence[str]) -> set:
    """Network inputs that some path to ``targets`` reads (inputs no target needs, such as the label of a
    training network whose loss is not computed, are left out)."""
    inputs, seen, stack = set(net.inputs), set(), list(targets)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        use = net.producer(v)
        if use is not None:
            stack.extend(use[0].input)
    return inputs & seen
