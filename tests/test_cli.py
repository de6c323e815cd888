"""The CLI shell: help without NNabla, version, quiet by default, README commands."""
import os
import re
import subprocess
import sys

from .conftest import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_help_does_not_import_nnabla():
    code = ("import sys; from nnsurgeon.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('NNABLA' if 'nnabla' in sys.modules else 'CLEAN')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("CLEAN")


def test_every_command_has_help():
    from nnsurgeon.cli import COMMANDS

    for name in COMMANDS:
        r = run(name, "-h")
        assert r.exit_code == 0 and "Usage:" in r.stdout, name


def test_version():
    r = run("--version")
    assert r.exit_code == 0 and re.match(r"nnsurgeon, version \d+\.\d+\.\d+", r.stdout)


def test_quiet_by_default_and_python_m(examples, tmp_path):
    out = tmp_path / "q.nnp"
    p = subprocess.run([sys.executable, "-m", "nnsurgeon", "convert", examples[("chain", "nntxt+h5")], "-o",
                        str(out)], capture_output=True, text=True)
    assert p.returncode == 0 and "[nnabla][INFO]" not in p.stderr and p.stderr.strip() == f"wrote {out}"
    p = subprocess.run([sys.executable, "-m", "nnsurgeon", "-v", "convert", examples[("chain", "nntxt+h5")],
                        "-o", str(out), "--force"], capture_output=True, text=True)
    assert p.returncode == 0 and "[nnabla][INFO]" in p.stderr


def test_readme_starts_with_the_two_commands():
    lines = open(os.path.join(ROOT, "README.md")).read().splitlines()
    commands = [x for x in lines[:15] if x.startswith("make ")]
    assert commands[:2] == ["make demo", "make test"]
    makefile = open(os.path.join(ROOT, "Makefile")).read()
    assert "\ndemo:" in makefile and "\ntest:" in makefile
    assert "make test" in open(os.path.join(ROOT, ".ci", "run")).read()


def test_example_command_writes_a_model(tmp_path):
    out = tmp_path / "e.nnp"
    r = run("example", "zoo", "-o", out)
    assert r.exit_code == 0 and out.exists()
    assert run("list-layers", out).exit_code == 0


def test_readme_documents_every_command():
    from nnsurgeon.cli import COMMANDS

    readme = open(os.path.join(ROOT, "README.md")).read()
    for name in COMMANDS:
        assert f"nnsurgeon {name}" in readme, name


def test_missing_context_extension_is_one_error_line(examples, tmp_path):
    from .conftest import assert_user_error

    np_path = tmp_path / "x.npy"
    import numpy as np

    np.save(np_path, np.zeros((2, 1, 8, 8), np.float32))
    for args in (["compare", examples[("chain", "nntxt+h5")], examples[("chain", "nntxt+h5")], "--random"],
                 ["quantize", examples[("chain", "nntxt+h5")], "--after", "ReLU", "--calibrate", np_path,
                  "-o", tmp_path / "q.nnp"],
                 ["extract", examples[("chain", "nntxt+h5")], "--random", "-o", tmp_path / "a.npz"]):
        r = run(*args, "--context", "cudnn")
        assert_user_error(r, "context 'cudnn' is not available", "--context cpu")
    assert not (tmp_path / "q.nnp").exists() and not (tmp_path / "a.npz").exists()
