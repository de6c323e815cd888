"""Timing helpers the benchmark scripts share: the best of a few runs, and interleaved medians."""
import statistics
import time


def best(fn, repeat=2):
    """The shortest of ``repeat`` runs of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def interleaved(tasks, repeat):
    """{name: median seconds}: each round runs every task once, in order, so load on a shared machine hits
    all of them alike."""
    times = {name: [] for name in tasks}
    for _ in range(repeat):
        for name, fn in tasks.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(v) for name, v in times.items()}
