"""Crafted and damaged files (issue 14): each refused with one 'Error:' line and exit 2, never exit 3, a hang,
a signal, or bytes of another file in the output. Every file is built here; numbers refer to the issue."""
import io
import json
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from .conftest import assert_user_error, files_in, run
from .fuzz import craft

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def chain(examples):
    return examples[("chain", "nntxt+h5")]


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


def _edited(src, path, edit):
    """``src`` with its network.nntxt parsed, ``edit(proto)`` applied and written back as text."""
    from google.protobuf import text_format
    from nnabla.utils import nnabla_pb2

    items = craft.members(src)
    proto = nnabla_pb2.NNablaProtoBuf()
    text_format.Merge(items["network.nntxt"].decode(), proto)
    edit(proto)
    items["network.nntxt"] = text_format.MessageToString(proto).encode()
    return craft.write_zip(path, items)


def _function(proto, type_name, nth=0):
    return [f for f in proto.network[0].function if f.type == type_name][nth]


def _subprocess(*args, timeout=60):
    """Run the CLI in its own process (a signal or a hang shows there); (returncode or 'timeout', stderr)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    try:
        r = subprocess.run([sys.executable, "-m", "nnsurgeon", *map(str, args)], capture_output=True, text=True,
                           timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    return r.returncode, r.stderr


def _assert_one_error(code, stderr, *fragments):
    lines = [x for x in stderr.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("Error: "), (code, stderr)
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def _all_commands(path, out, *fragments):
    for args in (["info", path], ["list-layers", path], ["convert", path, "-o", out / "c.nnp"],
                 ["quantize", path, "--after", "ReLU", "-o", out / "q.nnp"],
                 ["extract", path, "--random", "-o", out / "e.npz"]):
        assert_user_error(run(*args), *fragments)
    assert files_in(out) == []


# -- 1. h5 external storage, links, virtual datasets --------------------------------------------------------
@pytest.mark.parametrize("target", ["/etc/passwd", "/proc/self/environ"])
def test_h5_external_storage_is_refused(chain, tmp_path, out, target):
    items = craft.members(chain)
    items["parameter.h5"] = craft.h5_copy(items["parameter.h5"], lambda hd: craft.replace_with_external(hd, target))
    path = craft.write_zip(tmp_path / "ext.nnp", items)
    _all_commands(path, out, "external storage", "parameter.h5")


@pytest.mark.parametrize("kind,fragment", [("soft", "soft link"), ("external", "another file")])
def test_h5_links_are_refused(chain, tmp_path, out, kind, fragment):
    items = craft.members(chain)
    items["parameter.h5"] = craft.h5_copy(items["parameter.h5"], lambda hd: craft.replace_with_link(hd, kind))
    path = craft.write_zip(tmp_path / "link.nnp", items)
    assert_user_error(run("convert", path, "-o", out / "c.nnp"), fragment)
    assert files_in(out) == []


def test_h5_virtual_dataset_is_refused(chain, tmp_path, out):
    import h5py

    def virtual(hd):
        name = craft.first_dataset(hd)
        shape = hd[name].shape
        del hd[name]
        layout = h5py.VirtualLayout(shape=shape, dtype="f4")
        layout[...] = h5py.VirtualSource("/etc/passwd", "x", shape=shape)
        hd.create_virtual_dataset(name, layout, fillvalue=0)

    items = craft.members(chain)
    items["parameter.h5"] = craft.h5_copy(items["parameter.h5"], virtual)
    path = craft.write_zip(tmp_path / "vds.nnp", items)
    assert_user_error(run("convert", path, "-o", out / "c.nnp"), "virtual dataset")


# -- 2. cycles ----------------------------------------------------------------------------------------------
def _self_loop(proto):
    f = _function(proto, "ReLU")
    f.input[0] = f.output[0]


def _long_cycle(proto):
    _function(proto, "Convolution", 1).input[0] = "y"  # conv2 reads the Affine's output, which depends on conv2


@pytest.mark.parametrize("edit,names", [(_self_loop, "'@Runtime/ReLU (ReLU)' -> '@Runtime/ReLU (ReLU)'"),
                                        (_long_cycle, "'@Runtime/Convolution_1 (Convolution)' -> ")])
def test_cycles_are_refused_naming_the_functions(chain, tmp_path, out, edit, names):
    path = _edited(chain, tmp_path / "cycle.nnp", edit)
    _all_commands(path, out, "has a cycle", names)


def test_cycle_does_not_hang_list_layers(chain, tmp_path):
    path = _edited(chain, tmp_path / "cycle.nnp", _long_cycle)
    code, stderr = _subprocess("list-layers", path, timeout=30)
    _assert_one_error(code, stderr, "has a cycle")


# -- 3. damaged zips ----------------------------------------------------------------------------------------
def _zip_case(chain, edit):
    entries = craft.nnp_entries(chain)
    edit(entries)
    return craft.raw_zip(entries)


ZIP_CASES = {
    "method": (lambda es: setattr(es[-1], "method", 99), "compression method 99"),
    "encrypted": (lambda es: setattr(es[-1], "flags", 1), "is encrypted"),
    "empty-name": (lambda es: es.append(craft.Entry("", b"x")), "empty name"),
    "bad-utf8-name": (lambda es: es.append(craft.Entry(b"caf\xe9.txt", b"x", flags=0x800)), "not"),
    "escaping-name": (lambda es: es.append(craft.Entry("../../evil.txt", b"x")), "outside the archive"),
    "absolute-name": (lambda es: es.append(craft.Entry("/etc/evil.txt", b"x")), "outside the archive"),
    "duplicate": (lambda es: es.append(craft.Entry("network.nntxt", b"x")), "appears twice"),
}


@pytest.mark.parametrize("case", sorted(ZIP_CASES))
def test_damaged_zips_are_refused(chain, tmp_path, out, case):
    edit, fragment = ZIP_CASES[case]
    path = tmp_path / f"{case}.nnp"
    path.write_bytes(_zip_case(chain, edit))
    for args in (["info", path], ["convert", path, "-o", out / "c.nnp"]):
        assert_user_error(run(*args), fragment, str(path))
    assert files_in(out) == []


# -- 4. damaged or odd parameters ---------------------------------------------------------------------------
def test_corrupt_h5_heap(chain, tmp_path, out):
    items = craft.members(chain)
    h5 = bytearray(items["parameter.h5"])
    at = h5.index(b"HEAP")
    h5[at + 8:at + 32] = b"\xff" * 24
    items["parameter.h5"] = bytes(h5)
    path = craft.write_zip(tmp_path / "heap.nnp", items)
    assert_user_error(run("convert", path, "-o", out / "c.nnp"), "cannot be read", "parameter.h5")


def test_two_h5_members(chain, tmp_path, out):
    items = craft.members(chain)
    items["backup/parameter.h5"] = items["parameter.h5"]
    path = craft.write_zip(tmp_path / "two.nnp", items)
    for args in (["info", path], ["convert", path, "-o", out / "c.nnp"]):
        assert_user_error(run(*args), "two members", "backup/parameter.h5")
    assert files_in(out) == []


# -- 5. odd definitions -------------------------------------------------------------------------------------
def _var(proto, name):
    return [v for v in proto.network[0].variable if v.name == name][0]


DEFINITION_CASES = {
    "variable-type": (lambda p: setattr(_var(p, "x"), "type", "Weird"), "type 'Weird'"),
    "base-axis": (lambda p: setattr(_function(p, "Affine").affine_param, "base_axis", 1 << 62), "base_axis"),
    "negative-dim": (lambda p: _var(p, "@Runtime/ReLU_out").shape.dim.__setitem__(1, -4), "dimensions must be"),
    "two-producers": (lambda p: _function(p, "ReLU", 1).output.__setitem__(0, "@Runtime/ReLU_out"),
                      "written by two functions"),
    "unknown-type": (lambda p: setattr(_function(p, "ReLU"), "type", "NoSuchFunction"), "'NoSuchFunction'"),
}


@pytest.mark.parametrize("case", sorted(DEFINITION_CASES))
def test_odd_definitions_are_refused(chain, tmp_path, out, case):
    edit, fragment = DEFINITION_CASES[case]
    _all_commands(_edited(chain, tmp_path / f"{case}.nnp", edit), out, fragment)


# -- 8. libprotobuf's own stderr line -----------------------------------------------------------------------
def test_non_utf8_string_in_binary_protobuf_prints_one_line(examples, tmp_path):
    items = craft.members(examples[("chain", "protobuf")])
    data = items["network.protobuf"]
    items["network.protobuf"] = data.replace(b"Runtime", b"Runt\xffme", 1)
    path = craft.write_zip(tmp_path / "utf8.nnp", items)
    code, stderr = _subprocess("info", path)
    _assert_one_error(code, stderr, "not a valid NNabla .protobuf")


# -- 9. arguments NNabla's C++ cannot survive (SIGFPE) -------------------------------------------------------
def _pooling(proto):
    f = _function(proto, "ReLU")
    f.type = "MaxPooling"
    f.max_pooling_param.kernel.dim.extend([0, 0])
    f.max_pooling_param.stride.dim.extend([1, 1])
    f.max_pooling_param.pad.dim.extend([0, 0])


SIGNAL_CASES = {
    "group-0": (lambda p: setattr(_function(p, "Convolution").convolution_param, "group", 0), "group=0"),
    "stride-0": (lambda p: _function(p, "Convolution").convolution_param.stride.dim.__setitem__(0, 0),
                 "stride=[0, 1]"),
    "pool-kernel-0": (_pooling, "kernel=[0, 0]"),
    "batch-0": (lambda p: setattr(p.network[0], "batch_size", 0), "batch size 0"),
    "batch-2^40": (lambda p: setattr(p.network[0], "batch_size", 1 << 40), "batch size"),
    "dim-2^63-1": (lambda p: _var(p, "x").shape.dim.__setitem__(1, (1 << 63) - 1), "variable 'x'"),
}


@pytest.fixture(scope="module")
def signal_runs(examples, tmp_path_factory):
    """Every SIGNAL_CASES file through list-layers in one child process (the old code died there by SIGFPE;
    one child for all keeps the cost of starting Python and NNabla to once): {case: (exit, stderr)}."""
    folder = tmp_path_factory.mktemp("signals")
    paths = {case: _edited(examples[("chain", "nntxt+h5")], folder / f"{case}.nnp", edit)
             for case, (edit, _) in SIGNAL_CASES.items()}
    script = ("import json, sys\nfrom click.testing import CliRunner\nfrom nnsurgeon.cli import cli\n"
              "out = {}\nfor case, path in json.loads(sys.argv[1]).items():\n"
              "    r = CliRunner().invoke(cli, ['list-layers', path])\n"
              "    out[case] = (r.exit_code, r.stderr)\nprint(json.dumps(out))\n")
    child = subprocess.run([sys.executable, "-c", script, json.dumps(paths)], capture_output=True, text=True,
                           timeout=120, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert child.returncode == 0, f"killed by signal {-child.returncode}" if child.returncode < 0 else child.stderr
    return {case: tuple(v) for case, v in json.loads(child.stdout.splitlines()[-1]).items()}, paths


@pytest.mark.parametrize("case", sorted(SIGNAL_CASES))
def test_arguments_that_crash_nnabla_are_refused(signal_runs, out, case):
    results, paths = signal_runs
    _assert_one_error(*results[case], SIGNAL_CASES[case][1])
    _all_commands(paths[case], out, SIGNAL_CASES[case][1])


# -- 10. more exit-3 causes ---------------------------------------------------------------------------------
def test_protobuf_parameter_of_the_wrong_length(examples, tmp_path, out):
    from nnabla.utils import nnabla_pb2

    items = craft.members(examples[("chain", "protobuf+protobuf")])
    params = nnabla_pb2.NNablaProtoBuf()
    params.ParseFromString(items["parameter.protobuf"])
    del params.parameter[0].data[-1]
    items["parameter.protobuf"] = params.SerializeToString()
    path = craft.write_zip(tmp_path / "len.nnp", items)
    _all_commands(path, out, f"parameter '{params.parameter[0].variable_name}' is declared", "values")


@pytest.mark.parametrize("case,fragment", [("index-string", "attribute 'index'"), ("complex", "dtype complex64"),
                                           ("string-data", "dtype")])
def test_odd_h5_datasets(chain, tmp_path, out, case, fragment):
    def edit(hd):
        name = craft.first_dataset(hd)
        if case == "index-string":
            hd[name].attrs["index"] = "zero"
            return
        data, attrs = hd[name][...], dict(hd[name].attrs)
        del hd[name]
        if case == "complex":
            ds = hd.create_dataset(name, data=data.astype(np.complex64))
        else:
            ds = hd.create_dataset(name, data=np.full(data.shape, "s", dtype="S1"))
        ds.attrs.update(attrs)

    items = craft.members(chain)
    items["parameter.h5"] = craft.h5_copy(items["parameter.h5"], edit)
    path = craft.write_zip(tmp_path / f"{case}.nnp", items)
    _all_commands(path, out, fragment)


def test_nul_byte_in_recipe(tmp_path):
    recipe = tmp_path / "nul.yaml"
    recipe.write_text("version: 1\nsteps:\n- quantize: {after: ReLU}\x00\n")
    assert_user_error(run("check", recipe), "NUL", str(recipe))


def test_control_character_in_recipe_is_one_line(tmp_path):
    recipe = tmp_path / "ctl.yaml"
    recipe.write_text("version: 1\nsteps:\n- quantize: {after: Re\x1eLU}\n")
    assert_user_error(run("check", recipe), f"{recipe}:3:23", "U+001E")


def test_protobuf_with_a_stray_end_group_tag_is_one_line(examples, tmp_path):
    """libprotobuf warns ('Unexpected end-group tag') and stops early instead of failing: one error line."""
    items = craft.members(examples[("chain", "protobuf+protobuf")])
    items["parameter.protobuf"] = b"\x0c" + items["parameter.protobuf"]
    path = craft.write_zip(tmp_path / "group.nnp", items)
    code, stderr = _subprocess("info", path)
    _assert_one_error(code, stderr, "parameter.protobuf", "not a valid NNabla .protobuf")


def test_truncated_npy(chain, tmp_path, out):
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((4, 1, 8, 8), np.float32))
    data.write_bytes(data.read_bytes()[:-100])
    assert_user_error(run("extract", chain, "--input", data, "-o", out / "e.npz"), "truncated", str(data))
    assert_user_error(run("quantize", chain, "--after", "ReLU", "--calibrate", data, "-o", out / "q.nnp"),
                      "truncated")
    assert files_in(out) == []


# -- 11. memory bombs ---------------------------------------------------------------------------------------
def test_member_inflating_past_the_limit(chain, tmp_path, out):
    entries = craft.nnp_entries(chain) + [craft.deflate_bomb_entry("zeros.bin", 256 << 20)]
    path = tmp_path / "bomb.nnp"
    path.write_bytes(craft.raw_zip(entries))
    assert path.stat().st_size < 1 << 20
    start = time.perf_counter()
    assert_user_error(run("info", path), "would inflate to 268,", "zip bomb")
    assert time.perf_counter() - start < 5


def test_overlapping_entries(chain, tmp_path, out):
    path = tmp_path / "overlap.nnp"
    path.write_bytes(craft.overlapping_bomb(craft.nnp_entries(chain), 50, 100_000))
    with zipfile.ZipFile(path) as zf:  # each entry is a valid member on its own
        assert len(zf.read("junk/0000.bin")) > 100_000 and zf.testzip() is None
    for args in (["info", path], ["convert", path, "-o", out / "c.nnp"]):
        assert_user_error(run(*args), "overlaps", "junk/0000.bin")
    assert files_in(out) == []


def test_large_overlapping_bomb_is_refused_before_inflating(chain, tmp_path):
    path = tmp_path / "overlap-big.nnp"
    path.write_bytes(craft.overlapping_bomb(craft.nnp_entries(chain), 50, 20 << 20))
    start = time.perf_counter()
    assert_user_error(run("info", path), "zip bomb")
    assert time.perf_counter() - start < 5


def test_npz_bomb(chain, tmp_path, out):
    """A 256 MiB array of zeros deflated into a few hundred KB: refused from the declared sizes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": ((256 << 20) // 256, 1, 8, 8)})
    data = tmp_path / "bomb.npz"
    data.write_bytes(craft.raw_zip([craft.deflate_bomb_entry("x.npy", 256 << 20, prefix=header.getvalue())]))
    start = time.perf_counter()
    assert_user_error(run("extract", chain, "--input", data, "-o", out / "e.npz"), "zip bomb", str(data))
    assert time.perf_counter() - start < 10
    assert files_in(out) == []


def test_out_of_memory_message_names_batch_size_only_where_there_is_one(chain, out, monkeypatch):
    import nnsurgeon.api as api

    def exhausted(*args, **kwargs):  # what a too-large model does to a small machine, without using the memory
        raise MemoryError()

    import nnsurgeon.runtime.extract as extract

    monkeypatch.setattr(api, "info", exhausted)
    monkeypatch.setattr(extract, "extract_to", exhausted)
    r = run("info", chain)
    assert_user_error(r, "out of memory", "too large")
    assert "--batch-size" not in r.stderr
    assert_user_error(run("extract", chain, "--random", "-o", out / "e.npz"), "use a smaller --batch-size")


def test_nnabla_allocation_failure_is_out_of_memory(chain, tmp_path, out):
    """A stored batch of 2^31 samples passes the shape bounds but is more than any machine holds: NNabla's
    allocator raises RuntimeError ('memory error in alloc'), reported as out of memory."""
    def huge_batch(proto):
        for v in proto.network[0].variable:
            if v.type == "Buffer":
                v.shape.dim[0] = 1 << 31

    path = _edited(chain, tmp_path / "huge.nnp", huge_batch)
    code, stderr = _subprocess("extract", path, "--random", "-o", out / "e.npz")  # NNabla prints on fd 2 too
    _assert_one_error(code, stderr, "out of memory", "--batch-size")
    assert files_in(out) == []


def test_fifo_as_data_model_and_recipe(chain, tmp_path, out):
    fifo = tmp_path / "fifo.npy"
    os.mkfifo(fifo)
    code, stderr = _subprocess("extract", chain, "--input", fifo, "-o", out / "e.npz", timeout=30)
    _assert_one_error(code, stderr, "not a regular file")
    fifo_model = tmp_path / "fifo.nnp"
    os.mkfifo(fifo_model)
    assert_user_error(run("info", fifo_model), "not a regular file")
    fifo_recipe = tmp_path / "fifo.yaml"
    os.mkfifo(fifo_recipe)
    code, stderr = _subprocess("check", fifo_recipe, timeout=30)
    _assert_one_error(code, stderr, "not a regular file")
    assert files_in(out) == []


# -- 6 and 11. recipe bombs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text,fragment", [
    (craft.billion_laughs(), "aliases"),
    (craft.recursive_alias(), "recursive alias"),
    (craft.deep_nesting(), "nested more than 64"),
    ("version: 1\nsteps: " + "[" * 300 + "}", "nested more than 64"),
    (craft.deep_nesting(100), "nested more than 64"),
    (craft.many_steps(), "larger than"),
    (craft.many_steps(100_000, aliased=True), "values"),
    (craft.many_steps(1_001, aliased=True), "1,001 steps"),
], ids=["billion-laughs", "recursive-alias", "deep", "deep-unclosed", "deep-100", "100k-steps", "100k-aliased-steps",
        "1001-steps"])
def test_recipe_bombs_refused_fast(tmp_path, text, fragment):
    recipe = tmp_path / "bomb.yaml"
    recipe.write_text(text)
    start = time.perf_counter()
    assert_user_error(run("check", recipe), fragment, str(recipe))
    assert time.perf_counter() - start < 5


def test_recipe_size_bound(tmp_path):
    recipe = tmp_path / "big.yaml"
    recipe.write_text("version: 1\nsteps:\n- quantize: {after: ReLU}\n# " + "x" * (2 << 20) + "\n")
    assert_user_error(run("check", recipe), "larger than", str(recipe))


# -- found in review of the low-level h5 walk --------------------------------------------------------------
def test_an_empty_h5_member_never_reads_a_file_on_disk(chain, tmp_path, monkeypatch):
    """Regression: HDF5's in-memory driver given no image opens the file of that name on disk; an empty
    parameter.h5 made the reader load 'nnsurgeon-<pid>-<n>.h5' from the working directory."""
    import h5py

    from nnsurgeon.errors import ModelError
    from nnsurgeon.model import read_nnp

    monkeypatch.chdir(tmp_path)
    for n in range(200):  # decoys under every name the in-memory files of this process may take next
        with h5py.File(f"nnsurgeon-{os.getpid()}-{n}.h5", "w") as f:
            f["conv1/conv/W"] = np.arange(4, dtype=np.float32)
    items = craft.members(chain)
    items["parameter.h5"] = b""
    path = craft.write_zip(tmp_path / "empty.nnp", items)
    with pytest.raises(ModelError, match="parameter.h5.*empty"):
        read_nnp(str(path))


def test_groups_nested_too_deep_are_refused(chain, tmp_path, out):
    """HDF5's recursive visit overflows the C stack at about 20,000 nested groups (a 190 KB .nnp crashed the
    interpreter): the links are walked with a bounded explicit stack first."""
    def nest(hd):
        g = hd
        for _ in range(300):
            g = g.create_group("a")
        g["W"] = np.zeros(3, np.float32)

    items = craft.members(chain)
    items["parameter.h5"] = craft.h5_copy(items["parameter.h5"], nest)
    path = craft.write_zip(tmp_path / "deep.nnp", items)
    assert_user_error(run("convert", path, "-o", out / "c.nnp"), "nests groups more than 128 deep", "parameter.h5")
    assert files_in(out) == []


def test_big_endian_parameters_save(chain, tmp_path):
    """Regression: the read-back compared dtypes exactly and refused a parameter held big-endian in memory."""
    from nnsurgeon.model import read_nnp, write_nnp

    model = read_nnp(chain)
    name = next(iter(model.parameters))
    p = model.parameters[name]
    p.data = p.data.astype(p.data.dtype.newbyteorder(">"))
    write_nnp(model, str(tmp_path / "be.nnp"))
    back = read_nnp(str(tmp_path / "be.nnp")).parameters[name].data
    np.testing.assert_array_equal(back, p.data)


def test_a_damaged_local_header_is_one_short_line(chain, tmp_path, out):
    """Regression (fuzz, seed 0): a flipped byte in a member's local header name length made zipfile read the
    rest of the archive as the name, and quote all of it in the error: a 60 KB 'Error:' line of bytes."""
    import struct

    data = bytearray(open(chain, "rb").read())
    second = data.index(b"PK\x03\x04", 4)  # the local header of the second member
    struct.pack_into("<H", data, second + 26, 60000)  # its name length
    path = tmp_path / "header.nnp"
    path.write_bytes(bytes(data))
    r = run("info", path)
    assert_user_error(r, "is damaged", str(path))
    assert len(r.stderr) < 600, len(r.stderr)
