"""Calibration: run data through the float network and turn each watched activation into a range [lo, hi].

Every method sees the whole calibration set; memory is flat in the number of samples (running values or
fixed-bin histograms). With ``x`` every value of the tensor over the whole set and ``b_k`` the batches:

- ``minmax``: ``[min x, max x]``, from each batch's min and max read in place after the forward (one pass).
- ``ema``: ``lo_k = d lo_{k-1} + (1 - d) min b_k`` (same for hi), ``lo_1 = min b_1``, with the decay ``d``
  (``ema-decay``, default 0.999): NNabla's MinMaxQuantize rule. The one method that follows the batches by
  definition (a moving average), so it depends on the batch size and order.
- ``percentile`` ``P``: the ``(100 - P)``-th and ``P``-th percentiles of ``x``, read from a 2048-bin
  histogram of the whole set over ``[min x, max x]`` (a first pass finds that range), linear inside a bin: at
  most one bin width ``(max x - min x) / 2048`` from ``numpy.percentile`` of every value, whatever the batch
  size.
- ``mse``: the clipping threshold ``t`` minimising ``sum_i n_i (c_i - q_t(c_i))^2`` over a 2048-bin histogram
  of ``|x|`` on ``[0, max|x|]`` (``n_i`` counts, ``c_i`` bin centres), where ``q_t`` rounds to the grid of
  step ``s = span / (ql_max - ql_min)`` (``span = t`` when ``min x >= 0``, else ``2 t``) and clips at ``t``.
  Candidates ``t``: every 4th bin edge from edge 16 on.
- ``entropy``: TensorRT's calibrator: for each candidate ``i`` (from ``nq`` to 2048 bins) the reference
  distribution ``P = h[:i]`` with every count above bin ``i`` added to its last bin, ``Q`` = ``h[:i]`` merged
  into ``nq`` groups and spread back evenly over each group's non-empty bins; the threshold is the upper edge
  of bin ``i`` minimising ``KL(P || Q) = sum p log(p / q)``. ``nq`` = the number of levels on one side of 0:
  ``(ql_max - ql_min + 1) / 2`` for signed tensors, ``ql_max - ql_min + 1`` when ``min x >= 0`` (128 or 256 at
  8 bits, as TensorRT). As NVIDIA's pytorch-quantization does, the first bin counts as the second: the spike of
  exact zeros after a ReLU would otherwise dominate the divergence and clip far too low.

``mse`` and ``entropy`` give a symmetric threshold ``t``; the range is ``[max(min x, -t), min(max x, t)]``.
"""
from functools import partial
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import DataError
from .data import in_network, in_network_iter, open_source
from .progress import progress
from .runner import Runner

Ranges = Dict[Tuple[str, str], Tuple[float, float]]
METHODS = ("minmax", "ema", "percentile", "mse", "entropy")
NBINS = 2048
IN_GRAPH = ("minmax", "ema")  # one pass: per-batch min and max, read in place after each forward


class Calibrator:
    """Callable the quantize pass uses: ``calibrator(model, {network: [variables]}, grids) -> ranges``.

    ``grids``: ``{(network, variable): (ql_min, ql_max)}``, the levels each tensor will be quantized to
    (``mse`` and ``entropy`` need them; default 8-bit unsigned).

    Example::

        ranges = Calibrator("calib.npz", batch_size=64, method="percentile")(model, {"Runtime": ["h"]})
    """

    def __init__(self, data: str, batch_size: int = 32, max_batches: Optional[int] = None, method: str = "minmax",
                 context: str = "cpu", decay: float = 0.999, percentile: float = 99.99, progress: bool = True,
                 **source_options):
        if method not in METHODS:
            raise DataError(f"unknown calibration method '{method}'; use {', '.join(METHODS)}")
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

    def __call__(self, model, wanted: Dict[str, List[str]],
                 grids: Optional[Dict[Tuple[str, str], Tuple[float, float]]] = None) -> Ranges:
        ranges: Ranges = {}
        for network, variables in wanted.items():
            stats = {v: make_stat(self.method, self.decay, self.percentile,
                                  (grids or {}).get((network, v), (0.0, 255.0))) for v in variables}
            runner = Runner(model, network, context=self.context, ranges=variables, only_watched=True)
            source = in_network(network, partial(open_source, self.data, runner.input_shapes, **self.source_options))
            for note in getattr(source, "notes", []):
                if note not in self.notes:
                    self.notes.append(note)
            seen = 0
            for batch in self._batches(source, network, "calibrating"):
                runner.run(batch, copy=False)
                for v, (lo, hi) in runner.last_ranges().items():
                    stats[v].update_range(lo, hi)
                seen += 1
            if seen == 0:
                raise DataError(f"{self.data}: no samples to calibrate with")
            self.batches_seen[network] = seen
            if self.method not in IN_GRAPH:  # second pass: histograms over the ranges the first pass found
                runner = Runner(model, network, watch=variables, context=self.context, only_watched=True)
                histograms_beside(runner, self._batches(source, network, "histograms"), stats)
            for v in variables:
                ranges[(network, v)] = stats[v].range()
        return ranges

    def _batches(self, source, network, what):
        total = -(-source.count // self.batch_size)
        if self.max_batches:
            total = min(total, self.max_batches)
        return progress(in_network_iter(network, source.batches(self.batch_size, self.max_batches)), total,
                        f"{what} {network}", self.progress)


OVERLAP_BYTES = 256 << 20  # a batch's watched activations copied for the histogram thread, at most


def histograms_beside(runner, batches, stats) -> None:
    """Run ``batches`` and add each watched activation to its histogram in a second thread while the next
    batch runs (NNabla's forward and numpy's histogram both release the GIL: on two cores the histograms cost
    little time of their own). The thread gets a copy (the next forward overwrites NNabla's buffers); one
    copy at a time, and none for a batch whose activations exceed ``OVERLAP_BYTES`` (added in place, without
    overlap), so memory stays flat and bounded."""
    from concurrent.futures import ThreadPoolExecutor

    def add(values):
        for v, x in values.items():
            stats[v].update(x)

    pending = None
    with ThreadPoolExecutor(max_workers=1) as worker:
        try:
            for batch in batches:
                values = runner.run(batch, copy=False)  # runs while the previous batch's histograms are built
                if pending is not None:
                    pending.result()
                    pending = None
                if sum(x.nbytes for x in values.values()) <= OVERLAP_BYTES:
                    pending = worker.submit(add, {v: np.array(x) for v, x in values.items()})
                else:
                    add(values)
            if pending is not None:
                pending.result()
        finally:
            if pending is not None:
                pending.cancel()


def make_stat(method: str, decay: float = 0.999, percentile: float = 99.99, grid=(0.0, 255.0)):
    """The running statistic of ``method``: ``update_range(lo, hi)`` per batch (first pass), then for the
    histogram methods ``update(values)`` per batch (second pass); ``range()`` at the end."""
    if method in IN_GRAPH:
        return RangeStat(method, decay)
    return HistogramStat(method, percentile, grid)


class RangeStat:
    """``minmax`` and ``ema`` from each batch's min and max."""

    def __init__(self, method: str, decay: float = 0.999):
        self.method, self.decay = method, decay
        self.lo = self.hi = None

    def update_range(self, lo: float, hi: float) -> None:
        if self.lo is None:
            self.lo, self.hi = float(lo), float(hi)
        elif self.method == "minmax":
            self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        else:
            self.lo = self.decay * self.lo + (1 - self.decay) * lo
            self.hi = self.decay * self.hi + (1 - self.decay) * hi

    def update(self, x: np.ndarray) -> None:
        self.update_range(float(x.min()), float(x.max()))

    def range(self) -> Tuple[float, float]:
        return float(self.lo), float(self.hi)


class HistogramStat:
    """``percentile``, ``mse`` and ``entropy``: a first pass for [min, max], then a fixed 2048-bin histogram
    of the whole set (of ``x`` for percentile, of ``|x|`` otherwise)."""

    def __init__(self, method: str, percentile: float = 99.99, grid=(0.0, 255.0)):
        self.method, self.q, self.grid = method, percentile, grid
        self.lo = self.hi = None
        self.counts = np.zeros(NBINS, np.int64)

    def update_range(self, lo: float, hi: float) -> None:
        self.lo = float(lo) if self.lo is None else min(self.lo, float(lo))
        self.hi = float(hi) if self.hi is None else max(self.hi, float(hi))

    def _edges_range(self) -> Tuple[float, float]:
        if self.method == "percentile":
            return self.lo, self.hi if self.hi > self.lo else self.lo + 1e-12
        return 0.0, max(abs(self.lo), abs(self.hi), 1e-12)

    def update(self, x: np.ndarray) -> None:
        a, b = self._edges_range()
        values = x if self.method == "percentile" else np.abs(x)
        self.counts += np.histogram(values, bins=NBINS, range=(a, b))[0]

    def range(self) -> Tuple[float, float]:
        a, b = self._edges_range()
        edges = np.linspace(a, b, NBINS + 1)
        if self.method == "percentile":
            return (histogram_percentile(self.counts, edges, 100.0 - self.q),
                    histogram_percentile(self.counts, edges, self.q))
        span = float(self.grid[1] - self.grid[0])
        signed = self.lo < 0
        if self.method == "mse":
            t = mse_threshold(self.counts, edges, span, signed)
        else:
            nq = int(round((span + 1) / 2)) if signed else int(round(span + 1))
            t = entropy_threshold(self.counts, edges, nq)
        return max(self.lo, -t), min(self.hi, t)


def histogram_percentile(counts: np.ndarray, edges: np.ndarray, q: float) -> float:
    """The ``q``-th percentile of the values a histogram counts, linear inside the bin it falls in."""
    total = counts.sum()
    target = q / 100.0 * total
    cdf = np.cumsum(counts)
    i = int(np.searchsorted(cdf, target, side="left"))
    i = min(i, len(counts) - 1)
    before = cdf[i] - counts[i]
    frac = 0.0 if counts[i] == 0 else (target - before) / counts[i]
    return float(edges[i] + min(max(frac, 0.0), 1.0) * (edges[i + 1] - edges[i]))


def mse_threshold(counts: np.ndarray, edges: np.ndarray, span_levels: float, signed: bool) -> float:
    """The threshold among every 4th edge (from edge 16) minimising the histogram's quantization error."""
    centres = (edges[:-1] + edges[1:]) / 2
    candidates = edges[16::4]
    best, best_err = float(edges[-1]), np.inf
    for t in candidates:
        step = (2 * t if signed else t) / span_levels
        q = np.minimum(np.round(centres / step) * step, t)
        err = float(np.dot(counts, (centres - q) ** 2))
        if err < best_err:
            best, best_err = float(t), err
    return best


def entropy_threshold(counts: np.ndarray, edges: np.ndarray, nq: int) -> float:
    """TensorRT's KL-divergence threshold (module doc) on a histogram of |x|."""
    counts = counts.astype(np.float64)
    counts[0] = counts[1] if len(counts) > 1 else counts[0]  # the spike at 0 (ReLU zeros) would dominate the KL
    n = len(counts)
    if nq >= n:
        return float(edges[-1])
    best_i, best_kl = n, np.inf
    for i in range(nq, n + 1):
        p = counts[:i].copy()
        p[i - 1] += counts[i:].sum()
        group = (np.arange(i) * nq) // i  # which of the nq merged bins each of the i bins falls in
        nonzero = counts[:i] > 0
        sums = np.bincount(group, weights=counts[:i], minlength=nq)
        used = np.bincount(group, weights=nonzero.astype(np.float64), minlength=nq)
        q = np.where(nonzero, sums[group] / np.maximum(used[group], 1), 0.0)
        kl = _kl(p, q)
        if kl < best_kl:
            best_i, best_kl = i, kl
    return float(edges[best_i])


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    ps, qs = p.sum(), q.sum()
    if ps == 0 or qs == 0:
        return np.inf
    p, q = p / ps, q / qs
    mask = p > 0
    if np.any(q[mask] == 0):
        return np.inf
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))
