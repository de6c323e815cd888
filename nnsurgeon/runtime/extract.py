"""extract: the output of chosen functions for every sample, keyed by the functions' stable names.

Keys: a function's stable name (as ``list-layers`` shows it); a function with several outputs gives one
key per output, ``NAME:0``, ``NAME:1``, ... Residual forks give each output once: keys follow producers,
not consumers.
"""
import difflib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np

from ..errors import OutputError, SelectionError
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
        raise SelectionError(f"no layer of network '{network}' matches; see 'nnsurgeon list-layers {model.source}'")
    return chosen


def run_layers(model, network: str, layers: List[Layer], batches: Iterable[Dict[str, np.ndarray]],
               context: str = "cpu") -> Iterator[Dict[str, np.ndarray]]:
    """For each input batch, the layers' values (views valid until the next batch)."""
    runner = Runner(model, network, watch=[layer.variable for layer in layers], context=context)
    for batch in batches:
        values = runner.run(batch, copy=False)
        yield {layer.key: values[layer.variable] for layer in layers}


class NpzSink:
    """Collects everything in memory, then writes one .npz atomically (for small results)."""

    def __init__(self, path: str, force: bool = False):
        _check_target(path, force, folder=False)
        self.path = path
        self.parts: Dict[str, List[np.ndarray]] = {}

    def add(self, values: Dict[str, np.ndarray]) -> None:
        for k, v in values.items():
            self.parts.setdefault(k, []).append(np.array(v, copy=True))

    def close(self) -> Dict[str, np.ndarray]:
        arrays = {k: np.concatenate(v) for k, v in self.parts.items()}
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=os.path.dirname(os.path.abspath(self.path)))
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return arrays


class DirSink:
    """One .npy per layer, appended batch by batch (memory stays bounded), plus ``index.json``; written in a
    temporary folder beside the target and renamed into place at the end."""

    def __init__(self, path: str, total: int, layers: List[Layer], force: bool = False):
        path = path.rstrip("/\\") or path
        _check_target(path, force, folder=True)
        self.path, self.total, self.layers = path, total, layers
        parent = os.path.dirname(os.path.abspath(path))
        self.tmp = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".", dir=parent)
        self.files: Dict[str, object] = {}
        self.names = _file_names([layer.key for layer in layers])
        self.written = 0
        self.shapes: Dict[str, tuple] = {}

    def add(self, values: Dict[str, np.ndarray]) -> None:
        n = 0
        for k, v in values.items():
            v = np.ascontiguousarray(v, dtype=np.float32)
            if k not in self.files:
                f = open(os.path.join(self.tmp, self.names[k]), "wb")
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
        with open(os.path.join(self.tmp, "index.json"), "w") as f:
            json.dump(index, f, indent=2)
        old = None
        if os.path.exists(self.path):
            old = self.tmp + ".old"
            os.rename(self.path, old)
        os.rename(self.tmp, self.path)
        if old:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        for f in self.files.values():
            f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


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


def _check_target(path: str, force: bool, folder: bool) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OutputError(f"{path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: folder {parent} is not writable")
    if os.path.exists(path) and not force:
        raise OutputError(f"{path}: already exists; choose another path or add --force to replace it")
    if os.path.exists(path) and folder != os.path.isdir(path):
        raise OutputError(f"{path}: exists and is a {'file' if folder else 'folder'}; choose another path")


def extract_to(model, network: Optional[str], layers: List[Layer], source, output: str, batch_size: int = 32,
               context: str = "cpu", force: bool = False):
    """Run ``source`` (a DataSource, ImageSource or random source with ``count`` and ``batches``) through the
    network and write the layers to ``output``: ``.npz`` file, or a folder (path ending in '/' or existing
    folder). Returns the number of samples written."""
    to_dir = output.endswith(("/", os.sep)) or os.path.isdir(output) or not output.endswith(".npz")
    sink = DirSink(output, source.count, layers, force) if to_dir else NpzSink(output, force)
    total = -(-source.count // batch_size)
    try:
        for values in progress(run_layers(model, network, layers, source.batches(batch_size), context), total,
                               f"extracting {network}"):
            sink.add(values)
    except BaseException:
        if isinstance(sink, DirSink):
            sink.abort()
        raise
    sink.close()
    return source.count
