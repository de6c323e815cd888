"""Regressions found in review of the work beside the main process (nnsurgeon.model.beside and its callers)
and of the .h5 fast path (datasets copied straight out of the file image): each test failed on the code as
reviewed (7e5635f)."""
import io
import os
import signal
import subprocess
import sys
import textwrap
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
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _gone(pid: int) -> bool:
    """Whether ``pid`` (a child of this process) has been reaped already; a live child is killed and reaped."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    if done == 0:  # still running: stop it so that the test leaves nothing behind
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return False  # running, or a zombie nobody reaped


# --- 1. h5 fast path: raw bytes copied for HDF5 types that are not the numpy dtype's layout -------------------

def _h5_with_custom_type(model, key, htype):
    """NNabla-format .h5 of ``model``'s parameters, ``key`` stored with the HDF5 type ``htype`` (HDF5
    converts the values on writing; h5py's read, and NNabla's, convert them back)."""
    import h5py
    from h5py import h5d, h5p, h5s, h5t

    lcpl = h5p.create(h5p.LINK_CREATE)
    lcpl.set_create_intermediate_group(True)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for index, (name, p) in enumerate(model.parameters.items()):
            if name == key:
                ds = h5d.create(f.id, name.encode(), htype, h5s.create_simple(p.data.shape), lcpl=lcpl)
                ds.write(h5s.ALL, h5s.ALL, np.ascontiguousarray(p.data, np.float32),
                         mtype=h5t.py_create(np.dtype(np.float32)))
                d = f[name]
            else:
                d = f.create_dataset(name, data=p.data)
            d.attrs["need_grad"] = p.need_grad
            d.attrs["index"] = index
    return buf.getvalue()


def _custom_float(kind):
    from h5py import h5t

    t = h5t.IEEE_F32LE.copy()
    if kind == "no-norm":  # h5py maps it to float32: same size, other bit layout
        t.set_norm(h5t.NORM_NONE)
    else:  # another exponent bias: h5py maps it to float64 (8 bytes a value; 4 stored)
        t.set_ebias(100)
    return t


@pytest.mark.parametrize("kind", ["no-norm", "ebias"])
def test_parameters_of_a_nonstandard_float_type_read_as_hdf5_converts_them(examples, tmp_path, kind):
    """A contiguous dataset whose HDF5 float type is not IEEE single with the standard layout (no implied
    mantissa bit; another exponent bias) must read as h5py and NNabla read it (HDF5 converts), not as its raw
    bytes. The fast path (Entry.read with the image) copies ``shape * dtype.itemsize`` raw bytes: wrong values,
    and for the ebias type (mapped to float64) twice the bytes the dataset stores."""
    import h5py

    src = examples[("chain", "nntxt+h5")]
    model = read_nnp(src)
    key = next(iter(model.parameters))
    image = _h5_with_custom_type(model, key, _custom_float(kind))
    with h5py.File(io.BytesIO(image), "r") as f:
        expected = f[key][()]  # what h5py (and nnabla.parameter.load_parameters) gives
    out = tmp_path / "custom.nnp"
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out, "w") as b:
        for info in a.infolist():
            b.writestr(info.filename, image if info.filename.endswith(".h5") else a.read(info))
    got = read_nnp(str(out)).parameters[key].data
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected), f"read {got.reshape(-1)[:4]}, HDF5 gives {expected.reshape(-1)[:4]}"


def test_parameters_of_an_integer_type_with_padding_read_as_hdf5_converts_them(tmp_path):
    """An integer type with precision 16 at bit offset 8 in 4 bytes (h5py: int32): HDF5 shifts and
    sign-extends; the fast path copies the raw words."""
    import h5py
    from h5py import h5d, h5s, h5t

    from nnsurgeon.model.reader import _read_h5_parameters

    t = h5t.STD_I32LE.copy()
    t.set_precision(16)
    t.set_offset(8)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        ds = h5d.create(f.id, b"w", t, h5s.create_simple((4,)))
        ds.write(h5s.ALL, h5s.ALL, np.array([1, 2, 3, -4], np.int32), mtype=h5t.py_create(np.dtype(np.int32)))
        f["w"].attrs["index"] = 0
        f["w"].attrs["need_grad"] = True
    image = buf.getvalue()
    with h5py.File(io.BytesIO(image), "r") as f:
        expected = f["w"][()]
    got = _read_h5_parameters("m.nnp", "parameter.h5", image, 1 << 20)["w"].data
    assert np.array_equal(got, expected), f"read {got}, HDF5 gives {expected}"


# --- 2. signal safety of the fork bookkeeping ---------------------------------------------------------------

@linux_only
def test_an_interrupt_as_fork_returns_leaves_no_child_running(monkeypatch):
    """A Ctrl-C that arrives during ``os.fork()`` (the fork of a large process takes tens of ms): its handler
    used to raise KeyboardInterrupt as fork returned, before ``Job`` recorded the child's pid, so the child
    (which ignores SIGINT) ran on and the pipe leaked. Signals are now held from before the fork until the
    child is recorded: the interrupt is raised after, and the child is stopped and reaped."""
    real_fork = os.fork
    parent = os.getpid()
    children = []

    def fork_and_interrupt():
        pid = real_fork()
        if pid != 0:
            children.append(pid)
            os.kill(parent, signal.SIGINT)  # a real SIGINT, arriving as fork returns
        return pid

    monkeypatch.setattr(os, "fork", fork_and_interrupt)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with beside(time.sleep, 30):
                time.sleep(1)  # the interrupt must not wait for the block's own work
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.undo()
    assert os.getpid() == parent and children
    time.sleep(0.2)
    assert _gone(children[0]), "the forked child was left running (or unreaped) after the interrupt"


@linux_only
def test_a_second_interrupt_while_the_child_is_stopped_leaves_no_child_running(monkeypatch):
    """A second Ctrl-C while ``_reap`` stops the child: the pid used to be cleared before SIGKILL and waitpid,
    so a KeyboardInterrupt raised there left the child neither killed nor reaped. Signals are now held while
    the child is stopped: the second interrupt is raised after, the child gone."""
    parent = os.getpid()
    real_close = os.close
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with beside(time.sleep, 30) as job:
                pid, pipe = job._pid, job._pipe

                def close_and_interrupt(fd):
                    real_close(fd)
                    if os.getpid() == parent and fd == pipe:
                        os.kill(parent, signal.SIGINT)  # a real second SIGINT, during the stop
                monkeypatch.setattr(os, "close", close_and_interrupt)
                raise KeyboardInterrupt  # the first Ctrl-C, in the caller's own work
    finally:
        signal.signal(signal.SIGINT, previous)
        monkeypatch.undo()
    time.sleep(0.2)
    assert _gone(pid), "the child was left running (or unreaped) after the second interrupt"


@linux_only
def test_a_child_does_not_outlive_its_parent(tmp_path):
    """The parent killed (SIGTERM from `timeout` or a scheduler, SIGKILL from the OOM killer, which the extra
    copy-on-write memory of a fork makes likelier): the child keeps computing, an orphan, for as long as its
    work takes (the build check of a large model, the text of a large definition)."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {ROOT!r})
        from nnsurgeon.model.beside import beside
        with beside(time.sleep, 20) as job:
            print(job._pid, flush=True)
            time.sleep(30)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        time.sleep(0.5)
        try:
            os.kill(child, 0)
            alive = open(f"/proc/{child}/stat").read().split()[2] != "Z"
        except (ProcessLookupError, FileNotFoundError):
            alive = False
        if alive:
            os.kill(child, signal.SIGKILL)
        assert not alive, "the child went on running after its parent died"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- 3. the documented fallback for a result that cannot be pickled ----------------------------------------

@linux_only
def test_a_result_that_cannot_be_pickled_is_computed_here():
    """The module promises that a result the child cannot send is computed in the parent; a value that does
    not pickle is instead sent as the pickling error (TypeError), which the parent raises."""
    with beside(threading.Lock) as job:
        assert job.forked
        lock = job.result()
    assert hasattr(lock, "acquire")


# --- 4. error precedence ------------------------------------------------------------------------------------

def test_the_first_member_that_does_not_read_back_is_named_first(examples, tmp_path, monkeypatch):
    """Before the change the written members were parsed back in member order, so a definition that does not
    read back was reported before a parameter member that does not either; now the text definition is always
    checked last (also without a fork: NNSURGEON_NO_FORK=1), so the parameter member's error comes first."""
    from nnsurgeon.model import writer

    monkeypatch.setenv("NNSURGEON_NO_FORK", "1")
    model = read_nnp(examples[("chain", "nntxt+h5")])
    real = writer._definition_bytes

    def lossy(model, name, with_parameters):
        return real(model, name, with_parameters).replace(b"function {", b"function_ {", 1)

    def broken_h5(data, model):
        raise ModelError("simulated h5 damage")
    monkeypatch.setattr(writer, "_definition_bytes", lossy)
    monkeypatch.setattr(writer, "_check_h5", broken_h5)
    with pytest.raises(OutputError) as e:
        write_nnp(model, str(tmp_path / "out.nnp"))
    assert "network.nntxt" in str(e.value), str(e.value)


@linux_only
def test_the_build_check_error_comes_before_any_failure_of_the_write(examples, tmp_path, monkeypatch):
    """The build check's error must come first "as when it ran first"; only NnsurgeonError from the write is
    held back for it. A MemoryError while rendering (the case on the large models that get a fork) ends the
    command as 'out of memory' although NNabla cannot build the result, and the child's verdict is dropped."""
    from nnsurgeon.model import writer

    from .conftest import run

    monkeypatch.setattr(beside_module, "MIN_FUNCTIONS", 0)

    def out_of_memory(model):
        raise MemoryError()
    monkeypatch.setattr(writer, "_h5_bytes", out_of_memory)
    src = examples[("chain", "nntxt+h5")]
    recipe = tmp_path / "r.yaml"
    recipe.write_text("version: 1\nsteps:\n  - replace: {types: [Convolution], to: Affine}\n")
    out = tmp_path / "out"
    out.mkdir()
    r = run("apply", recipe, src, "-o", out / "o.nnp")
    assert r.exit_code == 2
    assert "NNabla cannot build network 'Runtime'" in r.stderr, r.stderr
    assert list(out.iterdir()) == []


def test_a_damaged_attribute_is_refused_not_taken_as_absent(examples, tmp_path):
    """``_attribute`` now opens ``index``/``need_grad`` and takes h5py's KeyError as "absent"; but h5py raises
    KeyError for every failure to open an attribute (HDF5's "can't open object"), damage included. A flipped
    byte in a dataset's attribute messages (here the dataspace size of ``need_grad``) then loses both of its
    attributes silently: need_grad becomes True and the parameter moves to the end of the order. Before the
    change (``h5a.exists``) the file was refused, as NNabla's own loader (h5py's attrs) fails on it."""
    src = examples[("zoo", "nntxt+h5")]
    with zipfile.ZipFile(src) as zf:
        image = bytearray(zf.read("parameter.h5"))
    at = image.find(b"need_grad\x00")
    assert at > 8 and image[at - 8] == 1 and image[at - 6] == len(b"need_grad\x00")  # attribute message v1
    image[at - 2] = 0xA2  # the dataspace message's size: decoding now runs off the end of the header
    bad = tmp_path / "damaged-attribute.nnp"
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(bad, "w") as b:
        for info in a.infolist():
            b.writestr(info.filename, bytes(image) if info.filename == "parameter.h5" else a.read(info))
    with pytest.raises(ModelError, match="parameter member 'parameter.h5'"):
        model = read_nnp(str(bad))
        pytest.fail(f"read, parameter order {list(model.parameters)}")
