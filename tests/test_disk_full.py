"""A full disk (a real, tiny tmpfs): every writer ends in one 'Error:' line, exit 2, and leaves nothing behind.
Also: outputs refused before any work is done, and what a killed run leaves is cleaned by the next write."""
import os
import subprocess
import uuid

import numpy as np
import pytest

from nnsurgeon.examples import build_example

from .conftest import assert_user_error, files_in, run


@pytest.fixture
def tiny(tmp_path):
    """A 96 KiB tmpfs, almost filled by a file that is not ours (needs root, as CI has; skipped otherwise)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root): the disk-full cases are not exercised")
    try:
        with open(mount / "filler.bin", "wb") as f:
            f.write(os.urandom(80 * 1024))
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.nnp"
    build_example("residual", str(path), batch=2, seed=0)
    return path


def test_every_writer_reports_a_full_disk(tiny, model, tmp_path):
    cases = [
        ["quantize", model, "--after", "ReLU", "-o", tiny / "q.nnp"],
        ["convert", model, "-o", tiny / "c.nnp", "--param-format", "protobuf"],
        ["extract", model, "--random", "--samples", "64", "-o", tiny / "a.npz"],
        ["extract", model, "--random", "--samples", "64", "-o", tiny / "acts"],
        ["featuremaps", model, "--random", "-o", tiny / "maps"],
    ]
    for args in cases:
        r = run(*args)
        assert_user_error(r, "no space left on the device; nothing was written")
        assert files_in(tiny) == ["filler.bin"], (args, files_in(tiny))


def test_emit_recipe_is_checked_before_the_model_is_written(model, tmp_path):
    """Defect: --emit-recipe into a missing folder ended in exit 3 after the model was written."""
    r = run("quantize", model, "--after", "ReLU", "-o", tmp_path / "q.nnp", "--emit-recipe",
            tmp_path / "missing" / "q.yaml")
    assert_user_error(r, "does not exist; create it first")
    assert not (tmp_path / "q.nnp").exists()


def test_apply_never_replaces_its_recipe(model, tmp_path):
    """Defect: apply ... -o RECIPE.yaml --force replaced the recipe with the model."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("version: 1\nsteps:\n  - quantize: {after: [ReLU]}\n")
    r = run("apply", recipe, model, "-o", recipe, "--force")
    assert_user_error(r, "the output name must end in .nnp")
    os.symlink(recipe, tmp_path / "r.nnp")  # the recipe under a model's name
    r = run("apply", recipe, model, "-o", tmp_path / "r.nnp", "--force")
    assert_user_error(r, "is an input of this command")
    assert recipe.read_text().startswith("version: 1")


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(model, tmp_path):
    """Defect: a SIGKILL during the write left the hidden temporary file for ever."""
    dead = subprocess.Popen(["true"])
    dead.wait()  # a PID that no longer runs
    stale = tmp_path / f".q.nnp.nnsurgeon-tmp-{dead.pid}-{uuid.uuid4().hex[:8]}"
    stale.write_bytes(np.zeros(1000, np.uint8).tobytes())
    r = run("quantize", model, "--after", "ReLU", "-o", tmp_path / "q.nnp")
    assert r.exit_code == 0, r.stderr
    assert not stale.exists()
    assert sorted(f for f in files_in(tmp_path) if f.startswith(".")) == []
