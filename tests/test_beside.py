"""Work beside the main process (``nnsurgeon.model.beside``): the text definition parsed or printed in a forked
child while this process handles the .h5. The result must be the same with or without the child, errors
included, and a child whose result is not wanted must not outlive the block."""
import os
import signal
import threading
import time
import zipfile

import numpy as np
import pytest

from nnsurgeon.errors import ModelError, OutputError
from nnsurgeon.model import beside as beside_module
from nnsurgeon.model import read_nnp, write_nnp
from nnsurgeon.model.beside import beside, can_fork

linux_only = pytest.mark.skipif(not can_fork(), reason="forks only on Linux with one thread")


@linux_only
def test_a_forked_job_gives_the_value_and_raises_the_error():
    with beside(pow, 2, 10) as job:
        assert job.forked
        assert job.result() == 1024
    with beside(int, "not a number") as job:
        assert job.forked
        with pytest.raises(ValueError, match="not a number"):
            job.result()


class _Unpicklable(Exception):
    def __init__(self, a, b):  # pickle rebuilds exceptions from .args: this one cannot be rebuilt
        super().__init__(f"{a}-{b}")
        self.args = (f"{a}-{b}",)


def _raise_unpicklable():
    raise _Unpicklable("x", "y")


def _die_in_child(parent: int) -> int:
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return 42


@linux_only
def test_a_child_that_dies_or_cannot_send_its_error_is_computed_again_here():
    with beside(_die_in_child, os.getpid()) as job:
        assert job.forked and job.result() == 42
    with beside(_raise_unpicklable) as job:
        with pytest.raises(_Unpicklable, match="x-y"):
            job.result()


@linux_only
def test_a_child_whose_result_is_not_taken_is_stopped_and_reaped():
    with beside(time.sleep, 60) as job:
        pid = job._pid
        assert job.forked and pid
    with pytest.raises(ChildProcessError):  # already reaped: no zombie left
        os.waitpid(pid, os.WNOHANG)


def test_no_fork_when_switched_off_or_another_thread_runs(monkeypatch):
    monkeypatch.setenv("NNSURGEON_NO_FORK", "1")
    with beside(pow, 2, 3) as job:
        assert not job.forked and job.result() == 8
    monkeypatch.delenv("NNSURGEON_NO_FORK")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with beside(pow, 2, 3) as job:
            assert not job.forked and job.result() == 8
    finally:
        stop.set()
        other.join()


def _record_forks(monkeypatch) -> list:
    """A list that receives every :class:`Job` that tried to fork."""
    started = []
    real_start = beside_module.Job.start

    def recorded(self):
        real_start(self)
        started.append(self)
    monkeypatch.setattr(beside_module.Job, "start", recorded)
    return started


def _same_model(a, b):
    assert a.proto.SerializeToString(deterministic=True) == b.proto.SerializeToString(deterministic=True)
    assert list(a.parameters) == list(b.parameters)
    for key, p in a.parameters.items():
        q = b.parameters[key]
        assert p.need_grad == q.need_grad and p.data.dtype == q.data.dtype
        assert np.array_equal(p.data.view(np.uint8), q.data.view(np.uint8))


@linux_only
@pytest.mark.parametrize("name", ["chain", "residual", "zoo", "multi-network"])
def test_reading_and_writing_beside_give_what_one_process_gives(examples, tmp_path, monkeypatch, name):
    """Every text definition sent beside (threshold 0): the model read and the file written are the same as
    with everything in one process."""
    src = examples[(name, "nntxt+h5")]
    started = _record_forks(monkeypatch)
    monkeypatch.setattr(beside_module, "MIN_TEXT_BYTES", 0)
    forked = read_nnp(src)
    write_nnp(forked, str(tmp_path / "forked.nnp"))
    assert [job.forked for job in started] == [True, True]  # one child to read, one to write
    monkeypatch.setenv("NNSURGEON_NO_FORK", "1")
    alone = read_nnp(src)
    write_nnp(alone, str(tmp_path / "alone.nnp"))
    _same_model(forked, alone)
    with zipfile.ZipFile(tmp_path / "forked.nnp") as a, zipfile.ZipFile(tmp_path / "alone.nnp") as b:
        assert [(i.filename, a.read(i)) for i in a.infolist()] == [(i.filename, b.read(i)) for i in b.infolist()]


def _with_member(src, dst, member, data):
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for info in a.infolist():
            b.writestr(info.filename, data if info.filename == member else a.read(info))


@linux_only
@pytest.mark.parametrize("fork", ["0", "1"])
def test_errors_read_beside_are_the_errors_read_alone(examples, tmp_path, monkeypatch, fork):
    """A bad text definition (raised in the child) and a bad .h5 (read early, here) give the one-process
    messages, first bad member first."""
    monkeypatch.setattr(beside_module, "MIN_TEXT_BYTES", 0)
    monkeypatch.setenv("NNSURGEON_NO_FORK", fork)
    src = examples[("chain", "nntxt+h5")]
    bad_text = tmp_path / "text.nnp"
    _with_member(src, bad_text, "network.nntxt", b"network { name: 'x' bogus: 1 }")
    with pytest.raises(ModelError, match=r"member 'network.nntxt' is not a valid NNabla .nntxt file .*bogus"):
        read_nnp(str(bad_text))
    bad_h5 = tmp_path / "h5.nnp"
    _with_member(src, bad_h5, "parameter.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ModelError, match=r"parameter member 'parameter.h5' cannot be read"):
        read_nnp(str(bad_h5))
    both = tmp_path / "both.nnp"
    _with_member(bad_text, both, "parameter.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ModelError, match="network.nntxt"):  # the definition comes first in the zip
        read_nnp(str(both))


@linux_only
def test_a_definition_that_does_not_read_back_is_caught_in_the_child(examples, tmp_path, monkeypatch):
    """The text printed and parsed back in the child: a printer that loses a function is caught there and
    nothing is written."""
    from nnsurgeon.model import writer

    monkeypatch.setattr(beside_module, "MIN_TEXT_BYTES", 0)
    model = read_nnp(examples[("chain", "nntxt+h5")])
    real = writer._definition_bytes

    def lossy(model, name, with_parameters):
        return real(model, name, with_parameters).replace(b"function {", b"function_ {", 1)
    monkeypatch.setattr(writer, "_definition_bytes", lossy)
    out = tmp_path / "out.nnp"
    with pytest.raises(OutputError, match="the written file does not load .*network.nntxt.* nothing was saved"):
        write_nnp(model, str(out))
    assert list(tmp_path.iterdir()) == []


def _recipe(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


@linux_only
def test_the_build_check_beside_the_writer_still_stops_the_write(examples, tmp_path, monkeypatch):
    """The build check runs in a child while the result is rendered and written to a temporary file: a
    result NNabla cannot build is still refused with the build check's message and nothing appears, and the
    build check's error comes before a failure of the write itself (as when it ran first)."""
    from nnsurgeon.model import writer

    from .conftest import assert_user_error, run

    started = _record_forks(monkeypatch)
    monkeypatch.setattr(beside_module, "MIN_FUNCTIONS", 0)
    src = examples[("chain", "nntxt+h5")]
    recipe = _recipe(tmp_path, "version: 1\nsteps:\n  - replace: {types: [Convolution], to: Affine}\n")
    out = tmp_path / "out"
    out.mkdir()
    r = run("apply", recipe, src, "-o", out / "o.nnp")
    assert_user_error(r, "NNabla cannot build network 'Runtime'", "nothing was written")
    assert any(job.forked and getattr(job._fn, "func", None) is not None and job._fn.func.__name__ == "check_buildable"
               for job in started)
    assert list(out.iterdir()) == []

    def broken(tmp, members, path):
        raise writer.OutputError(f"{path}: simulated write failure")
    monkeypatch.setattr(writer, "_verify_written", broken)
    r = run("apply", recipe, src, "-o", out / "o.nnp")
    assert_user_error(r, "NNabla cannot build network 'Runtime'")
    ok = _recipe(tmp_path, "version: 1\nsteps:\n  - quantize: {after: [ReLU]}\n")
    r = run("apply", ok, src, "-o", out / "o.nnp")
    assert_user_error(r, "simulated write failure")
    monkeypatch.undo()
    monkeypatch.setattr(beside_module, "MIN_FUNCTIONS", 0)
    r = run("apply", ok, src, "-o", out / "o.nnp")
    assert r.exit_code == 0, r.stderr
    assert read_nnp(str(out / "o.nnp")).network("Runtime") is not None
    assert [p.name for p in out.iterdir()] == ["o.nnp"]
