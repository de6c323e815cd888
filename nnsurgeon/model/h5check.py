"""The datasets of an NNabla parameter .h5, accepted only when they are plain data stored in the file itself.

HDF5 can make a dataset read its bytes from any file on disk (external storage), from other files (virtual
datasets, external links), or point elsewhere (soft links); h5py follows all of them. A parameter file from
an untrusted model could then copy ``/etc/passwd`` or ``/proc/self/environ`` into the model nnsurgeon writes.
NNabla's own writer (``nnabla.parameter.save_parameters``) writes none of these, so they are refused: only
hard-linked datasets with contiguous, compact or (standard-filter) chunked storage inside the file, of a
numeric dtype NNabla has, with integer ``index`` and boolean ``need_grad`` attributes.
"""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

MAX_DATASETS = 100_000
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
    dataset: object
    dtype: np.dtype

    def read(self) -> np.ndarray:
        data = self.dataset[...]
        return np.ascontiguousarray(data, dtype=self.dtype)  # native byte order, as NNabla wants it


def plain_datasets(hd, budget: int) -> List[Entry]:
    """Every dataset of the open h5py file ``hd``, checked; the data together may take at most ``budget``
    bytes once read. Raise :class:`H5Refused` naming the first thing refused."""
    import h5py

    # h5py's visitors turn an exception raised in the callback into an unrelated one: collect, then check
    links = []
    hd.visititems_links(lambda name, link: links.append((name, link)) if len(links) <= MAX_DATASETS else True)
    for name, link in links:
        if isinstance(link, h5py.SoftLink):
            raise H5Refused(f"'{name}' is a soft link (to '{link.path}')")
        if isinstance(link, h5py.ExternalLink):
            raise H5Refused(f"'{name}' is a link into another file ('{link.filename}')")
        if not isinstance(link, h5py.HardLink):
            raise H5Refused(f"'{name}' is a link of an unknown kind")
    if len(links) > MAX_DATASETS:
        raise H5Refused(f"holds more than {MAX_DATASETS} objects")
    objects = []
    hd.visititems(lambda name, obj: objects.append((name, obj)) if len(objects) <= MAX_DATASETS else True)
    datasets = []
    for name, obj in objects:
        if isinstance(obj, h5py.Dataset):
            datasets.append((name, obj))
        elif not isinstance(obj, h5py.Group):
            raise H5Refused(f"'{name}' is a {type(obj).__name__}, not a dataset")
    entries = []
    used = 0
    for name, ds in datasets:
        entry = _check_dataset(name, ds)
        used += int(np.prod(ds.shape, dtype=object)) * entry.dtype.itemsize
        if used > budget:
            raise H5Refused(f"its datasets declare more than {budget:,} bytes (dataset '{name}' and those before)")
        entries.append(entry)
    return entries


def _check_dataset(name, ds) -> Entry:
    import h5py

    plist = ds.id.get_create_plist()
    if plist.get_external_count() > 0:
        raise H5Refused(f"dataset '{name}' reads its data from a file outside the model (HDF5 external storage)")
    layout = plist.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        raise H5Refused(f"dataset '{name}' is a virtual dataset (its data lives in other files)")
    if layout not in (h5py.h5d.CONTIGUOUS, h5py.h5d.COMPACT, h5py.h5d.CHUNKED):
        raise H5Refused(f"dataset '{name}' has a storage layout nnsurgeon does not read")
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _FILTERS:
            raise H5Refused(f"dataset '{name}' needs HDF5 filter {code}, which nnsurgeon does not load")
    dtype = ds.dtype
    native = dtype.newbyteorder("=") if dtype.byteorder in "<>" else dtype
    if native not in _DTYPES:
        raise H5Refused(f"dataset '{name}' has dtype {dtype}; NNabla parameters are numbers "
                        "(float16/32/64, integers or bool)")
    if ds.shape is None:
        raise H5Refused(f"dataset '{name}' has no shape (an empty dataspace)")
    index = ds.attrs.get("index", None)
    if index is not None:
        index = _scalar(name, "index", index, (np.integer,))
    need_grad = ds.attrs.get("need_grad", True)
    need_grad = bool(_scalar(name, "need_grad", need_grad, (np.integer, np.bool_)))
    return Entry(name, None if index is None else int(index), need_grad, ds, native)


def _scalar(name, attr, value, kinds):
    array = np.asarray(value)
    if array.size != 1 or not any(np.issubdtype(array.dtype, k) for k in kinds):
        raise H5Refused(f"dataset '{name}' has attribute '{attr}' = {value!r}; NNabla writes "
                        f"{'an integer' if attr == 'index' else 'a boolean'}")
    return array.reshape(()).item()
