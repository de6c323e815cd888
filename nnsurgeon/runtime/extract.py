"""extract: the output of chosen functions for every sample, keyed by the functions' stable names.

Keys: a function's stable name (as ``list-layers`` shows it); a function with several outputs gives one
key per output, ``NAME:0``, ``NAME:1``, ... Residual forks give each output once: keys follow producers,
not consumers.
"""
import difflib
import json
import os
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np

from ..errors import OutputError, SelectionError, opt
from ..interrupt import check_interrupted
from .progress import progress
from .runner import Runner


@dataclass
class Layer:
    """One extracted value: its key, the function (stable name, type) and the variable it reads."""

    key: str
    function: str
    type: str
    variable: str


def resolve_layers(model, network: str, layers: Sequence[str] = (), types: Sequence[str] = (),
                   exclude: Sequence[str] = ()) -> List[Layer]:
    """The layers to extract, in forward order. ``layers`` are stable names or globs (``re:`` for regex);
    none means every function. A plain name that matches nothing is an error with the closest name."""
    from ..rules.selector import compile_selector

    net = model.view(network)
    net.require_plain("extract from")
    functions = net.topological()
    names = [f.name for f in functions]
    layers = [_by_variable(net, p) for p in layers]
    for pattern in layers:
        if not pattern.startswith("re:") and not any(ch in pattern for ch in "*?[") and pattern not in net.functions:
            base = pattern.rsplit(":", 1)[0]
            if base in net.functions:
                continue
            close = difflib.get_close_matches(pattern, names, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise SelectionError(f"network '{network}' has no layer '{pattern}'{hint} "
                                 f"See 'nnsurgeon list-layers {model.source} --network {network}'")
    wanted_outputs = {p.rsplit(":", 1)[0]: int(p.rsplit(":", 1)[1]) for p in layers
                      if ":" in p and not p.startswith("re:") and p.rsplit(":", 1)[1].isdigit()}
    patterns = [p.rsplit(":", 1)[0] if p.rsplit(":", 1)[0] in wanted_outputs else p for p in layers]
    matches = compile_selector(types, patterns, exclude)
    chosen = []
    for f in functions:
        if not matches(f):
            continue
        for i, y in enumerate(f.output):
            if f.name in wanted_outputs and wanted_outputs[f.name] != i:
                continue
            key = f.name if len(f.output) == 1 else f"{f.name}:{i}"
            chosen.append(Layer(key, f.name, f.type, y))
    if not chosen:
        other = f"; another network? choose with {opt('network')}" if len(model.network_names) > 1 else ""
        raise SelectionError(f"no layer of network '{network}' matches; see 'nnsurgeon list-layers {model.source}'"
                             f"{other}")
    return chosen


def _by_variable(net, pattern: str) -> str:
    """A variable name (as ``Variable.visit`` or a forward hook shows it) -> the key of the function output
    that writes it; any other pattern unchanged."""
    if pattern in net.functions or pattern.startswith("re:") or net.producer(pattern) is None:
        return pattern
    f, i = net.producer(pattern)
    return f.name if len(f.output) == 1 else f"{f.name}:{i}"


def run_layers(model, network: str, layers: List[Layer], batches: Iterable[Dict[str, np.ndarray]],
               context: str = "cpu") -> Iterator[Dict[str, np.ndarray]]:
    """For each input batch, the layers' values (views valid until the next batch). Only what the layers need
    is computed (inputs they do not need, such as labels, are not read)."""
    runner = layer_runner(model, network, layers, context)
    for batch in batches:
        values = runner.run(batch, copy=False)
        yield {layer.key: values[layer.variable] for layer in layers}


def layer_runner(model, network: str, layers: List[Layer], context: str = "cpu") -> Runner:
    """The runner computing ``layers`` (its ``input_shapes`` are the inputs they need)."""
    return Runner(model, network, watch=[layer.variable for layer in layers], context=context, only_watched=True)


class NpzSink:
    """Collects everything in memory, then writes one .npz (for small results) into an open file. Each layer's
    array for all ``total`` samples is allocated once and every batch copied into place (one copy per value,
    no concatenation at the end)."""

    def __init__(self, total: int):
        self.total = total
        self.arrays: Dict[str, np.ndarray] = {}
        self.filled: Dict[str, int] = {}

    def add(self, values: Dict[str, np.ndarray]) -> None:
        for k, v in values.items():
            if k not in self.arrays:
                self.arrays[k] = np.empty((max(self.total, len(v)),) + v.shape[1:], dtype=v.dtype)
                self.filled[k] = 0
            start = self.filled[k]
            if start + len(v) > len(self.arrays[k]):  # more samples than announced: grow
                grown = np.empty((start + len(v),) + v.shape[1:], dtype=v.dtype)
                grown[:start] = self.arrays[k][:start]
                self.arrays[k] = grown
            self.arrays[k][start:start + len(v)] = v
            self.filled[k] = start + len(v)

    def close(self, path: str) -> None:
        with open(path, "wb") as f:
            np.savez(f, **{k: v[:self.filled[k]] for k, v in self.arrays.items()})


class DirSink:
    """One .npy per layer in ``folder``, appended batch by batch (memory stays bounded), plus ``index.json``."""

    def __init__(self, folder: str, total: int, layers: List[Layer]):
        self.folder, self.total, self.layers = folder, total, layers
        self.files: Dict[str, object] = {}
        self.names = _file_names([layer.key for layer in layers])
        self.written = 0
        self.shapes: Dict[str, tuple] = {}

    def add(self, values: Dict[str, np.ndarray]) -> None:
        n = 0
        for k, v in values.items():
            v = np.ascontiguousarray(v, dtype=np.float32)
            if k not in self.files:
                f = open(os.path.join(self.folder, self.names[k]), "wb")
                self.shapes[k] = (self.total,) + tuple(v.shape[1:])
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                          "shape": self.shapes[k]}
                np.lib.format.write_array_header_1_0(f, header)
                self.files[k] = f
            v.tofile(self.files[k])
            n = len(v)
        self.written += n

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        index = {"samples": self.written, "layers": [
            {"key": layer.key, "file": self.names[layer.key], "function": layer.function, "type": layer.type,
             "variable": layer.variable, "shape": list(self.shapes.get(layer.key, ()))} for layer in self.layers]}
        with open(os.path.join(self.folder, "index.json"), "w") as f:
            json.dump(index, f, indent=2)

    def abort(self) -> None:
        for f in self.files.values():
            f.close()


def _file_names(keys: List[str]) -> Dict[str, str]:
    """File names for keys: characters other than letters, digits, '.', '-' and '_' become '_'; clashes get
    a numeric suffix. index.json maps keys to files."""
    taken, out = set(), {}
    for k in keys:
        base = "".join(c if c.isalnum() or c in "._-" else "_" for c in k).strip("_") or "layer"
        name, i = base, 1
        while name.lower() in taken:
            i += 1
            name = f"{base}_{i}"
        taken.add(name.lower())
        out[k] = name + ".npy"
    return out


def output_kind(path: str) -> str:
    """'npz' for a path ending in .npz, 'folder' for a path ending in '/', an existing folder or a name
    without an extension; anything else is refused (extract writes no other kind of file)."""
    if path.lower().endswith(".npz"):
        return "npz"
    stem = os.path.basename(path.rstrip("/\\"))
    if path.endswith(("/", os.sep)) or os.path.isdir(path) or "." not in stem.lstrip("."):
        return "folder"
    raise OutputError(f"{path}: extract writes an .npz file or a folder of .npy files, not "
                      f"'{os.path.splitext(stem)[1]}'; use {os.path.splitext(path)[0]}.npz or "
                      f"{os.path.splitext(path)[0]}/")


def extract_to(model, network: Optional[str], layers: List[Layer], source, output: str, batch_size: int = 32,
               context: str = "cpu", force: bool = False, inputs: Sequence[Optional[str]] = (),
               reduce: Optional[str] = None):
    """Run ``source`` (a DataSource, ImageSource or random source with ``count`` and ``batches``) through the
    network and write the layers to ``output`` (see :func:`output_kind`) through the one writer; ``inputs``
    (model, data) are refused as outputs. Returns the number of samples written."""
    from ..model.output import atomic_file, atomic_folder

    inputs = [model.source] + list(inputs)
    total = -(-source.count // batch_size)
    batches = progress(run_layers(model, network, layers, source.batches(batch_size), context), total,
                       f"extracting {network}")
    if reduce in ("mean", "max", "absmax"):
        batches = (reduce_values(values, reduce) for values in batches)
    if output_kind(output) == "npz":
        with atomic_file(output, inputs=inputs, force=force, extensions=(".npz",)) as tmp:
            sink = HistSink() if reduce == "hist" else NpzSink(source.count)
            for values in batches:
                check_interrupted()
                sink.add(values)
            sink.close(tmp)
        return source.count
    with atomic_folder(output, inputs=inputs, force=force) as tmp:
        sink = DirSink(tmp, source.count, layers)
        try:
            for values in batches:
                check_interrupted()
                sink.add(values)
        finally:
            sink.abort()
        sink.close()
    return source.count


REDUCTIONS = ("mean", "max", "absmax", "hist")
HIST_BINS = 64
DEFAULT_MAX_BYTES = 4 * 1024 ** 3  # 4 GiB: refuse larger extractions unless --max-bytes says otherwise


def layer_shapes(model, network: str, layers: List[Layer]) -> Dict[str, tuple]:
    """Each layer's shape for one sample (batch dimension left out), as NNabla computes it."""
    from ..graph.live import LiveNetwork

    live = LiveNetwork(model, network, batch_size=1)
    return {layer.key: tuple(live.shape(layer.variable) or (1,))[1:] for layer in layers}


def estimate_bytes(shapes: Dict[str, tuple], samples: int, reduce: Optional[str] = None) -> int:
    """Bytes ``extract`` writes (float32 values; with ``reduce`` one value per channel and sample, or for
    ``hist`` HIST_BINS int64 counts per channel)."""
    total = 0
    for shape in shapes.values():
        channels = shape[0] if shape else 1
        if reduce is None:
            total += samples * int(np.prod(shape, dtype=np.int64)) * 4
        elif reduce == "hist":
            total += channels * HIST_BINS * 8 + (HIST_BINS + 1) * 4
        else:
            total += samples * channels * 4
    return total


def parse_bytes(text: str) -> int:
    """``"4G"``, ``"500M"``, ``"1.5GiB"``, ``"1000"`` -> bytes."""
    t = str(text).strip().upper().replace("IB", "").rstrip("B")
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
    mult = units.get(t[-1:], 1)
    try:
        value = float(t[:-1] if t[-1:] in units else t)
    except ValueError:
        value = -1
    if value < 0:
        from ..errors import OptionError

        raise OptionError(f"{opt('max-bytes')} '{text}': give a size such as 4G, 500M or 1000000")
    return int(value * mult)


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def reduce_values(values: Dict[str, np.ndarray], how: str) -> Dict[str, np.ndarray]:
    """Per sample and channel (axis 1): mean, max or max of absolute values over the other axes; (N, C)."""
    out = {}
    for k, v in values.items():
        flat = v.reshape(v.shape[0], v.shape[1] if v.ndim > 1 else 1, -1)
        out[k] = (flat.mean(2) if how == "mean" else flat.max(2) if how == "max" else np.abs(flat).max(2)
                  ).astype(np.float32)
    return out


class HistSink:
    """Per layer and channel, a histogram of every value over all samples: ``KEY`` (C, HIST_BINS) counts and
    ``KEY/edges``; the edges span the first batch's range of the layer, values outside go to the end bins."""

    def __init__(self):
        self.counts: Dict[str, np.ndarray] = {}
        self.edges: Dict[str, np.ndarray] = {}

    def add(self, values: Dict[str, np.ndarray]) -> None:
        for k, v in values.items():
            flat = np.moveaxis(v.reshape(v.shape[0], v.shape[1] if v.ndim > 1 else 1, -1), 1, 0).reshape(
                v.shape[1] if v.ndim > 1 else 1, -1)
            if k not in self.edges:
                lo, hi = float(flat.min()), float(flat.max())
                hi = hi if hi > lo else lo + 1.0
                self.edges[k] = np.linspace(lo, hi, HIST_BINS + 1).astype(np.float32)
                self.counts[k] = np.zeros((flat.shape[0], HIST_BINS), np.int64)
            e = self.edges[k]
            bins = np.clip(np.searchsorted(e, flat, side="right") - 1, 0, HIST_BINS - 1)
            for c in range(flat.shape[0]):
                self.counts[k][c] += np.bincount(bins[c], minlength=HIST_BINS)

    def close(self, path: str) -> None:
        arrays = dict(self.counts)
        arrays.update({f"{k}/edges": e for k, e in self.edges.items()})
        with open(path, "wb") as f:
            np.savez(f, **arrays)
