"""The plan/pass spine and the one writer: each defect of issue 8 reproduced, then shown fixed."""
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import nnsurgeon
from nnsurgeon.errors import NnsurgeonError
from nnsurgeon.examples import build_example
from nnsurgeon.model import read_nnp

from .conftest import assert_user_error, files_in, run

BIN = os.path.join(os.path.dirname(sys.executable), "nnsurgeon")


@pytest.fixture
def folder(tmp_path):
    """A user's folder: their model, their data and an unrelated file."""
    build_example("classifier", str(tmp_path / "model.nnp"), batch=4, seed=2)
    np.save(tmp_path / "x.npy", np.random.RandomState(0).randn(8, 1, 8, 8).astype(np.float32))
    (tmp_path / "notes.txt").write_text("mine")
    return tmp_path


def _snapshot(path):
    return {name: open(os.path.join(path, name), "rb").read() for name in sorted(os.listdir(path))
            if os.path.isfile(os.path.join(path, name))}


# 1. --force on a folder output never deletes what nnsurgeon did not write
@pytest.mark.parametrize("command", ["extract", "featuremaps"])
def test_force_never_deletes_a_folder_holding_the_users_files(folder, command):
    before = _snapshot(folder)
    r = run(command, folder / "model.nnp", "--input", folder / "x.npy", "-o", folder, "--force")
    assert_user_error(r, "holds an input of this command")
    assert _snapshot(folder) == before
    other = folder / "other"
    other.mkdir()
    (other / "keep.txt").write_text("keep")
    r = run(command, folder / "model.nnp", "--input", folder / "x.npy", "-o", other, "--force")
    assert_user_error(r, "is a folder nnsurgeon did not write")
    assert files_in(other) == ["keep.txt"]


def test_force_replaces_a_folder_nnsurgeon_wrote(folder):
    out = folder / "acts"
    for _ in range(2):
        r = run("extract", folder / "model.nnp", "--input", folder / "x.npy", "-o", out, "--force")
        assert r.exit_code == 0, r.stderr
    assert ".nnsurgeon-output" in files_in(out) and "index.json" in files_in(out)
    assert [f for f in files_in(folder) if "nnsurgeon-tmp" in f] == []


def test_output_dot_is_a_clean_error_and_leaves_nothing(folder, monkeypatch):
    monkeypatch.chdir(folder)
    before = files_in(folder)
    for command in ("extract", "featuremaps"):
        r = run(command, "model.nnp", "--input", "x.npy", "-o", ".", "--force")
        assert_user_error(r)
        assert files_in(folder) == before


# 2. --emit-recipe is an output like any other
def test_emit_recipe_never_overwrites_the_input_or_an_existing_file(folder):
    model = folder / "model.nnp"
    before = model.read_bytes()
    r = run("quantize", model, "--after", "ReLU", "-o", folder / "q.nnp", "--emit-recipe", model)
    assert_user_error(r, "must end in .yaml")
    (folder / "r.yaml").write_text("mine")
    r = run("quantize", model, "--after", "ReLU", "-o", folder / "q.nnp", "--emit-recipe", folder / "r.yaml")
    assert_user_error(r, "already exists")
    assert model.read_bytes() == before and (folder / "r.yaml").read_text() == "mine"
    assert not (folder / "q.nnp").exists()
    r = run("quantize", model, "--after", "ReLU", "-o", folder / "q.nnp", "--emit-recipe", folder / "nope" / "r.yaml")
    assert_user_error(r, "does not exist")
    assert not (folder / "q.nnp").exists()


# 3. dry run and apply agree
def test_dry_run_runs_the_same_plan(folder):
    recipe = folder / "r.yaml"
    recipe.write_text("version: 1\nsteps:\n  - replace: {types: [ReLU], to: LeakyReLU}\n"
                      "  - quantize: {after: [LeakyReLU]}\n")
    dry = run("apply", recipe, folder / "model.nnp", "--dry-run", "--format", "json")
    real = run("apply", recipe, folder / "model.nnp", "-o", folder / "o.nnp", "--format", "json")
    assert (dry.exit_code, real.exit_code) == (0, 0), dry.stderr + real.stderr
    import json

    steps_dry, steps_real = json.loads(dry.stdout)["steps"], json.loads(real.stdout)["steps"]
    assert [s["records"] for s in steps_dry] == [s["records"] for s in steps_real]
    assert len(steps_real[1]["records"]) == 3


# 4. the Python API takes what recipes take
def test_python_quantize_takes_recipe_values(folder, monkeypatch):
    np.savez(folder / "calib.npz", x=np.random.RandomState(1).randn(16, 1, 8, 8).astype(np.float32))
    monkeypatch.chdir(folder)
    m = nnsurgeon.load("model.nnp")
    result = nnsurgeon.quantize(m, after=["ReLU"], calibrate="calib.npz", batch_size=8)
    assert len(result.records) == 3 and all(r["range"] is not None for r in result.records)
    m2 = nnsurgeon.load("model.nnp")
    assert len(nnsurgeon.quantize(m2, after="ReLU,Affine").records) == 5
    with pytest.raises(NnsurgeonError, match="bits in step 'quantize' must be an integer from 2 to 16"):
        nnsurgeon.quantize(nnsurgeon.load("model.nnp"), after="ReLU", bits=1)
    with pytest.raises(NnsurgeonError, match="add allow_empty=True"):
        nnsurgeon.quantize(nnsurgeon.load("model.nnp"), after="Sigmoid")


# 5. a replaced parameter array is seen by the next run
def test_extract_sees_replaced_parameters(folder):
    m = nnsurgeon.load(str(folder / "model.nnp"))
    x = np.random.RandomState(3).randn(2, 1, 8, 8).astype(np.float32)
    before = nnsurgeon.extract(m, x, network="Runtime", layers=["@Runtime/Affine_1"])["@Runtime/Affine_1"]
    name = [k for k in m.parameters if k.endswith("fc2/affine/b")][0]
    m.parameters[name] = nnsurgeon.model.Parameter(m.parameters[name].data + 1.0, False)
    after = nnsurgeon.extract(m, x, network="Runtime", layers=["@Runtime/Affine_1"])["@Runtime/Affine_1"]
    np.testing.assert_allclose(after, before + 1.0, rtol=1e-5, atol=1e-5)


# 6. modes follow the umask (or the replaced file)
def test_outputs_get_the_umask_mode(folder):
    old = os.umask(0o027)
    try:
        assert run("quantize", folder / "model.nnp", "--after", "ReLU", "-o", folder / "q.nnp",
                   "--emit-recipe", folder / "q.yaml").exit_code == 0
        assert run("extract", folder / "model.nnp", "--random", "-o", folder / "a.npz").exit_code == 0
        assert run("extract", folder / "model.nnp", "--random", "-o", folder / "acts").exit_code == 0
        assert run("featuremaps", folder / "model.nnp", "--random", "-o", folder / "maps").exit_code == 0
    finally:
        os.umask(old)
    for name in ("q.nnp", "q.yaml", "a.npz", "acts/index.json", "maps/index.html"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o640, name
    for name in ("acts", "maps"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o750, name
    os.chmod(folder / "q.nnp", 0o604)
    assert run("quantize", folder / "model.nnp", "--after", "ReLU", "-o", folder / "q.nnp", "--force").exit_code == 0
    assert stat.S_IMODE(os.stat(folder / "q.nnp").st_mode) == 0o604


# 8. a network fed by parameters alone
def test_network_without_data_input_runs(tmp_path):
    from collections import OrderedDict

    import nnabla as nn
    import nnabla.functions as F
    from nnabla.utils.save import save

    path = str(tmp_path / "ponly.nnp")
    with nn.parameter_scope("", OrderedDict()):
        w = nn.parameter.get_parameter_or_create("w", (2, 3), initializer=np.arange(6, dtype=np.float32).reshape(2, 3) - 2)
        y = F.relu(F.mul_scalar(w, 2.0))
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {}}]})
    assert run("compare", path, path, "--random").exit_code == 0
    r = run("extract", path, "--random", "-o", tmp_path / "a.npz")
    assert r.exit_code == 0, r.stderr
    got = np.load(tmp_path / "a.npz")["@Runtime/ReLU"]
    np.testing.assert_array_equal(got, np.maximum((np.arange(6).reshape(2, 3) - 2) * 2.0, 0))
    assert run("featuremaps", path, "--random", "-o", tmp_path / "maps").exit_code == 0


# 9. check knows what apply will refuse
CHECK = [
    ("steps:\n  - quantize: {after: [ReLU], bits: 1}\n", "3:37: 'bits' in step 1 (quantize) must be an integer from 2 to 16, not 1"),
    ("steps:\n  - set-batch-size: {batch-size: 0}\n", "3:34: 'batch-size' in step 1 (set-batch-size) must be an integer from 1 to 65536, not 0"),
    ("steps:\n  - set-batch-size: {batch-size: 9223372036854775808}\n", "must be an integer from 1 to 65536"),
    ("steps:\n  - replace: {types: [ReLU], to: LeakyReLU, args: {alpha: big}}\n",
     "argument 'alpha' of LeakyReLU must be a number, not str 'big'"),
    ("steps:\n  - replace: {types: [ReLU], to: LeakyReLU, args: {alpha: null}}\n",
     "argument 'alpha' of LeakyReLU must be a number"),
    ("steps:\n  - replace: {types: [ReLU], to: LeakyReLU, args: {alpah: 0.2}}\n",
     "function type 'LeakyReLU' has no argument 'alpah'; did you mean 'alpha'?"),
    ("model: missing.nnp\nsteps:\n  - remove: {types: [Dropout]}\n", "2:8: 'model' names missing.nnp, which does not exist"),
    ("steps:\n  - quantize: {after: [ReLU], calibrate: nope.npz}\n", "'calibrate' in step 1 (quantize) names nope.npz, which does not exist"),
    ("steps:\n  - quantize: {after: [ReLU], names: ['re:(']}\n", "bad regular expression"),
    ("steps:\n  - replace: {types: Convolution, args: {group: 0}}\n", "argument group=0 of Convolution must be 1 or more"),
    ("steps:\n  - replace: {types: ReLU, to: AveragePooling, args: {kernel: [0, 0]}}\n",
     "argument kernel=[0, 0] of AveragePooling must be 1 or more"),
    ("steps:\n  - replace: {types: ReLU, to: Reshape, args: {shape: [-1, 99999999999]}}\n", "is out of range"),
]


@pytest.mark.parametrize("body,message", CHECK)
def test_check_refuses_what_apply_would_refuse(folder, body, message):
    recipe = folder / "r.yaml"
    recipe.write_text("version: 1\n" + body)
    for args in (["check", recipe], ["apply", recipe, folder / "model.nnp", "-o", folder / "o.nnp"]):
        r = run(*args)
        assert_user_error(r, message)
        assert f"{recipe}:" in r.stderr
    assert not (folder / "o.nnp").exists()


# 10. Ctrl-C always stops, with 130 and nothing written
def test_interrupt_exits_130_and_writes_nothing(tmp_path):
    from nnsurgeon.examples import build_example as build

    build("chain", str(tmp_path / "m.nnp"), batch=2, seed=0)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, COLUMNS="80")
    stopped = 0
    for delay in (1.0, 1.6, 2.4, 3.2):  # after Python's own start-up, which no handler can cover
        p = subprocess.Popen([BIN, "quantize", str(tmp_path / "m.nnp"), "--after", "ReLU,Affine", "-o",
                              str(out / "q.nnp"), "--calibrate", str(_calib(tmp_path))], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        for _ in range(3):
            if p.poll() is not None:
                break
            p.send_signal(signal.SIGINT)
            time.sleep(0.05)
        _, err = p.communicate(timeout=60)
        if p.returncode == 0 and "wrote" in err.decode():  # done before the first signal: a whole output
            assert read_nnp(str(out / "q.nnp")).network_names == ["Runtime"]
            os.unlink(out / "q.nnp")
            continue
        assert p.returncode == 130, err.decode()
        assert err.decode().strip().splitlines() == ["Error: interrupted; nothing was written"], err.decode()
        assert files_in(out) == [], files_in(out)
        stopped += 1
    assert stopped >= 1  # at least one signal landed while the command worked


def _calib(tmp_path):
    path = tmp_path / "calib.npy"
    if not path.exists():
        np.save(path, np.random.RandomState(0).randn(40000, 1, 8, 8).astype(np.float32))
    return path


def test_writer_commits_nothing_after_a_swallowed_interrupt(folder):
    """An interrupt Python swallowed (raised inside a finaliser) still stops the write before the rename."""
    from nnsurgeon import interrupt
    from nnsurgeon.model import write_nnp

    m = read_nnp(str(folder / "model.nnp"))
    interrupt._interrupted = True
    try:
        with pytest.raises(KeyboardInterrupt):
            write_nnp(m, str(folder / "o.nnp"))
    finally:
        interrupt._interrupted = False
    assert not (folder / "o.nnp").exists() and [f for f in files_in(folder) if "tmp" in f] == []


# 11. output names are checked; inputs are never outputs
def test_output_names_and_inputs(folder):
    model = folder / "model.nnp"
    r = run("extract", model, "--random", "-o", folder / "out.npy")
    assert_user_error(r, "extract writes an .npz file or a folder of .npy files, not '.npy'")
    for name in ("q.zip", "noext"):
        r = run("quantize", model, "--after", "ReLU", "-o", folder / name)
        assert_user_error(r, "the output name must end in .nnp")
    np.save(folder / "c.npy", np.random.RandomState(0).randn(8, 1, 8, 8).astype(np.float32))
    before = (folder / "c.npy").read_bytes()
    r = run("quantize", model, "--after", "ReLU", "--calibrate", folder / "c.npy", "-o", folder / "c.npy", "--force")
    assert_user_error(r)
    assert (folder / "c.npy").read_bytes() == before
    recipe = folder / "r.yaml"
    recipe.write_text("version: 1\nsteps:\n  - remove: {types: [Dropout]}\n")
    r = run("apply", recipe, model, "-o", recipe, "--force")
    assert_user_error(r)
    assert recipe.read_text().startswith("version: 1")


# 12. an emitted recipe re-applies from anywhere
def test_emitted_recipe_reapplies_from_another_folder(folder, tmp_path_factory, monkeypatch):
    np.savez(folder / "calib.npz", x=np.random.RandomState(1).randn(16, 1, 8, 8).astype(np.float32))
    monkeypatch.chdir(folder)
    sub = folder / "recipes"
    sub.mkdir()
    r = run("quantize", "model.nnp", "--after", "ReLU", "--calibrate", "calib.npz", "-o", "q.nnp",
            "--emit-recipe", "recipes/q.yaml")
    assert r.exit_code == 0, r.stderr
    text = (sub / "q.yaml").read_text()
    assert "model: ../model.nnp" in text and "calibrate: ../calib.npz" in text
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    r = run("apply", sub / "q.yaml", "-o", elsewhere / "again.nnp")
    assert r.exit_code == 0, r.stderr
    a, b = read_nnp(str(folder / "q.nnp")), read_nnp(str(elsewhere / "again.nnp"))
    assert all(a.parameters[k].data.tobytes() == b.parameters[k].data.tobytes() for k in a.parameters)


def test_stale_temporary_files_are_removed_by_the_next_write(folder):
    stale = folder / ".q.nnp.nnsurgeon-tmp-999999999-abc"
    stale.write_bytes(b"x" * 1000)
    assert run("quantize", folder / "model.nnp", "--after", "ReLU", "-o", folder / "q.nnp").exit_code == 0
    assert not stale.exists()


def test_library_messages_speak_the_callers_language(folder):
    r = run("quantize", folder / "model.nnp", "--after", "Sigmoid")
    assert_user_error(r, "or add --allow-empty")
    recipe = folder / "r.yaml"
    recipe.write_text("version: 1\nsteps:\n  - quantize: {after: [Sigmoid]}\n")
    r = run("apply", recipe, folder / "model.nnp", "-o", folder / "o.nnp")
    assert_user_error(r, "or add 'allow-empty: true'")


# found in review
def test_renaming_two_names_to_one_is_refused_not_a_hang(folder):
    recipe = folder / "r.yaml"
    recipe.write_text('version: 1\nsteps:\n  - rename: {functions: {"@Runtime/ReLU": Z, "@Runtime/ReLU_1": Z}}\n')
    for args in (["check", recipe], ["apply", recipe, folder / "model.nnp", "-o", folder / "o.nnp"]):
        assert_user_error(run(*args), "several names would become 'Z'")


def test_model_names_nnabla_would_refuse(folder):
    for name in (".nnp", "Q.NNP"):
        r = run("quantize", folder / "model.nnp", "--after", "ReLU", "-o", folder / name)
        assert_user_error(r, "the output name must end in .nnp (lower case, after a name)")
    r = run("featuremaps", folder / "model.nnp", "--random", "-o", folder / "fm.npz")
    assert_user_error(r, "this command writes a folder; give a folder name without a file extension ('.npz')")


def test_a_marked_folder_with_the_users_files_is_not_replaced(folder):
    out = folder / "acts"
    assert run("extract", folder / "model.nnp", "--random", "-o", out).exit_code == 0
    (out / "mine.txt").write_text("mine")
    r = run("extract", folder / "model.nnp", "--random", "-o", out, "--force")
    assert r.stderr == (f"Error: {out}: holds files nnsurgeon did not write (mine.txt); nnsurgeon never deletes them, "
                        "even with --force: move them or choose a new folder name\n")
    assert (out / "mine.txt").read_text() == "mine"
    other = folder / "other"
    other.mkdir()
    (other / "a").write_text("a")
    r = run("extract", folder / "model.nnp", "--random", "-o", other, "--force")
    assert r.stderr == (f"Error: {other}: is a folder nnsurgeon did not write (no .nnsurgeon-output inside); nnsurgeon "
                        "never deletes it, even with --force: choose a new folder name or empty it yourself\n")


def test_example_gets_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        assert run("example", "chain", "-o", tmp_path / "m.nnp").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.nnp").st_mode) == 0o644


def test_in_process_runs_give_ctrl_c_back(folder):
    before = signal.getsignal(signal.SIGINT)
    assert run("list-layers", folder / "model.nnp").exit_code == 0
    assert signal.getsignal(signal.SIGINT) is before


def test_python_steps_are_all_or_nothing(folder):
    m = nnsurgeon.load(str(folder / "model.nnp"))
    before = m.proto.SerializeToString()
    with pytest.raises(NnsurgeonError, match="NNabla cannot build network"):
        nnsurgeon.replace(m, types="Affine", to="Convolution")
    assert m.proto.SerializeToString() == before


def test_python_apply_raises_when_an_expectation_fails(folder):
    recipe = folder / "r.yaml"
    recipe.write_text("version: 1\nsteps:\n  - quantize: {after: [ReLU]}\nexpect:\n  counts: {MinMaxQuantize: 9}\n")
    m = nnsurgeon.load(str(folder / "model.nnp"))
    before = m.proto.SerializeToString()
    with pytest.raises(nnsurgeon.errors.CheckFailed, match="count MinMaxQuantize"):
        nnsurgeon.apply(str(recipe), m, output=str(folder / "o.nnp"))
    assert m.proto.SerializeToString() == before and not (folder / "o.nnp").exists()
