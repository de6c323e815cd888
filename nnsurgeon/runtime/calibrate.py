"""Calibration: run data through the float network and turn each watched activation into a range.

Methods: ``minmax`` (min and max over every sample), ``ema`` (exponential moving average of each batch's
min and max, NNabla's MinMaxQuantize rule with its decay), ``percentile`` (mean over batches of each batch's
0.01th and 99.99th percentiles, which ignores rare outliers). Only running statistics are kept, so memory is
flat in the number of samples.
"""
from functools import partial
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import DataError
from .data import in_network, in_network_iter, open_source
from .progress import progress
from .runner import Runner

Ranges = Dict[Tuple[str, str], Tuple[float, float]]


class Calibrator:
    """Callable the quantize pass uses: ``calibrator(model, {network: [variables]}) -> ranges``.

    Example::

        quantize(model, after=["ReLU"], calibrate=Calibrator("calib.npz", batch_size=64))
    """

    def __init__(self, data: str, batch_size: int = 32, max_batches: Optional[int] = None, method: str = "minmax",
                 context: str = "cpu", decay: float = 0.999, percentile: float = 99.99, progress: bool = True,
                 **source_options):
        if method not in ("minmax", "ema", "percentile"):
            raise DataError(f"unknown calibration method '{method}'; use minmax, ema or percentile")
        self.data = data
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.method = method
        self.context = context
        self.decay = decay
        self.percentile = percentile
        self.progress = progress
        self.source_options = source_options  # size, scale, mean, std for images (see open_source)
        self.batches_seen: Dict[str, int] = {}
        self.notes: List[str] = []  # conversions and ignored arrays of the data, said once

    def __call__(self, model, wanted: Dict[str, List[str]]) -> Ranges:
        ranges: Ranges = {}
        for network, variables in wanted.items():
            in_graph = self.method != "percentile"  # min/max computed by NNabla inside the forward
            runner = Runner(model, network, watch=() if in_graph else variables, context=self.context,
                            ranges=variables if in_graph else (), only_watched=True)
            source = in_network(network, partial(open_source, self.data, runner.input_shapes, **self.source_options))
            for note in getattr(source, "notes", []):
                if note not in self.notes:
                    self.notes.append(note)
            stats = {v: _Stat(self.method, self.decay, self.percentile) for v in variables}
            total = -(-source.count // self.batch_size)
            if self.max_batches:
                total = min(total, self.max_batches)
            seen = 0
            batches = source.batches(self.batch_size, self.max_batches)
            for batch in progress(in_network_iter(network, batches), total, f"calibrating {network}", self.progress):
                values = runner.run(batch, copy=False)
                if in_graph:
                    for v, (lo, hi) in runner.last_ranges().items():
                        stats[v].update_range(lo, hi)
                else:
                    for v in variables:
                        stats[v].update(values[v])
                seen += 1
            if seen == 0:
                raise DataError(f"{self.data}: no samples to calibrate with")
            self.batches_seen[network] = seen
            for v in variables:
                ranges[(network, v)] = stats[v].range()
        return ranges


class _Stat:
    def __init__(self, method, decay, percentile):
        self.method, self.decay, self.q = method, decay, percentile
        self.lo = self.hi = None
        self.n = 0

    def update(self, x: np.ndarray) -> None:
        if self.method == "percentile":
            lo, hi = np.percentile(x, [100 - self.q, self.q])
        else:
            lo, hi = float(x.min()), float(x.max())
        self.update_range(float(lo), float(hi))

    def update_range(self, lo: float, hi: float) -> None:
        if self.lo is None:
            self.lo, self.hi = float(lo), float(hi)
        elif self.method == "minmax":
            self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        elif self.method == "ema":
            self.lo = self.decay * self.lo + (1 - self.decay) * lo
            self.hi = self.decay * self.hi + (1 - self.decay) * hi
        else:  # running mean of per-batch percentiles
            self.lo += (float(lo) - self.lo) / (self.n + 1)
            self.hi += (float(hi) - self.hi) / (self.n + 1)
        self.n += 1

    def range(self) -> Tuple[float, float]:
        return float(self.lo), float(self.hi)
