"""Labels for accuracy: class indices of the evaluation samples, in the order the data gives them.

``spec`` is a ``.npy`` file of class indices (N,) or one-hot rows (N, C); a ``.npz`` file holding one array,
or an array named ``labels``; or, when the evaluation data is an ``.npz``, the name of one of its arrays
(that array is then not fed to the network). When ``spec`` is the data file itself, its ``labels`` array is
used the same way.
"""
import os
from typing import Optional, Tuple

import numpy as np

from ..errors import DataError


def load_labels(spec: str, data: Optional[str] = None) -> Tuple[np.ndarray, Optional[str]]:
    """(class indices as int64 (N,), the key of ``data`` that holds them or None).

    Example::

        labels, key = load_labels("labels.npy")
    """
    key = None
    same = data is not None and os.path.exists(spec) and os.path.abspath(spec) == os.path.abspath(data)
    if os.path.isfile(spec) and not same:
        arr = _read(spec)
    elif data is not None and data.endswith(".npz") and os.path.isfile(data):
        key = "labels" if same else spec
        arrays = _npz(data)
        if key not in arrays.files:
            raise DataError(f"{data}: has no array '{key}' to use as labels (arrays: {', '.join(arrays.files)}); "
                            "give a .npy of class indices or the name of the array holding them")
        arr = arrays[key]
    else:
        raise DataError(f"{spec}: no such file; give a .npy of class indices (N,) or one-hot rows (N, C), an .npz, "
                        "or the name of an array of the input .npz")
    return _indices(arr, spec), key


def _npz(path: str):
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read as numpy data ({e})") from None


def _read(path: str) -> np.ndarray:
    if path.endswith(".npy"):
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise DataError(f"{path}: cannot read as numpy data ({e})") from None
    if path.endswith(".npz"):
        arrays = _npz(path)
        if len(arrays.files) == 1:
            return arrays[arrays.files[0]]
        if "labels" in arrays.files:
            return arrays["labels"]
        raise DataError(f"{path}: holds {', '.join(arrays.files)}; name the labels array 'labels' or save it alone")
    raise DataError(f"{path}: not a .npy or .npz file")


def _indices(arr: np.ndarray, spec: str) -> np.ndarray:
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{spec}: labels have dtype {arr.dtype}; give class indices (integers)")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        if not (np.isin(arr, (0, 1)).all() and (arr.sum(1) == 1).all()):
            raise DataError(f"{spec}: labels of shape {arr.shape} are not one-hot rows; give class indices (N,) "
                            "or rows of zeros with a single 1")
        return arr.argmax(1).astype(np.int64)
    if arr.ndim != 1:
        raise DataError(f"{spec}: labels have shape {arr.shape}; give class indices (N,) or one-hot rows (N, C)")
    if not np.isfinite(arr).all() or (arr != np.round(arr)).any() or (arr < 0).any():
        raise DataError(f"{spec}: labels must be non-negative whole numbers (class indices)")
    return arr.astype(np.int64)
