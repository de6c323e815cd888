"""One name per idea: every command documented in the README spells the same idea with the same option, read
from the click command objects themselves (no hand-kept list of commands or options)."""
import os
import re

import click

from nnsurgeon.cli import cli

from .conftest import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _documented_commands():
    readme = open(os.path.join(ROOT, "README.md")).read()
    names = sorted(set(re.findall(r"nnsurgeon ([a-z][a-z-]+)", readme)) & set(cli.list_commands(None)))
    return {name: cli.get_command(None, name) for name in names}


def _idea(param) -> str:
    """The idea an option spells: the one it declares (quantize's --after is the type selector), else its
    destination with a plural folded (``networks`` and ``network`` are one idea)."""
    name = getattr(param, "idea", None) or param.name
    name = name.replace("_", "-")
    return name[:-1] if name.endswith("s") and name not in ("samples",) else name


def test_every_documented_command_uses_one_option_name_per_idea():
    commands = _documented_commands()
    assert len(commands) >= 10, sorted(commands)
    primary = {}  # idea -> {first flag: [commands]}
    owners = {}  # any visible flag -> {idea: [commands]}
    for cname, command in commands.items():
        for p in command.params:
            if not isinstance(p, click.Option) or p.hidden:
                continue
            idea = _idea(p)
            long_flags = [o for o in p.opts if o.startswith("--")]
            primary.setdefault(idea, {}).setdefault(long_flags[0], []).append(cname)
            for flag in p.opts + p.secondary_opts:
                owners.setdefault(flag, {}).setdefault(idea, []).append(cname)
    # quantize's --after is its documented spelling of the type selector (it also takes --type)
    allowed = {"type": {"--type", "--after"}}
    for idea, flags in primary.items():
        assert set(flags) <= allowed.get(idea, set(list(flags)[:1])), (idea, flags)
    for flag, ideas in owners.items():
        assert len(ideas) == 1, (flag, ideas)
    # the selectors exist wherever functions are chosen, under the same names
    for cname in ("list-layers", "quantize", "extract", "featuremaps"):
        flags = {o for p in commands[cname].params for o in p.opts}
        assert {"--type", "--name", "--exclude", "--network"} <= flags, (cname, flags)
    for cname in ("compare", "extract", "featuremaps", "apply"):
        assert "--network" in {o for p in commands[cname].params for o in p.opts}, cname


def test_verbose_anywhere_and_old_spellings_still_work(examples, tmp_path):
    path = examples[("chain", "nntxt+h5")]
    before = run("-v", "list-layers", path, "--type", "ReLU")
    after = run("list-layers", path, "--type", "ReLU", "-v")
    assert before.exit_code == after.exit_code == 0, after.stderr
    assert before.stdout == after.stdout
    r = run("extract", path, "--random", "--layers", "@Runtime/ReLU", "-o", tmp_path / "a.npz", "--verbose")
    assert r.exit_code == 0, r.stderr
    import numpy as np

    assert list(np.load(tmp_path / "a.npz")) == ["@Runtime/ReLU"]
    r = run("quantize", path, "--type", "ReLU", "--dry-run")
    assert r.exit_code == 0 and "would insert 2 MinMaxQuantize" in r.stderr, r.stderr


def test_name_selector_takes_variable_names(examples, tmp_path):
    """Names as Variable.visit or forward hooks show them: the output variable of a function."""
    import numpy as np

    path = examples[("chain", "nntxt+h5")]
    r = run("extract", path, "--random", "--name", "@Runtime/ReLU_out", "-o", tmp_path / "a.npz")
    assert r.exit_code == 0, r.stderr
    assert list(np.load(tmp_path / "a.npz")) == ["@Runtime/ReLU"]


def test_exclude_matching_nothing_warns_with_the_closest(examples):
    path = examples[("chain", "nntxt+h5")]
    r = run("quantize", path, "--after", "ReLU", "--exclude", "Relu", "--dry-run")
    assert r.exit_code == 0
    assert "exclude 'Relu' matches nothing; closest type: 'ReLU'" in r.stderr.splitlines()
    r = run("list-layers", path, "--exclude", "@Runtime/Rlu_1")
    assert "warning: exclude '@Runtime/Rlu_1' matches nothing; closest name: '@Runtime/ReLU_1'" in r.stderr


def test_recipe_and_python_take_types_for_quantize(examples):
    import nnsurgeon

    m = nnsurgeon.load(examples[("chain", "nntxt+h5")])
    result = nnsurgeon.quantize(m, types=["ReLU"])
    assert len(result.records) == 2
