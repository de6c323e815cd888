"""Ctrl-C that always stops the command.

Python delivers SIGINT as a ``KeyboardInterrupt`` raised wherever the interpreter happens to be; when that is
inside a finaliser or a weak-reference callback (NNabla's graph teardown runs many), Python prints "Exception
ignored in ..." and carries on. So the CLI installs :func:`install`: the handler records the interrupt before
raising, and the places that commit work (the writer, before renaming an output into place; the plan driver,
between steps; the batch loops) call :func:`check_interrupted`, which raises again. An interrupt can thus delay
the stop by at most one step or batch; it can never let an output appear.
"""
import signal
import sys
import warnings

_interrupted = False
_default_unraisable = sys.unraisablehook
_saved_filters: list = []


def _importing(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _handler(signum, frame):
    global _interrupted
    _interrupted = True
    warnings.simplefilter("ignore")  # the command is stopping: warnings from interrupted code are noise
    if _importing(frame):
        # A module half initialised (NNabla's Cython modules) can crash the process later: let the import
        # finish; the next check_interrupted() (every batch, step and write) stops the command.
        return
    raise KeyboardInterrupt


def _unraisable(info):
    """An interrupt raised where Python cannot propagate it (a finaliser, a callback) is recorded, not printed;
    anything else goes to Python's own hook."""
    if _interrupted and info.exc_type is KeyboardInterrupt:
        return
    _default_unraisable(info)


def install():
    """Route SIGINT through the recording handler; returns the handler it replaced (for :func:`restore`)."""
    global _interrupted
    _interrupted = False
    _saved_filters[:] = warnings.filters[:]
    sys.unraisablehook = _unraisable
    try:
        return signal.signal(signal.SIGINT, _handler)
    except ValueError:  # not the main thread (e.g. a test runner's worker): keep Python's default
        return None


def restore(previous) -> None:
    """Put back the handler :func:`install` replaced and forget any recorded interrupt (in-process callers:
    a notebook or a test runner must get their Ctrl-C back)."""
    global _interrupted
    _interrupted = False
    sys.unraisablehook = _default_unraisable
    warnings.filters[:] = _saved_filters
    if previous is not None:
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass


def interrupted() -> bool:
    return _interrupted


def check_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if an interrupt arrived, even one that Python swallowed."""
    if _interrupted:
        raise KeyboardInterrupt
