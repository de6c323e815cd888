"""The datasets of an NNabla parameter .h5, accepted only when they are plain data stored in the file itself.

HDF5 can make a dataset read its bytes from any file on disk (external storage), from other files (virtual
datasets, external links), or point elsewhere (soft links); h5py follows all of them. A parameter file from
an untrusted model could then copy ``/etc/passwd`` or ``/proc/self/environ`` into the model nnsurgeon writes.
NNabla's own writer (``nnabla.parameter.save_parameters``) writes none of these, so they are refused: only
hard-linked datasets with contiguous, compact or (standard-filter) chunked storage inside the file, of a
numeric dtype NNabla has, with integer ``index`` and boolean ``need_grad`` attributes.

The walk uses h5py's low-level API on the in-memory image (:func:`nnsurgeon.model.h5params.open_image`): the
high-level objects cost about 1 ms per dataset, which was most of loading a model with thousands of small
parameters. The same walk serves the writer's read-back check (:meth:`Entry.same_as` compares the stored
bytes in place, nothing copied).
"""
import math
from dataclasses import dataclass
from functools import partial
from typing import List, Optional, Tuple

import numpy as np

MAX_DATASETS = 100_000
MAX_DEPTH = 128  # group nesting (NNabla's names nest a few levels)
MAX_NAME = 4096  # bytes of a full dataset name
_DTYPES = {np.dtype(t) for t in ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                                 "float16", "float32", "float64")}
_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32"}  # HDF5's built-in filters; no plugin is ever loaded


class H5Refused(Exception):
    """An .h5 member holds something nnsurgeon does not read (the message says what)."""


@dataclass
class Entry:
    key: str
    index: Optional[int]
    need_grad: bool
    dataset: object  # h5py.h5d.DatasetID, open while the image is
    dtype: np.dtype  # native byte order, as NNabla wants it
    shape: tuple
    in_place: bool  # contiguous, unfiltered, native byte order, the dtype's standard HDF5 type: the file's
    # bytes are the array's

    def read(self, image: Optional[memoryview] = None) -> np.ndarray:
        """The dataset's array (a copy); contiguous data is copied straight out of the file ``image`` when
        given (HDF5's read of a small dataset costs ten times more)."""
        from h5py import h5s

        stored = self._stored_bytes(image, math.prod(self.shape) * self.dtype.itemsize)
        if stored is not None:
            return stored.view(self.dtype).reshape(self.shape).copy()
        array = np.empty(self.shape, dtype=self.dtype)
        if array.size:
            self.dataset.read(h5s.ALL, h5s.ALL, array)  # HDF5 converts byte order and storage
        return array

    def same_as(self, array: np.ndarray, image: memoryview) -> bool:
        """Whether this dataset holds exactly ``array`` (shape, dtype, bits): contiguous data is compared where
        it lies in the file ``image``; other layouts are read."""
        native = array.dtype.newbyteorder("=") if array.dtype.byteorder in "<>" else array.dtype
        if self.shape != array.shape or self.dtype != native:
            return False
        if not array.size:
            return True
        flat = np.ascontiguousarray(array, dtype=native).reshape(-1).view(np.uint8)
        stored = self._stored_bytes(image, flat.size)
        if stored is not None:
            return np.array_equal(stored, flat)
        return np.array_equal(self.read().reshape(-1).view(np.uint8), flat)

    def _stored_bytes(self, image: Optional[memoryview], nbytes: int) -> Optional[np.ndarray]:
        """The dataset's ``nbytes`` where they lie in ``image`` (no copy), or None when they do not lie there
        whole (another layout, no storage allocated, an address past the end). HDF5 gives the address from the
        start of the file, user block included."""
        if image is None or not self.in_place or not nbytes:
            return None
        offset = self.dataset.get_offset()
        if offset is None or offset + nbytes > len(image):
            return None
        return np.frombuffer(image, np.uint8, count=nbytes, offset=offset)


def plain_datasets(fid, budget: int) -> List[Entry]:
    """Every dataset of the open low-level file ``fid``, checked, in the order NNabla's loader gives them
    (``index``; datasets without one last, by name); the data together may take at most
    ``budget`` bytes once read. Raise :class:`H5Refused` naming the first thing refused."""
    from h5py import h5o

    _check_links(fid)  # first: it bounds the depth of HDF5's recursive visit below
    objects = []
    h5o.visit(fid, lambda name, info: objects.append((name, info.type)) if len(objects) <= MAX_DATASETS else True,
              info=True)
    entries = []
    used = 0
    types = _Types()
    for name, kind in objects:
        if kind == h5o.TYPE_GROUP or name == b".":
            continue
        if kind != h5o.TYPE_DATASET:
            raise H5Refused(f"'{_text(name)}' is a {'named datatype' if kind == h5o.TYPE_NAMED_DATATYPE else 'object'}"
                            ", not a dataset")
        entry = _check_dataset(fid, name, types)
        used += math.prod(entry.shape) * entry.dtype.itemsize  # Python ints: no overflow
        if used > budget:
            raise H5Refused(f"its datasets declare more than {budget:,} bytes (dataset '{entry.key}' and those "
                            "before)")
        entries.append(entry)
    # NNabla's loader order: by ``index``; datasets without one last, by name
    entries.sort(key=lambda e: (e.index is None, e.index if e.index is not None else 0, e.key))
    return entries


def _check_links(fid) -> None:
    """Every link, group by group with an explicit stack (HDF5's own recursive visit overflows the C stack on
    a crafted file with groups nested 20,000 deep): hard links only, at most ``MAX_DEPTH`` levels (a hard link
    back to an ancestor counts as too deep), names at most ``MAX_NAME`` bytes, ``MAX_DATASETS`` links. h5py's
    iterators turn an exception raised in the callback into an unrelated one: collect, then check."""
    from h5py import h5g, h5l, h5o

    stack = [(b"", 0)]
    seen = 0
    while stack:
        path, depth = stack.pop()
        group = h5g.open(fid, path or b"/")
        links = []
        group.links.iterate(partial(_collect, links), info=True)
        seen += len(links)
        if seen > MAX_DATASETS:
            raise H5Refused(f"holds more than {MAX_DATASETS} objects")
        for name, kind in links:
            full = path + b"/" + name if path else name
            if len(full) > MAX_NAME:
                raise H5Refused(f"holds a name longer than {MAX_NAME} bytes ('{_text(full[:60])}...')")
            if kind == h5l.TYPE_SOFT:
                raise H5Refused(f"'{_text(full)}' is a soft link (to '{_text(group.links.get_val(name))}')")
            if kind == h5l.TYPE_EXTERNAL:
                raise H5Refused(f"'{_text(full)}' is a link into another file "
                                f"('{_text(group.links.get_val(name)[0])}')")
            if kind != h5l.TYPE_HARD:
                raise H5Refused(f"'{_text(full)}' is a link of an unknown kind")
            if h5o.get_info(group, name).type == h5o.TYPE_GROUP:
                if depth + 1 > MAX_DEPTH:
                    raise H5Refused(f"nests groups more than {MAX_DEPTH} deep (or a group links back to one "
                                    f"above it) at '{_text(full[:60])}'")
                stack.append((full, depth + 1))


def _collect(into: list, name, info):
    into.append((name, info.type))
    return True if len(into) > MAX_DATASETS else None  # a value other than None stops HDF5's iteration


def _text(name: bytes) -> str:
    return name.decode("utf-8", "replace")


class _Types:
    """numpy dtypes of the HDF5 types met so far: h5py's conversion costs about 30 us a call, and a parameter
    file holds thousands of datasets of one or two types."""

    def __init__(self):
        self.seen = []

    def dtype(self, ds) -> Tuple[np.dtype, bool]:
        """(the dataset's numpy dtype, whether its stored bytes are that dtype's bytes: the standard HDF5 type
        of the dtype; HDF5 also has floats without an implied mantissa bit, other exponent biases, integers
        with padding bits, which h5py maps to a numpy dtype and HDF5 converts on reading)."""
        from h5py import h5t

        htype = ds.get_type()
        for known, dtype, standard in self.seen:
            if htype.equal(known):
                return dtype, standard
        dtype = ds.dtype
        try:
            standard = htype.equal(h5t.py_create(dtype))
        except (TypeError, ValueError):
            standard = False
        if len(self.seen) < 16:
            self.seen.append((htype, dtype, standard))
        return dtype, standard


def _check_dataset(fid, raw_name: bytes, types: _Types) -> Entry:
    from h5py import h5d, h5s

    name = _text(raw_name)
    ds = h5d.open(fid, raw_name)
    plist = ds.get_create_plist()
    if plist.get_external_count() > 0:
        raise H5Refused(f"dataset '{name}' reads its data from a file outside the model (HDF5 external storage)")
    layout = plist.get_layout()
    if layout == h5d.VIRTUAL:
        raise H5Refused(f"dataset '{name}' is a virtual dataset (its data lives in other files)")
    if layout not in (h5d.CONTIGUOUS, h5d.COMPACT, h5d.CHUNKED):
        raise H5Refused(f"dataset '{name}' has a storage layout nnsurgeon does not read")
    filters = plist.get_nfilters()
    for i in range(filters):
        code = plist.get_filter(i)[0]
        if code not in _FILTERS:
            raise H5Refused(f"dataset '{name}' needs HDF5 filter {code}, which nnsurgeon does not load")
    dtype, standard = types.dtype(ds)
    native = dtype.newbyteorder("=") if dtype.byteorder in "<>" else dtype
    if native not in _DTYPES:
        raise H5Refused(f"dataset '{name}' has dtype {dtype}; NNabla parameters are numbers "
                        "(float16/32/64, integers or bool)")
    space = ds.get_space()
    kind = space.get_simple_extent_type()
    if kind == h5s.NULL:
        raise H5Refused(f"dataset '{name}' has no shape (an empty dataspace)")
    shape = () if kind == h5s.SCALAR else tuple(space.shape)
    index = _attribute(ds, name, "index")
    need_grad = _attribute(ds, name, "need_grad")
    in_place = layout == h5d.CONTIGUOUS and not filters and dtype == native and standard
    return Entry(name, None if index is None else int(index), True if need_grad is None else bool(need_grad), ds,
                 native, shape, in_place)


_INT64 = None


def _attribute(ds, name: str, attr: str):
    """The attribute's one value, or None when absent: an integer (``index``), an integer or boolean
    (``need_grad``; h5py stores booleans as an enum); refuse anything else (a string, an array)."""
    global _INT64
    from h5py import h5a, h5t

    try:
        handle = h5a.open(ds, attr.encode())
    except KeyError:  # absent, or damaged: h5py raises KeyError for both (asking first costs a call each time)
        if h5a.exists(ds, attr.encode()):
            raise
        return None
    htype = handle.get_type()
    cls = htype.get_class()
    allowed = (h5t.INTEGER,) if attr == "index" else (h5t.INTEGER, h5t.ENUM)
    if cls not in allowed or not _one_value(handle, htype):
        raise H5Refused(f"dataset '{name}' has attribute '{attr}' of another type than "
                        f"{'an integer' if attr == 'index' else 'a boolean'} (what NNabla writes)")
    if cls == h5t.ENUM:  # read as stored (HDF5 converts no enum to an integer), any non-zero value is true
        value = np.zeros(htype.get_size(), np.uint8)
        handle.read(value, mtype=htype)
        return bool(value.any())
    if _INT64 is None:
        _INT64 = h5t.py_create(np.dtype(np.int64))
    value = np.empty((), np.int64)
    handle.read(value, mtype=_INT64)
    return int(value)


def _one_value(handle, htype) -> bool:
    """Whether the attribute holds one value: its storage is its number of values times the size of one (a
    call fewer than asking its dataspace); HDF5 reports an empty attribute's zero size as an error."""
    try:
        return handle.get_storage_size() == htype.get_size()
    except RuntimeError:
        return False
