"""One progress bar for long runs over batches: tqdm on stderr when stderr is a terminal, nothing otherwise."""
import sys


def progress(iterable, total, desc, enabled: bool = True):
    """``iterable`` wrapped in a tqdm bar (unit: batch) when enabled and stderr is a terminal."""
    if not (enabled and sys.stderr.isatty()):
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="batch", file=sys.stderr, leave=False)
