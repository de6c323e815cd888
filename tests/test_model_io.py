"""Model I/O at the speed of the bytes: zip compression kept per member, parameters encoded from numpy buffers
(checked against protobuf's own serialiser and NNabla's own loader), and the writer's read-back check."""
import io
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from nnsurgeon.errors import ModelError, OutputError
from nnsurgeon.model import read_nnp, write_nnp
from nnsurgeon.model.h5params import write_h5
from nnsurgeon.model.nnp import Parameter
from nnsurgeon.model.writer import _definition_bytes, _parameter_messages

from .conftest import nnabla_outputs, run


def _compression(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: i.compress_type for i in zf.infolist()}


def _rezip(src, dst, compress_type):
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for info in a.infolist():
            b.writestr(info.filename, a.read(info), compress_type=compress_type)
    return dst


def test_stored_members_stay_stored(examples, tmp_path):
    src = examples[("residual", "nntxt+h5")]  # written by nnabla.utils.save.save: every member Stored
    assert set(_compression(src).values()) == {zipfile.ZIP_STORED}
    out = tmp_path / "q.nnp"
    r = run("quantize", src, "--after", "ReLU", "-o", out)
    assert r.exit_code == 0, r.stderr
    assert _compression(out) == _compression(src)


def test_deflated_members_stay_deflated_and_new_members_follow_the_input(examples, tmp_path):
    src = _rezip(examples[("residual", "nntxt+h5")], tmp_path / "d.nnp", zipfile.ZIP_DEFLATED)
    out = tmp_path / "c.nnp"
    assert run("convert", src, "-o", out).exit_code == 0
    assert set(_compression(out).values()) == {zipfile.ZIP_DEFLATED}
    stored = examples[("residual", "nntxt+h5")]
    out2 = tmp_path / "p.nnp"
    r = run("convert", stored, "-o", out2, "--network-format", "protobuf", "--param-format", "protobuf")
    assert r.exit_code == 0, r.stderr
    assert _compression(out2) == {"nnp_version.txt": zipfile.ZIP_STORED, "network.protobuf": zipfile.ZIP_STORED,
                                  "parameter.protobuf": zipfile.ZIP_STORED}
    inputs, want = nnabla_outputs(stored, "Runtime")
    _, got = nnabla_outputs(str(out2), "Runtime", inputs=inputs)
    assert want["y"].tobytes() == got["y"].tobytes()


def _parameters():
    rng = np.random.RandomState(0)
    return OrderedDict([
        ("conv/W", Parameter(rng.randn(4, 3, 3, 3).astype(np.float32), True)),
        ("conv/b", Parameter(rng.randn(4).astype(np.float32), False)),
        ("q/qr_min", Parameter(np.array([-1.5], np.float32), False)),
        ("empty", Parameter(np.zeros((0, 2), np.float32), True)),
        ("wide", Parameter(rng.randn(2, 2), True)),  # float64 in an .h5; protobuf holds float32
    ])


def test_protobuf_parameters_match_protobufs_own_serialiser(examples):
    from nnabla.utils import nnabla_pb2

    model = read_nnp(examples[("chain", "protobuf")])
    model.parameters = _parameters()
    reference = nnabla_pb2.NNablaProtoBuf()
    reference.CopyFrom(model.proto)
    for name, p in model.parameters.items():
        m = reference.parameter.add(variable_name=name, need_grad=p.need_grad)
        m.shape.dim.extend(p.data.shape)
        m.data.extend(p.data.ravel().tolist())
    assert _definition_bytes(model, "network.protobuf", with_parameters=True) == reference.SerializeToString()
    only = nnabla_pb2.NNablaProtoBuf()
    only.parameter.extend(reference.parameter)
    assert _parameter_messages(model) == only.SerializeToString()


def test_h5_parameters_load_in_nnabla(tmp_path):
    import nnabla as nn

    params = _parameters()
    path = tmp_path / "p.h5"
    path.write_bytes(write_h5(OrderedDict((k, (p.data, p.need_grad)) for k, p in params.items())))
    with nn.parameter_scope("", OrderedDict()):
        nn.load_parameters(str(path))
        loaded = nn.get_parameters(grad_only=False)
        assert list(loaded) == list(params)
        for name, p in params.items():
            assert loaded[name].d.shape == p.data.shape
            np.testing.assert_array_equal(loaded[name].d, p.data)
            assert loaded[name].need_grad == p.need_grad
    import h5py

    with h5py.File(io.BytesIO(path.read_bytes()), "r") as hd:
        assert hd["wide"].dtype == np.float64 and hd["conv/b"].attrs["index"] == 1
        assert bool(hd["conv/b"].attrs["need_grad"]) is False


def test_the_h5_check_compares_the_stored_bits_in_place():
    """The writer's read-back compares each dataset's bytes where they lie in the image: a value differing in
    one bit (-0.0 against 0.0, which ``==`` calls equal), another dtype or shape is found; big-endian data is
    read and compared."""
    from nnsurgeon.model.h5check import plain_datasets
    from nnsurgeon.model.h5params import open_image

    stored = OrderedDict([("a/W", (np.array([[0.0, 1.5]], np.float32), True)),
                          ("b", (np.arange(3, dtype=">f8"), False)),
                          ("c", (np.array(7, np.int32), False))])
    data = write_h5(stored)
    with open_image(data) as fid:
        entries = {e.key: e for e in plain_datasets(fid, 1 << 20)}
        image = memoryview(data)
        assert entries["a/W"].in_place and not entries["b"].in_place
        assert entries["a/W"].same_as(np.array([[0.0, 1.5]], np.float32), image)
        assert not entries["a/W"].same_as(np.array([[-0.0, 1.5]], np.float32), image)
        assert not entries["a/W"].same_as(np.array([0.0, 1.5], np.float32), image)
        assert not entries["a/W"].same_as(np.array([[0.0, 1.5]], np.float64), image)
        assert entries["b"].same_as(np.arange(3, dtype=np.float64), image)
        assert not entries["b"].same_as(np.array([0.0, 1.0, 2.5]), image)
        assert entries["c"].same_as(np.array(7, np.int32), image) and entries["c"].shape == ()
        assert [entries[k].index for k in stored] == [0, 1, 2]
        assert [entries[k].need_grad for k in stored] == [True, False, False]


def test_the_same_parameters_give_the_same_h5_bytes():
    """No creation timestamps in the .h5 (HDF5 writes them by default, one second apart they differ): saving
    a model twice gives the same file."""
    import time

    params = OrderedDict([("conv/W", (np.ones((2, 3), np.float32), True)), ("conv/q/b", (np.zeros(2), False))])
    first = write_h5(params)
    time.sleep(1.1)
    assert write_h5(params) == first


def test_a_name_h5_cannot_hold_is_refused_before_writing(examples, tmp_path):
    model = read_nnp(examples[("chain", "nntxt+h5")])
    name = next(iter(model.parameters))
    model.parameters = OrderedDict((k.replace("/", "//") if k == name else k, p)
                                   for k, p in model.parameters.items())
    out = tmp_path / "bad.nnp"
    with pytest.raises(OutputError, match="parameter names do not survive"):
        write_nnp(model, str(out))
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_interrupt_while_reading_h5_is_an_interrupt_not_damage(examples, tmp_path):
    """Regression: a Ctrl-C inside h5py's lock surfaces as SystemError; the reader reported it as a damaged
    parameter member (exit 2) instead of stopping (exit 130)."""
    from nnsurgeon import interrupt

    src = examples[("chain", "nntxt+h5")]
    bad = tmp_path / "bad.nnp"
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(bad, "w") as b:
        for info in a.infolist():
            data = a.read(info)
            b.writestr(info.filename, data[:200] + b"\0" * (len(data) - 200) if info.filename.endswith(".h5")
                       else data)
    with pytest.raises(ModelError):
        read_nnp(str(bad))  # damage alone: the user's error
    interrupt._interrupted = True
    try:
        with pytest.raises(KeyboardInterrupt):
            read_nnp(str(bad))
    finally:
        interrupt._interrupted = False


def test_parameters_are_read_where_they_lie_in_the_file_image(examples, tmp_path):
    """Contiguous datasets are copied straight out of the .h5 image (not through HDF5's read): right with a
    user block before the HDF5 data (addresses count from the file's start), writable copies, other layouts
    (chunked, compressed, big-endian) through HDF5."""
    import h5py

    src = examples[("chain", "nntxt+h5")]
    model = read_nnp(src)
    buf = io.BytesIO()
    with h5py.File(buf, "w", userblock_size=512) as f:
        for index, (key, p) in enumerate(model.parameters.items()):
            kind = index % 3
            d = f.create_dataset(key, data=p.data.astype(">f4") if kind == 2 else p.data,
                                 chunks=p.data.shape if kind == 1 else None, compression="gzip" if kind == 1 else None)
            d.attrs["need_grad"] = p.need_grad
            d.attrs["index"] = index
    out = tmp_path / "userblock.nnp"
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out, "w") as b:
        for info in a.infolist():
            b.writestr(info.filename, buf.getvalue() if info.filename.endswith(".h5") else a.read(info))
    again = read_nnp(str(out))
    assert list(again.parameters) == list(model.parameters)
    for key, p in model.parameters.items():
        q = again.parameters[key]
        assert q.data.dtype == np.float32 and np.array_equal(q.data, p.data) and q.need_grad == p.need_grad
        assert q.data.flags.writeable and q.data.flags.owndata
