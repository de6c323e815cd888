"""convert: a lossless round trip through nnsurgeon's saver, checked with plain NNabla."""
import numpy as np
import pytest

from nnsurgeon.model import read_nnp

from .conftest import members, network_names, nnabla_outputs, run

CASES = [("chain", "nntxt+h5"), ("chain", "protobuf+protobuf"), ("chain", "protobuf"),
         ("residual", "nntxt+h5"), ("residual", "protobuf+protobuf"), ("multi-output", "nntxt+h5"),
         ("multi-output", "protobuf"), ("zoo", "nntxt+h5"), ("multi-network", "nntxt+h5")]


@pytest.mark.parametrize("name,layout", CASES)
def test_convert_is_lossless(examples, tmp_path, name, layout):
    src = examples[(name, layout)]
    out = tmp_path / "out.nnp"
    r = run("convert", src, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert members(out) == members(src)  # same storage layout and formats
    a, b = read_nnp(src), read_nnp(str(out))
    assert a.proto == b.proto  # networks, executors, optimizers, monitors, datasets, configs
    for field in ("network", "executor", "optimizer", "monitor", "dataset"):
        assert [x.name for x in getattr(a.proto, field)] == [x.name for x in getattr(b.proto, field)]
    assert list(a.parameters) == list(b.parameters)
    for k, p in a.parameters.items():
        q = b.parameters[k]
        assert p.data.dtype == q.data.dtype and p.data.tobytes() == q.data.tobytes() and p.need_grad == q.need_grad
    assert network_names(src) == network_names(str(out))
    for net in network_names(src):
        inputs, want = nnabla_outputs(src, net, seed=3)
        _, got = nnabla_outputs(str(out), net, inputs=inputs)
        assert want.keys() == got.keys()
        for k in want:
            assert want[k].tobytes() == got[k].tobytes(), (net, k)


def test_multi_network_file_has_everything(examples):
    m = read_nnp(examples[("multi-network", "nntxt+h5")])
    assert m.network_names == ["Training", "Validation", "Runtime"]
    assert len(m.proto.executor) == 2 and len(m.proto.optimizer) == 1
    assert len(m.proto.monitor) == 1 and len(m.proto.dataset) == 1 and m.proto.HasField("training_config")


@pytest.mark.parametrize("nf,pf,expect", [("protobuf", "protobuf", ["network.protobuf", "parameter.protobuf"]),
                                          ("nntxt", "h5", ["network.nntxt", "parameter.h5"])])
def test_convert_changes_formats(examples, tmp_path, nf, pf, expect):
    src = examples[("residual", "protobuf")]
    out = tmp_path / "out.nnp"
    r = run("convert", src, "-o", out, "--network-format", nf, "--param-format", pf)
    assert r.exit_code == 0, r.stderr
    assert sorted(members(out)) == sorted(["nnp_version.txt"] + expect)
    inputs, want = nnabla_outputs(src, "Runtime")
    _, got = nnabla_outputs(str(out), "Runtime", inputs=inputs)
    np.testing.assert_array_equal(want["y"], got["y"])


def test_convert_batch_size(examples, tmp_path):
    out = tmp_path / "b.nnp"
    assert run("convert", examples[("chain", "nntxt+h5")], "-o", out, "--batch-size", "5").exit_code == 0
    assert read_nnp(str(out)).network("Runtime").batch_size == 5
    _, got = nnabla_outputs(str(out), "Runtime")
    assert got["y"].shape == (5, 10)


def test_input_is_never_modified(examples, tmp_path):
    src = examples[("chain", "nntxt+h5")]
    before = open(src, "rb").read()
    run("convert", src, "-o", tmp_path / "x.nnp")
    run("quantize", src, "--after", "ReLU", "-o", tmp_path / "q.nnp")
    assert open(src, "rb").read() == before


def test_force_replaces_existing_output(examples, tmp_path):
    out = tmp_path / "o.nnp"
    out.write_bytes(b"old")
    r = run("convert", examples[("chain", "nntxt+h5")], "-o", out, "--force")
    assert r.exit_code == 0 and read_nnp(str(out)).network_names == ["Runtime"]


def test_upper_case_member_names_keep_their_format(examples, tmp_path):
    """Found by the 5,000-variant fuzz run: a 'PARAMETER.PROTOBUF' member was written as h5 (a case-sensitive
    extension test) and the read-back check refused the result."""
    import zipfile

    from nnsurgeon.model import read_nnp

    src = examples[("chain", "protobuf+protobuf")]
    upper = tmp_path / "upper.nnp"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(upper, "w") as zout:
        for info in zin.infolist():
            name = info.filename if info.filename == "nnp_version.txt" else info.filename.upper()
            zout.writestr(name, zin.read(info))
    r = run("convert", upper, "-o", tmp_path / "out.nnp")
    assert r.exit_code == 0, r.stderr
    a, b = read_nnp(src), read_nnp(str(tmp_path / "out.nnp"))
    assert list(a.parameters) == list(b.parameters)
    assert all(a.parameters[k].data.tobytes() == b.parameters[k].data.tobytes() for k in a.parameters)
