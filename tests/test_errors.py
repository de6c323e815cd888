"""Bad input: one 'Error:' line, exit 2, no traceback, nothing written."""
import os
import zipfile

import pytest

from nnsurgeon.model import read_nnp

from .conftest import assert_user_error, files_in, run


@pytest.fixture
def out_dir(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _bad_files(tmp_path, examples):
    src = examples[("chain", "nntxt+h5")]
    good = open(src, "rb").read()
    with zipfile.ZipFile(src) as zf:
        net = zf.read("network.nntxt")
    (tmp_path / "empty.nnp").write_bytes(b"")
    (tmp_path / "notzip.nnp").write_bytes(b"hello, this is not a zip")
    (tmp_path / "truncated.nnp").write_bytes(good[: len(good) // 2])
    _zip(tmp_path / "nonet.nnp", {"nnp_version.txt": "0.1\n", "readme.txt": "nothing"})
    _zip(tmp_path / "noparams.nnp", {"nnp_version.txt": "0.1\n", "network.nntxt": net})
    bad_exec = net.replace(b'variable_name: "y"', b'variable_name: "nope"')
    _zip(tmp_path / "badexec.nnp", {"nnp_version.txt": "0.1\n", "network.nntxt": bad_exec,
                                     "parameter.h5": zipfile.ZipFile(src).read("parameter.h5")})
    _zip(tmp_path / "badtext.nnp", {"nnp_version.txt": "0.1\n", "network.nntxt": b"network { nme: 1 }"})
    return src


CASES = [
    ("missing.nnp", "no such file"),
    ("empty.nnp", "empty"),
    ("notzip.nnp", "not a valid .nnp"),
    ("truncated.nnp", ".nnp"),
    ("nonet.nnp", "no network definition"),
    ("noparams.nnp", "does not store"),
    ("badexec.nnp", "'nope'"),
    ("badtext.nnp", "not a valid NNabla"),
]


@pytest.mark.parametrize("command", ["list-layers", "info", "convert", "quantize"])
@pytest.mark.parametrize("name,fragment", CASES)
def test_bad_model_files(examples, tmp_path, out_dir, command, name, fragment):
    _bad_files(tmp_path, examples)
    path = tmp_path / name
    extra = {"convert": ["-o", out_dir / "x.nnp"], "quantize": ["--after", "ReLU", "-o", out_dir / "x.nnp"]}
    r = run(command, path, *extra.get(command, []))
    assert_user_error(r, fragment, str(path) if name != "missing.nnp" else "missing.nnp")
    assert files_in(out_dir) == []


def test_unknown_network(examples):
    r = run("list-layers", examples[("multi-network", "nntxt+h5")], "--network", "Runtme")
    assert_user_error(r, "no network named 'Runtme'", "Training, Validation, Runtime")


def test_unknown_pretrained_name(tmp_path):
    r = run("list-layers", "nnabla.models:imagenet/MobileNe", env={"HOME": str(tmp_path)})
    assert_user_error(r, "unknown pretrained model", "did you mean 'nnabla.models:imagenet/MobileNet'")


def test_existing_output_needs_force(examples, out_dir):
    target = out_dir / "exists.nnp"
    target.write_bytes(b"keep me")
    r = run("convert", examples[("chain", "nntxt+h5")], "-o", target)
    assert_user_error(r, "already exists", "--force")
    assert target.read_bytes() == b"keep me" and files_in(out_dir) == ["exists.nnp"]


def test_output_over_input_is_refused_even_with_force(examples, tmp_path):
    src = tmp_path / "m.nnp"
    src.write_bytes(open(examples[("chain", "nntxt+h5")], "rb").read())
    r = run("convert", src, "-o", src, "--force")
    assert_user_error(r, "is an input of this command")


def test_unwritable_output(examples, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a missing folder instead
            target = tmp_path / "missing-folder" / "x.nnp"
            fragment = "does not exist"
        else:
            target = locked / "x.nnp"
            fragment = "not writable"
        r = run("convert", examples[("chain", "nntxt+h5")], "-o", target)
        assert_user_error(r, fragment)
        assert not target.exists()
    finally:
        os.chmod(locked, 0o700)


def test_missing_output_folder(examples, tmp_path):
    r = run("convert", examples[("chain", "nntxt+h5")], "-o", tmp_path / "nope" / "x.nnp")
    assert_user_error(r, "does not exist", "create it first")


def test_usage_errors_exit_2(examples):
    r = run("convert", examples[("chain", "nntxt+h5")])
    assert r.exit_code == 2 and "Missing option" in r.stderr
    r = run("list-layers", examples[("chain", "nntxt+h5")], "--format", "yaml")
    assert r.exit_code == 2


def test_failed_write_leaves_nothing(examples, tmp_path, monkeypatch):
    """A failure while writing (here: the read-back check) leaves neither the output nor a temporary file."""
    from nnsurgeon.model import writer

    def broken(tmp, members, path):
        raise writer.OutputError(f"{path}: simulated failure")

    monkeypatch.setattr(writer, "_verify_written", broken)
    out = tmp_path / "w"
    out.mkdir()
    r = run("convert", examples[("chain", "nntxt+h5")], "-o", out / "x.nnp")
    assert_user_error(r, "simulated failure")
    assert files_in(out) == []


def test_read_nnp_is_usable_on_bytes_written_by_nnabla(examples):
    m = read_nnp(examples[("chain", "protobuf")])
    assert m.layout.definition == m.layout.parameters == "network.protobuf"


def test_loop_control_networks_are_refused_for_editing(examples, tmp_path):
    m = read_nnp(examples[("chain", "nntxt+h5")])
    m.network("Runtime").repeat_info.add(id="r", times=2)
    from nnsurgeon.model import write_nnp

    path = str(tmp_path / "loop.nnp")
    write_nnp(m, path)
    out = tmp_path / "out"
    out.mkdir()
    r = run("quantize", path, "--after", "ReLU", "-o", out / "q.nnp")
    assert_user_error(r, "uses loop control", "cannot edit")
    assert files_in(out) == []
