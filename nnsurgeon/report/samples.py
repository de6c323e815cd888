"""Values to draw: network inputs and chosen layers for a range of samples, run through ``runtime``, or
arrays read from an .npz written elsewhere."""
from typing import Dict, List, Tuple

import numpy as np

from ..errors import DataError

Sample = Tuple[int, Dict[str, np.ndarray]]  # (sample number, {key: value without the batch axis})


def model_samples(model, network: str, layers, source, first: int = 0, count: int = 1,
                  context: str = "cpu") -> Tuple[List[Sample], List[str]]:
    """Run samples ``first .. first+count-1`` of ``source`` through ``network``; return the samples (inputs
    first, then ``layers`` in network order) and the input keys."""
    from ..runtime.extract import run_layers

    if first >= source.count:
        raise DataError(f"--sample {first}: the input has {source.count} sample(s)")
    count = min(count, source.count - first)
    batches = _slice(source, first, count)
    out: List[Sample] = []
    inputs: List[str] = []
    for batch, values in zip(batches, run_layers(model, network, layers, batches, context)):
        inputs = list(batch)
        if not batch:  # a network with no data input: its values have no batch axis to split
            out.append((first, {k: np.array(v) for k, v in values.items()}))
            continue
        n = len(next(iter(batch.values())))
        for i in range(n):
            sample = {k: np.array(v[i]) for k, v in batch.items()}
            sample.update({k: np.array(v[i]) for k, v in values.items()})
            out.append((first + len(out), sample))
    return out, inputs


def _slice(source, first: int, count: int) -> List[Dict[str, np.ndarray]]:
    """The batches holding samples first..first+count-1 (read in batches of up to 32)."""
    wanted, seen = [], 0
    for batch in source.batches(32):
        if not batch:  # a network with no data input: one empty batch
            return [batch]
        n = len(next(iter(batch.values())))
        lo, hi = max(first - seen, 0), min(first + count - seen, n)
        if lo < hi:
            wanted.append({k: v[lo:hi] for k, v in batch.items()})
        seen += n
        if seen >= first + count:
            break
    return wanted


def npz_samples(arrays: Dict[str, np.ndarray], available: int, first: int = 0, count: int = 1,
                path: str = "") -> List[Sample]:
    """Samples ``first ..`` of arrays read by :func:`nnsurgeon.report.featuremaps.load_npz`."""
    if first >= available:
        raise DataError(f"--sample {first}: {path} holds {available} sample(s)")
    return [(i, {k: a[i] for k, a in arrays.items()}) for i in range(first, min(first + count, available))]

