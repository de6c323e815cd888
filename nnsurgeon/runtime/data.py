"""Input data for running a network: .npy (one-input networks), .npz keyed by input name, or a folder of
them; checked against the network's inputs and streamed in batches so memory does not grow with samples.
"""
import difflib
import os
import stat
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import DataError, opt

Batch = Dict[str, np.ndarray]


class DataSource:
    """Samples for a network whose inputs are ``shapes`` (name -> shape without batch dimension).

    Example::

        src = DataSource("calib.npz", {"x": (1, 28, 28)})
        for batch in src.batches(32):
            ...
    """

    def __init__(self, path: str, shapes: Dict[str, Tuple[int, ...]], ignore: Sequence[str] = ()):
        self.path = path
        self.shapes = shapes
        self.ignore = set(ignore)  # arrays of an .npz that are not inputs (labels kept beside the inputs)
        if not os.path.exists(path):
            raise DataError(f"{path}: no such file or folder; give a .npy, .npz or a folder of them")
        if os.path.isdir(path):
            files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith((".npy", ".npz")))
            if not files:
                raise DataError(f"{path}: folder holds no .npy or .npz files")
        else:
            files = [path]
        for f in files:
            if not stat.S_ISREG(os.stat(f).st_mode):  # a FIFO or device would block or never end
                raise DataError(f"{f}: is not a regular file (a pipe or device?); give a .npy or .npz file")
        self.files = files
        self.notes: List[str] = []
        self.count = sum(self._arrays(f, check=True)[1] for f in files)
        if self.count == 0:
            raise DataError(f"{path}: holds 0 samples; give at least one")

    def _arrays(self, path: str, check: bool = False) -> Tuple[Dict[str, np.ndarray], int]:
        try:
            if path.endswith(".npy"):
                arr = _NpyRows(path)
                if len(self.shapes) != 1:
                    raise DataError(
                        f"{path}: a bare array feeds one-input networks only; this network has inputs "
                        f"{', '.join(self.shapes)}: give an .npz keyed by input name")
                arrays = {next(iter(self.shapes)): arr}
            elif path.endswith(".npz"):
                _check_npz(path)
                npz = np.load(path, allow_pickle=False)
                arrays = {k: npz[k] for k in npz.files if k not in self.ignore}
            else:
                raise DataError(f"{path}: not a .npy or .npz file")
        except DataError:
            raise
        except (ValueError, OSError, EOFError) as e:
            raise DataError(f"{path}: cannot read as numpy data ({e})") from None
        except Exception as e:  # zipfile/zlib errors on a damaged .npz member
            raise DataError(f"{path}: cannot read as numpy data ({type(e).__name__}: {e})") from None
        if len(arrays) == 1 and len(self.shapes) == 1 and next(iter(arrays)) not in self.shapes \
                and next(iter(arrays)) in ("arr_0", "x", "data"):
            arrays = {next(iter(self.shapes)): next(iter(arrays.values()))}
        for name in self.shapes:
            if name not in arrays:
                close = difflib.get_close_matches(name, list(arrays), n=1)
                hint = f" (it has '{close[0]}': rename it)" if close else ""
                raise DataError(f"{path}: no array for network input '{name}'{hint}; keys: {', '.join(arrays)}")
        extra = [name for name in arrays if name not in self.shapes]
        if extra and check:
            self.notes.append(f"{path}: ignored array(s) {', '.join(extra)} (not inputs of the network; inputs: "
                              f"{', '.join(self.shapes)})")
        arrays = {k: v for k, v in arrays.items() if k in self.shapes}
        count = None
        for name, arr in arrays.items():
            want = tuple(self.shapes[name])
            if arr.dtype.kind not in "fiub":
                raise DataError(f"{path}: array '{name}' has dtype {arr.dtype}; give numbers (float or int)")
            if tuple(arr.shape[1:]) != want:
                if tuple(arr.shape) == want:
                    raise DataError(f"{path}: array '{name}' has shape {arr.shape}, one sample without a batch "
                                    f"dimension; give shape (N, {', '.join(map(str, want))})")
                raise DataError(f"{path}: array '{name}' has shape {tuple(arr.shape)}; network input '{name}' "
                                f"takes (N, {', '.join(map(str, want))})")
            if count is not None and arr.shape[0] != count:
                raise DataError(f"{path}: arrays have different sample counts ({count} and {arr.shape[0]})")
            count = arr.shape[0]
            if check and arr.dtype.kind in "iub":
                self.notes.append(f"{path}: array '{name}' ({arr.dtype}) converted to float32 for the network; "
                                  "values are used as they are (scale them beforehand if the network expects 0-1)")
        return arrays, int(count or 0)

    def batches(self, batch_size: int, max_batches: Optional[int] = None) -> Iterator[Batch]:
        """Batches of up to ``batch_size`` samples across files, float32, checked for NaN/inf."""
        done = 0
        pending: List[Batch] = []
        pending_n = 0
        for path in self.files:
            arrays, n = self._arrays(path)
            for start in range(0, n, batch_size):
                part = {k: np.asarray(v[start:start + batch_size], dtype=np.float32) for k, v in arrays.items()}
                for k, v in part.items():
                    if not np.isfinite(v).all():
                        bad = int(np.argwhere(~np.isfinite(v.reshape(len(v), -1)))[0][0]) + start
                        raise DataError(f"{path}: array '{k}' has NaN or inf at sample {bad}; clean the data")
                pending.append(part)
                pending_n += len(next(iter(part.values())))
                while pending_n >= batch_size:
                    batch, pending, pending_n = _take(pending, batch_size)
                    yield batch
                    done += 1
                    if max_batches is not None and done >= max_batches:
                        return
        if pending_n:
            batch, _, _ = _take(pending, pending_n)
            yield batch


class _NpyRows:
    """A .npy file read a slice of rows at a time with plain reads, so memory (RSS) stays bounded however
    many samples the file holds (a memory map would keep every page it touched resident)."""

    def __init__(self, path: str):
        with open(path, "rb") as f:
            shape, fortran, dtype = _npy_header(f)
            self.offset = f.tell()
        if fortran or dtype.hasobject or len(shape) == 0:
            raise DataError(f"{path}: give a C-order numeric array with a batch dimension (as np.save writes it)")
        self.path, self.shape, self.dtype = path, tuple(shape), dtype
        self.row = int(np.prod(self.shape[1:], dtype=object)) if len(self.shape) > 1 else 1
        needed = self.offset + self.shape[0] * self.row * dtype.itemsize
        if os.path.getsize(path) < needed:
            raise DataError(f"{path}: the file is truncated: its header declares {self.shape} ({needed:,} bytes) "
                            f"but it holds {os.path.getsize(path):,} bytes; write it again with np.save")

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.shape[0])
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.row * self.dtype.itemsize)
            data = np.fromfile(f, dtype=self.dtype, count=(stop - start) * self.row)
        return data.reshape((stop - start,) + self.shape[1:])


def _npy_header(f):
    """(shape, fortran_order, dtype) from an open .npy stream, as numpy's own reader parses them."""
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
        np.lib.format.read_array_header_2_0
    return read_header(f)


def _check_npz(path: str) -> None:
    """Refuse an .npz whose members would inflate past the zip limits (see ``nnsurgeon.model.safezip``) or
    whose arrays declare more bytes than their member holds (numpy would allocate the declared size first)."""
    from ..model.safezip import open_zip

    with open_zip(path, DataError, ".npz") as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as member:
                shape, _, dtype = _npy_header(member)
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if declared > info.file_size:
                raise DataError(f"{path}: array '{info.filename[:-4]}' declares {tuple(shape)} ({declared:,} bytes) "
                                f"but its member holds {info.file_size:,} bytes; the file is damaged")


def _take(pending: List[Batch], n: int):
    merged = {k: np.concatenate([p[k] for p in pending]) for k in pending[0]}
    batch = {k: v[:n] for k, v in merged.items()}
    rest = {k: v[n:] for k, v in merged.items()}
    rest_n = len(next(iter(rest.values())))
    return batch, ([rest] if rest_n else []), rest_n


class NoInputSource:
    """For a network with no data input (it computes from its parameters alone): one run, no data."""

    count = 1
    notes: List[str] = []

    def batches(self, batch_size: int = 1, max_batches: Optional[int] = None) -> Iterator[Batch]:
        yield {}


def random_batches(shapes: Dict[str, Tuple[int, ...]], samples: int, batch_size: int, seed: int,
                   val_range: Optional[Dict[str, Tuple[float, float]]] = None) -> Iterator[Batch]:
    """``samples`` seeded samples per input, standard normal or uniform in ``val_range[name]`` (key ``""``: every
    input), in batches generated as they are needed (memory stays flat however many samples). One generator
    draws batch after batch, input after input within a batch: a one-input network sees exactly the values one
    ``randn(samples, ...)`` call gives; with several inputs the values differ from nnsurgeon versions that drew
    each input whole."""
    rng = np.random.RandomState(seed)
    val_range = val_range or {}
    for start in range(0, samples, batch_size):
        n = min(batch_size, samples - start)
        batch = {}
        for k, s in shapes.items():
            lo_hi = val_range.get(k, val_range.get(""))
            batch[k] = (rng.randn(n, *s) if lo_hi is None else rng.uniform(lo_hi[0], lo_hi[1], (n,) + tuple(s))
                        ).astype(np.float32)
        yield batch


class RandomSource:
    """``samples`` seeded standard-normal samples per input, with the same interface as :class:`DataSource`."""

    def __init__(self, shapes: Dict[str, Tuple[int, ...]], samples: int = 1, seed: int = 0,
                 val_range: Optional[Dict[str, Tuple[float, float]]] = None):
        self.shapes, self.count, self.seed, self.val_range = shapes, samples, seed, val_range or {}
        self.notes: List[str] = []
        unknown = [k for k in self.val_range if k and k not in shapes]
        if unknown:
            raise DataError(f"{opt('val-range')} names {', '.join(unknown)}, not inputs of the network "
                            f"(inputs: {', '.join(shapes)})")

    def batches(self, batch_size: int, max_batches: Optional[int] = None) -> Iterator[Batch]:
        for i, batch in enumerate(random_batches(self.shapes, self.count, batch_size, self.seed, self.val_range)):
            if max_batches is not None and i >= max_batches:
                return
            yield batch


class ArraySource:
    """In-memory arrays keyed by input name, checked like files are."""

    def __init__(self, arrays: Dict[str, np.ndarray], shapes: Dict[str, Tuple[int, ...]]):
        for name in shapes:
            if name not in arrays:
                raise DataError(f"no array for network input '{name}'; inputs: {', '.join(shapes)}")
        for name, arr in arrays.items():
            if name not in shapes:
                raise DataError(f"'{name}' is not a network input; inputs: {', '.join(shapes)}")
            if tuple(np.shape(arr)[1:]) != tuple(shapes[name]):
                raise DataError(f"array '{name}' has shape {np.shape(arr)}; the input takes (N, "
                                f"{', '.join(map(str, shapes[name]))})")
        self.arrays = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
        self.count = len(next(iter(self.arrays.values())))
        self.notes: List[str] = []
        if self.count == 0:
            raise DataError("the arrays hold 0 samples; give at least one")

    def batches(self, batch_size: int, max_batches: Optional[int] = None) -> Iterator[Batch]:
        for i, start in enumerate(range(0, self.count, batch_size)):
            if max_batches is not None and i >= max_batches:
                return
            yield {k: v[start:start + batch_size] for k, v in self.arrays.items()}


def open_source(data: Optional[str], shapes: Dict[str, Tuple[int, ...]], random: bool = False, seed: int = 0,
                samples: int = 1, size=None, scale: float = 1.0, mean=(), std=(), val_range=None, ignore: Sequence[str] = ()):
    """The one data reader: the source for ``--input DATA`` (.npy, .npz, a folder of them, an image or a folder
    of images) or ``--random`` (``val_range``: ``{input or "": (lo, hi)}`` for uniform values). A network with no
    data input (only parameters feed it) is run once, with no data. Every source has ``count``, ``notes``
    (conversions and ignored arrays, to say out loud) and ``batches(n)``."""
    if not shapes:
        return NoInputSource()
    if random:
        return RandomSource(shapes, samples, seed, val_range)
    from .images import ImageSource, is_image_input

    if data is None:
        raise DataError(f"give {opt('input', 'DATA')} or {opt('random', 'true')}")
    if os.path.exists(data) and not os.path.isdir(data) and not stat.S_ISREG(os.stat(data).st_mode):
        raise DataError(f"{data}: is not a regular file (a pipe or device?); give a .npy, .npz, an image or a folder")
    if os.path.exists(data) and is_image_input(data):
        return ImageSource(data, shapes, size, scale, mean, std)
    return DataSource(data, shapes, ignore=ignore)


def in_network(network: str, make):
    """``make()``, with a :class:`DataError` it raises naming ``network`` and how to choose another."""
    try:
        return make()
    except DataError as e:
        raise _named(e, network) from None


def in_network_iter(network: str, items):
    """Iterate ``items``; a :class:`DataError` names ``network`` (see :func:`in_network`)."""
    try:
        yield from items
    except DataError as e:
        raise _named(e, network) from None


def _named(e: DataError, network: str) -> DataError:
    from ..errors import opt

    if f"network '{network}'" in str(e):
        return e
    new = DataError(f"network '{network}': {e}; another network? choose with {opt('network')}")
    new.dialect = e.dialect
    return new


def parse_val_range(values) -> Dict[str, Tuple[float, float]]:
    """``["0,1"]`` (every input) or ``["x:0,255", "y:-1,1"]`` -> ``{"": (0, 1)}`` / ``{"x": (0, 255), ...}``."""
    out = {}
    for text in values or ():
        name, _, rest = text.rpartition(":")
        try:
            lo, hi = (float(v) for v in rest.split(","))
        except ValueError:
            raise DataError(f"{opt('val-range')} '{text}': give LO,HI or INPUT:LO,HI, e.g. 0,1") from None
        if not lo < hi:
            raise DataError(f"{opt('val-range')} '{text}': LO must be below HI")
        out[name] = (lo, hi)
    return out


def parse_input_shapes(values) -> Dict[str, Tuple[int, ...]]:
    """``["x:1x3x224x224"]`` -> ``{"x": (1, 3, 224, 224)}`` (batch dimension first, as NNabla writes shapes)."""
    out = {}
    for text in values or ():
        name, sep, dims = text.rpartition(":")
        try:
            shape = tuple(int(d) for d in dims.lower().replace(",", "x").split("x"))
        except ValueError:
            shape = ()
        if not sep or not name or not shape or min(shape) < 1:
            raise DataError(f"{opt('input-shapes')} '{text}': give NAME:DIMS, e.g. x:1x3x224x224")
        out[name] = shape
    return out


def with_input_shapes(model, network: str, shapes: Dict[str, Tuple[int, ...]]):
    """A copy of ``model`` whose network ``network`` takes inputs of ``shapes`` (batch first); other variables'
    shapes are left for NNabla to infer when it builds the network. ``model`` itself is unchanged."""
    if not shapes:
        return model
    copy = model.copy()
    net = copy.network(network)
    view = copy.view(network)
    for name, shape in shapes.items():
        if name not in view.inputs:
            raise DataError(f"{opt('input-shapes')} names '{name}', not an input of network '{network}' "
                            f"(inputs: {', '.join(view.inputs)})")
        for v in net.variable:
            if v.name == name:
                del v.shape.dim[:]
                v.shape.dim.extend(shape)
    copy.invalidate_views()
    return copy
