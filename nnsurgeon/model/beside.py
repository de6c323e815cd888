"""Run one pure function in a forked child process while this process goes on with other work.

Reading and writing a large model spends its time in two single-threaded libraries that never overlap inside
one Python process: protobuf's text format (pure Python in protobuf 3.20, which NNabla pins) and HDF5 (h5py
holds the GIL). On a machine with two or more cores the text can be parsed or printed in a child while this
process reads or writes the parameters. The child is a ``fork`` of this process, so it sees the model without
copying it; it sends back one pickled result (or the exception it raised) through a pipe.

Only a computation that is a pure function of its arguments is sent beside, and the result is the same
either way: where forking is not available or not safe (not Linux, more than one Python thread running,
``NNSURGEON_NO_FORK=1``, a small input) or the child dies without a result, the function runs here, in this
process, when its result is asked for.

Example::

    with beside(text_format.MessageToString, proto, fork=text_worth_forking(proto.ByteSize() * 3, 0)) as text:
        h5 = write_h5(params)          # runs while the child prints the text
        definition = text.result()     # the child's result, or computed here when there was no child
"""
import ctypes
import os
import pickle
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Tuple

MIN_TEXT_BYTES = 64 << 10  # text below this parses and prints in less time than a fork costs
BYTES_PER_TEXT_BYTE = 256  # a fork's cost grows with the process's memory, most of it the parameters: forking
# the writer of ResNet-18 (47 MB of parameters, 80 KB of text) cost more than it saved, of a 100-function chain
# (100 KB of text) it saved 20%
MIN_FUNCTIONS = 100  # the build check costs about 0.7 ms a function; a fork, with the copy-on-write faults of
# both processes afterwards, 0.03-0.2 s: forking it saved 7% on a 100-function chain, cost 10% on ResNet-18
BYTES_PER_FUNCTION = 64 << 10


def text_worth_forking(text_bytes: int, parameter_bytes: int) -> bool:
    """Whether parsing or printing ``text_bytes`` of text beside ``parameter_bytes`` of parameters saves more
    than the fork costs."""
    return text_bytes >= MIN_TEXT_BYTES + parameter_bytes // BYTES_PER_TEXT_BYTE


def build_worth_forking(functions: int, parameter_bytes: int) -> bool:
    """Whether building ``functions`` functions with NNabla beside the writer of ``parameter_bytes`` of
    parameters saves more than the fork costs."""
    return functions >= MIN_FUNCTIONS + parameter_bytes // BYTES_PER_FUNCTION


def can_fork() -> bool:
    """Whether a child may be forked here: Linux (fork is unsafe with macOS frameworks and absent on Windows),
    this the only Python thread (a lock another thread holds would stay held in the child), and not
    switched off with ``NNSURGEON_NO_FORK=1``."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1
            and os.environ.get("NNSURGEON_NO_FORK", "") in ("", "0"))


class Job:
    """``fn(*args)``: computed in a forked child once :meth:`start` ed, else here; :meth:`settle` takes the
    outcome (value or exception) without raising, :meth:`result` gives or raises it."""

    def __init__(self, fn: Callable[..., Any], args: tuple):
        self._fn, self._args = fn, args
        self._pid: Optional[int] = None
        self._pipe: Optional[int] = None
        self._outcome: Optional[Tuple[bool, Any]] = None
        self.forked = False

    def start(self) -> None:
        """Fork the child that computes the function (when :func:`can_fork`). Signals are held back from
        before the fork until the child is recorded, so a Ctrl-C cannot leave a child nobody knows of."""
        if not can_fork():
            return
        parent = os.getpid()
        with _signals_held():
            read_end, write_end = os.pipe()
            try:
                pid = os.fork()
            except OSError:  # no memory or process slot for a child: compute here
                os.close(read_end)
                os.close(write_end)
                return
            if pid == 0:
                self._child(parent, read_end, write_end)  # never returns
            os.close(write_end)
            self._pid, self._pipe, self.forked = pid, read_end, True

    def _child(self, parent: int, read_end: int, write_end: int) -> None:
        """Compute, send, leave without running any of the parent's exit handlers."""
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
            _die_with_parent(parent)
            os.close(read_end)
            try:
                outcome = (True, self._fn(*self._args))
            except BaseException as e:  # noqa: B902 - sent to the parent, which raises it
                outcome = (False, e)
            try:
                payload = pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
            except Exception:
                payload = b""  # a value or error that does not pickle: the parent computes it again itself
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view):]
        finally:
            os._exit(0)

    def settle(self) -> "Job":
        """Take the outcome (from the child, or computed here) without raising it; returns the job."""
        if self._outcome is None:
            try:
                self._outcome = (True, self._compute())
            except Exception as e:
                self._outcome = (False, e)
        return self

    def result(self) -> Any:
        """The function's value, or the exception it raised, raised here (computed once)."""
        ok, value = self.settle()._outcome
        if not ok:
            raise value
        return value

    def _compute(self) -> Any:
        if self._pid is not None:
            chunks = []
            try:
                while True:
                    chunk = os.read(self._pipe, 1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except BaseException:  # Ctrl-C while waiting: the child's work is not wanted any more
                self._reap(kill=True)
                raise
            self._reap(kill=False)
            try:
                ok, value = pickle.loads(b"".join(chunks))
            except Exception:  # the child died (killed, out of memory) or sent nothing: compute it here
                return self._fn(*self._args)
            if not ok:
                raise value
            return value
        return self._fn(*self._args)

    def _reap(self, kill: bool) -> None:
        """Close the pipe, stop the child if ``kill``, wait for it; with signals held, so that a second Ctrl-C
        cannot leave it running or unreaped."""
        if self._pid is None:
            return
        with _signals_held():
            if self._pipe is not None:
                os.close(self._pipe)
                self._pipe = None
            if kill:
                try:
                    os.kill(self._pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            while True:
                try:
                    os.waitpid(self._pid, 0)
                    break
                except InterruptedError:
                    continue
                except ChildProcessError:
                    break
            self._pid = None

    def cancel(self) -> None:
        """Stop the child if its result was never asked for (an error or Ctrl-C in the parent's own work)."""
        self._reap(kill=True)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Every signal held back for the duration (delivered on leaving, where Python raises for it)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _die_with_parent(parent: int) -> None:
    """In a child: be killed when the parent dies (Linux's PR_SET_PDEATHSIG), so that a parent killed by
    SIGTERM or the OOM killer leaves no child computing on; leave at once if it is already gone."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(0)


def computed(fn: Callable[..., Any], *args: Any) -> Job:
    """``fn(*args)`` computed now, here, its error kept: :meth:`Job.result` raises it when the caller chooses
    (errors reported in the order of the members, whatever order the work was done in)."""
    return Job(fn, args).settle()


@contextmanager
def beside(fn: Callable[..., Any], *args: Any, fork: bool = True) -> Iterator[Job]:
    """A :class:`Job` computing ``fn(*args)`` beside the caller when ``fork`` (and :func:`can_fork`); the
    child is stopped on leaving the block if its result was not taken."""
    job = Job(fn, args)
    try:
        if fork:
            job.start()
        yield job
    finally:
        job.cancel()
