"""NNabla's parameter .h5 format at the speed of the bytes: one dataset per parameter (dtype kept), attributes
``need_grad`` (bool) and ``index`` (int64, the stored order), names with '/' as nested groups, exactly what
``nnabla.parameter.save_parameters`` writes.

h5py's high-level objects cost about 0.3 ms per dataset (Python wrappers, implicit groups, attribute managers)
and an ``io.BytesIO`` file makes every HDF5 read and write a Python call; a model with 40,000 small parameters
(a quantized 10,000-function chain) spent most of its save here. This module uses h5py's low-level API on an
in-memory (core driver) file instead: the same HDF5 objects, a fraction of the time.

Reading goes through :func:`open_image` and :mod:`.h5check` (which refuses links, external storage and
anything else that is not plain data in the file).

Example::

    data = write_h5({"conv/W": (np.ones((2, 3), np.float32), True)})
    with open_image(data) as fid:
        assert [e.key for e in plain_datasets(fid, budget=1 << 20)] == ["conv/W"]
"""
import itertools
import os
from contextlib import contextmanager
from typing import Dict, Mapping, Tuple

import numpy as np

_names = itertools.count()


def _core_fapl(image: bytes = b""):
    from h5py import h5p

    fapl = h5p.create(h5p.FILE_ACCESS)
    fapl.set_fapl_core(block_size=1 << 20, backing_store=False)
    if image:
        fapl.set_file_image(image)
    return fapl


def _name() -> bytes:
    # the core driver keeps no file on disk, but HDF5 refuses two open files of one name
    return f"nnsurgeon-{os.getpid()}-{next(_names)}.h5".encode()


def write_h5(params: Mapping[str, Tuple[np.ndarray, bool]]) -> bytes:
    """The bytes of an .h5 holding ``params`` (name -> (array, need_grad)) in NNabla's format, in order."""
    from h5py import h5a, h5d, h5f, h5p, h5s, h5t

    fcpl = h5p.create(h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)  # no timestamps: the same parameters give the same bytes
    fid = h5f.create(_name(), h5f.ACC_TRUNC, fcpl=fcpl, fapl=_core_fapl())
    try:
        lcpl = h5p.create(h5p.LINK_CREATE)
        lcpl.set_create_intermediate_group(True)
        lcpl.set_char_encoding(h5t.CSET_UTF8)
        dcpl = h5p.create(h5p.DATASET_CREATE)
        dcpl.set_obj_track_times(False)
        scalar = h5s.create(h5s.SCALAR)
        bool_type = h5t.py_create(np.dtype(bool))
        int_type = h5t.py_create(np.dtype(np.int64))
        types: Dict[np.dtype, object] = {}
        spaces: Dict[tuple, object] = {(): scalar}
        false, true = np.array(False), np.array(True)
        # every write names its memory type: h5py derives it from the array otherwise (about 30 us a call)
        for index, (key, (data, need_grad)) in enumerate(params.items()):
            array = np.require(data, requirements="C")  # (ascontiguousarray would make 0-d arrays 1-d)
            if array.dtype not in types:
                types[array.dtype] = h5t.py_create(array.dtype, logical=True)
            if array.shape not in spaces:
                spaces[array.shape] = h5s.create_simple(array.shape)
            htype = types[array.dtype]
            dset = h5d.create(fid, key.encode("utf-8"), htype, spaces[array.shape], dcpl=dcpl, lcpl=lcpl)
            if array.size:
                dset.write(h5s.ALL, h5s.ALL, array, mtype=htype)
            h5a.create(dset, b"need_grad", bool_type, scalar).write(true if need_grad else false, mtype=bool_type)
            h5a.create(dset, b"index", int_type, scalar).write(np.array(index, dtype=np.int64), mtype=int_type)
            dset.close()
        h5f.flush(fid)
        return fid.get_file_image()
    finally:
        fid.close()


@contextmanager
def open_image(data: bytes):
    """The .h5 bytes ``data`` opened read-only as a low-level h5py file (HDF5's core driver: no file on
    disk), closed on leaving."""
    from h5py import h5f

    if not data:  # no image: HDF5's core driver would open a file of that name on disk instead
        raise OSError("the .h5 member is empty")
    fid = h5f.open(_name(), h5f.ACC_RDONLY, fapl=_core_fapl(data))
    try:
        yield fid
    finally:
        fid.close()
