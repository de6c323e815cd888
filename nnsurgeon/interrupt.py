"""Ctrl-C that always stops the command.

Python delivers SIGINT as a ``KeyboardInterrupt`` raised wherever the interpreter happens to be; when that is
inside a finaliser or a weak-reference callback (NNabla's graph teardown runs many), Python prints "Exception
ignored in ..." and carries on. So the CLI installs :func:`install`: the handler records the interrupt before
raising, and the places that commit work (the writer, before renaming an output into place; the plan driver,
between steps; the batch loops) call :func:`check_interrupted`, which raises again. An interrupt can thus delay
the stop by at most one step or batch; it can never let an output appear.
"""
import signal

_interrupted = False


def _handler(signum, frame):
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGINT through the recording handler (the CLI calls this once)."""
    global _interrupted
    _interrupted = False
    try:
        signal.signal(signal.SIGINT, _handler)
    except ValueError:  # not the main thread (e.g. a test runner's worker): keep Python's default
        pass


def interrupted() -> bool:
    return _interrupted


def check_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if an interrupt arrived, even one that Python swallowed."""
    if _interrupted:
        raise KeyboardInterrupt
