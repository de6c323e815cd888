"""Recipes: shipped ones run, errors point into the file, no code runs, plans and recipes translate."""
import json
import os
import shutil

import numpy as np
import pytest

from nnsurgeon.examples import build_example
from nnsurgeon.model import read_nnp
from nnsurgeon.plan import Plan, Step
from nnsurgeon.recipe import SCHEMA_FILE, parse_recipe, plan_to_yaml
from nnsurgeon.recipe.spec import json_schema

from .conftest import assert_user_error, count_type, files_in, nnabla_outputs, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = sorted(f for f in os.listdir(os.path.join(ROOT, "recipes")) if f.endswith(".yaml"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The shipped recipes copied beside a classifier model and the data they name."""
    folder = tmp_path_factory.mktemp("recipes")
    for name in RECIPES:
        shutil.copy(os.path.join(ROOT, "recipes", name), folder / name)
    build_example("classifier", str(folder / "model.nnp"), batch=4, seed=2)
    # the deployment form, made by the shipped strip-training recipe as a CI job would
    assert run("apply", folder / "strip-training.yaml", folder / "model.nnp", "-o", folder / "deploy.nnp").exit_code == 0
    rng = np.random.RandomState(0)
    np.savez(folder / "calib.npz", x=rng.randn(256, 1, 8, 8).astype(np.float32))
    np.savez(folder / "check.npz", x=rng.randn(64, 1, 8, 8).astype(np.float32))
    return folder


def test_there_are_at_least_four_recipes():
    assert len(RECIPES) >= 4


@pytest.mark.parametrize("name", RECIPES)
def test_shipped_recipe_runs(workspace, tmp_path, name):
    assert run("check", workspace / name).exit_code == 0
    out = tmp_path / "out.nnp"
    model = workspace / ("deploy.nnp" if name == "ptq-8bit.yaml" else "model.nnp")
    r = run("apply", workspace / name, model, "-o", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert all(c["ok"] for c in report["expect"])
    m = read_nnp(str(out))
    _, outs = nnabla_outputs(str(out), "Runtime")
    assert all(np.isfinite(v).all() for v in outs.values())
    assert count_type(out, "Runtime", "Dropout") == 0
    if name == "ptq-8bit.yaml":
        qs = [f for f in m.network("Runtime").function if f.type == "MinMaxQuantize"]
        assert len(qs) == 7 and all(not q.min_max_quantize_param.x_min_max for q in qs)
        assert report["expect"][0]["check"] == "compare y"
    if name == "feature-extractor.yaml":
        assert list(outs) == ["features"] and outs["features"].shape[1] == 32


def test_dry_run_writes_nothing(workspace, tmp_path):
    r = run("apply", workspace / "fold-bn-quantize.yaml", workspace / "model.nnp", "--dry-run", "--format", "json")
    assert r.exit_code == 0, r.stderr
    steps = json.loads(r.stdout)["steps"]
    assert [s["step"] for s in steps] == ["remove", "fold-batchnorm", "quantize"]
    assert "would" in steps[1]["summary"] and files_in(tmp_path) == []


def _recipe(tmp_path, text, name="recipe.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


BAD = [
    ("version: 1\nsteps:\n  - quantize: {after: ReLU\n", "recipe.yaml:4:1: malformed YAML (expected ',' or '}', but got '<stream end>')"),
    ("version: 1\nsteps:\n  - remove: {types: Dropout}\n  - quantize:\n      aftr: [ReLU]\n",
     "recipe.yaml:5:7: unknown option 'aftr' in step 2 (quantize); did you mean 'after'?"),
    ("version: 1\nsteps:\n  - quantize:\n      after: [ReLU]\n      bits: eight\n",
     "recipe.yaml:5:13: 'bits' in step 1 (quantize) must be an integer from 2 to 16, not str 'eight'"),
    ("version: 1\nsteps:\n  - quantise: {after: [ReLU]}\n",
     "recipe.yaml:3:5: unknown step 'quantise' in step 1; did you mean 'quantize'?"),
    ("version: 1\nsteps:\n  - quantize: {after: [Relu]}\n",
     "recipe.yaml:3:24: 'after' in step 1 (quantize): unknown function type 'Relu'; did you mean 'ReLU'?"),
    ("version: 2\nsteps:\n  - fold-batchnorm: {}\n", "recipe.yaml:1:10: unsupported recipe version 2; this nnsurgeon reads 1"),
    ("steps:\n  - fold-batchnorm: {}\n", "recipe.yaml:1:1: the recipe needs 'version'"),
    ("version: 1\nsteps: []\n", "recipe.yaml:2:8: 'steps' is empty; give at least one step"),
    ("version: 1\nsteps:\n  - set-batch-size: {}\n", "recipe.yaml:3:21: step 1 (set-batch-size) needs 'batch-size'"),
    ("version: 1\nmodle: m.nnp\nsteps:\n  - fold-batchnorm: {}\n",
     "recipe.yaml:2:1: unknown option 'modle' in the recipe; did you mean 'model'?"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_bad_recipes_point_into_the_file(tmp_path, workspace, text, message):
    path = _recipe(tmp_path, text)
    for args in (["check", path], ["apply", path, workspace / "model.nnp", "-o", tmp_path / "o.nnp"]):
        r = run(*args)
        assert_user_error(r)
        assert r.stderr.strip() == f"Error: {tmp_path / message}", r.stderr
        assert not (tmp_path / "o.nnp").exists()


def test_python_tags_are_refused_and_run_nothing(tmp_path, workspace):
    marker = tmp_path / "pwned"
    text = (f"version: 1\nsteps:\n  - quantize:\n      after: !!python/object/apply:os.system [\"touch {marker}\"]\n")
    r = run("apply", _recipe(tmp_path, text), workspace / "model.nnp", "-o", tmp_path / "o.nnp")
    assert_user_error(r, "recipe.yaml:4:14: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed")
    assert not marker.exists() and not (tmp_path / "o.nnp").exists()


def test_step_matching_nothing_fails_before_writing(tmp_path, workspace):
    path = _recipe(tmp_path, "version: 1\nsteps:\n  - fold-batchnorm: {}\n  - quantize: {after: [Sigmoid]}\n")
    r = run("apply", path, workspace / "model.nnp", "-o", tmp_path / "o.nnp")
    assert_user_error(r, f"step 2 (quantize) at {path}:4:5: no function matches type Sigmoid")
    assert not (tmp_path / "o.nnp").exists()


def test_failed_expectation_exits_1_and_writes_nothing(tmp_path, workspace):
    path = _recipe(tmp_path, "version: 1\nsteps:\n  - quantize: {after: [ReLU], bits: 2}\nexpect:\n"
                             "  counts: {MinMaxQuantize: 3}\n  compare: {random: true, atol: 0.0001}\n")
    r = run("apply", path, workspace / "model.nnp", "-o", tmp_path / "o.nnp")
    assert r.exit_code == 1, r.stderr
    assert "expectation(s) failed (compare y)" in r.stderr and not (tmp_path / "o.nnp").exists()


def test_model_from_the_recipe_relative_to_it(tmp_path, workspace):
    shutil.copy(workspace / "model.nnp", tmp_path / "m.nnp")
    path = _recipe(tmp_path, "version: 1\nmodel: m.nnp\nsteps:\n  - fold-batchnorm: {}\n")
    r = run("apply", path, "-o", tmp_path / "o.nnp")
    assert r.exit_code == 0, r.stderr
    assert count_type(tmp_path / "o.nnp", "Runtime", "BatchNormalization") == 0


def test_emit_recipe_reproduces_the_command(tmp_path, workspace):
    direct, via = tmp_path / "direct.nnp", tmp_path / "via.nnp"
    r = run("quantize", workspace / "model.nnp", "--after", "ReLU,Affine", "--bits", "6", "--exclude", "fc2*",
            "-o", direct, "--emit-recipe", tmp_path / "q.yaml")
    assert r.exit_code == 0, r.stderr
    assert run("apply", tmp_path / "q.yaml", workspace / "model.nnp", "-o", via).exit_code == 0
    a, b = read_nnp(str(direct)), read_nnp(str(via))
    assert a.proto == b.proto and list(a.parameters) == list(b.parameters)
    assert all(a.parameters[k].data.tobytes() == b.parameters[k].data.tobytes() for k in a.parameters)


def test_plan_and_recipe_translate_both_ways(tmp_path):
    plan = Plan([Step("remove", {"types": ["Dropout"]}), Step("fold-batchnorm", {}),
                 Step("quantize", {"after": ["ReLU", "Affine"], "bits": 6, "signed": True}),
                 Step("replace", {"types": ["ReLU"], "to": "LeakyReLU", "args": {"alpha": 0.2}}),
                 Step("rename", {"variables": {"y": "logits"}}), Step("set-batch-size", {"batch-size": 1})],
                default_networks=["Runtime"])
    (tmp_path / "m.nnp").write_bytes(b"")  # a recipe's files must exist; this one is only named
    recipe_path = tmp_path / "r.yaml"
    text = plan_to_yaml(plan, model=str(tmp_path / "m.nnp"), recipe_path=str(recipe_path))
    recipe_path.write_text(text)
    recipe = parse_recipe(text, str(recipe_path))
    assert [(s.name, s.options) for s in recipe.steps] == [(s.name, s.options) for s in plan.steps]
    assert recipe.networks == ["Runtime"] and recipe.model == "m.nnp"
    assert plan_to_yaml(recipe.plan(), model=recipe.model_path(), recipe_path=str(recipe_path)) == text


def test_shipped_schema_is_current():
    assert json.load(open(SCHEMA_FILE)) == json_schema()
