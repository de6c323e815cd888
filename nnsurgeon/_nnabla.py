"""Import NNabla quietly: its logger announces itself at INFO on import and on every save.

Everything in nnsurgeon imports NNabla through :func:`nnabla_quiet` so that the CLI stays quiet unless ``-v``.
"""
import contextlib
import logging

_VERBOSE = False


def set_verbose(verbose: bool) -> None:
    """Let NNabla's INFO messages through (``-v``) or keep them at WARNING (default)."""
    global _VERBOSE
    _VERBOSE = verbose
    _apply_level()


def _apply_level() -> None:
    level = logging.INFO if _VERBOSE else logging.WARNING
    logging.getLogger("nnabla").setLevel(level)
    try:
        from nnabla.logger import logger
    except ImportError:  # pragma: no cover - nnabla missing is reported by the caller
        return
    logger.setLevel(level)
    for handler in logger.handlers:
        handler.setLevel(level)


def nnabla_quiet():
    """Return the ``nnabla`` module, imported with its start-up INFO lines suppressed unless verbose."""
    import sys

    if "nnabla" not in sys.modules and not _VERBOSE:
        # NNabla's logger is a plain ``logging`` logger named "nnabla"; its level set first silences the
        # "Initializing CPU extension..." line printed during import.
        logging.getLogger("nnabla").setLevel(logging.WARNING)
    import nnabla

    _apply_level()
    return nnabla


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is NNabla's C++ allocator giving up (it raises ``RuntimeError: memory error in alloc``
    with a source location, not ``MemoryError``)."""
    return isinstance(error, RuntimeError) and "memory error in alloc" in str(error)


@contextlib.contextmanager
def c_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the duration, unless verbose: C++ libraries (libprotobuf,
    NNabla's allocator: 'Failed to allocate again.') write there directly, and the user should see
    nnsurgeon's one ``Error:`` line only."""
    import os
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (closed, or replaced by an object without a descriptor)
        saved = None
    if saved is None or _VERBOSE:
        if saved is not None:
            os.close(saved)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
