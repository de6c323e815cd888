"""Property: random small DAG networks through random recipes: ``apply --dry-run`` and ``apply`` agree (same
exit code, same records), and the result either reloads and runs with plain NNabla or the command exits 2 with
one 'Error:' line giving one of the refusals the passes document. Never exit 3, never a traceback."""
import json
import os
import tempfile
from collections import OrderedDict

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import nnabla_outputs, run

OPS = ["affine", "relu", "tanh", "sigmoid", "add", "dropout", "bn", "concat"]


def build_network(path, ops, picks):
    """A DAG on x (2, 4): each op reads one or two earlier tensors (chosen by ``picks``); the last tensor and
    one earlier tensor without consumers are outputs."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((2, 4))
        tensors = [x]
        used = set()
        for i, op in enumerate(ops):
            a = tensors[picks[2 * i] % len(tensors)]
            b = tensors[picks[2 * i + 1] % len(tensors)]
            used.update({id(a), id(b)})
            if op == "affine":
                y = PF.affine(a, 4, name=f"fc{i}")
            elif op == "relu":
                y = F.relu(a)
            elif op == "tanh":
                y = F.tanh(a)
            elif op == "sigmoid":
                y = F.sigmoid(a)
            elif op == "add":
                y = F.add2(a, b)
            elif op == "dropout":
                y = F.dropout(a, p=0.3)
            elif op == "bn":
                y = PF.batch_normalization(PF.affine(a, 4, name=f"bnfc{i}"), batch_stat=False, name=f"bn{i}")
            else:
                y = PF.affine(F.concatenate(a, b, axis=1), 4, name=f"cat{i}")
            tensors.append(y)
        outputs = {"y": tensors[-1]}
        spare = [t for t in tensors[1:-1] if id(t) not in used]
        if spare:
            outputs["z"] = spare[0]
        for v in nn.get_parameters(grad_only=False).values():
            v.d = np.random.RandomState(0).randn(*v.shape) * 0.5 + (1.0 if v.shape == (1, 4) else 0.0)
        save(path, {"networks": [{"name": "Runtime", "batch_size": 2, "outputs": outputs, "names": {"x": x}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"],
                                   "output": list(outputs)}]})


TYPES = ["ReLU", "Affine", "Tanh", "Sigmoid", "Add2", "Dropout", "BatchNormalization", "Concatenate", "Softmax"]
steps = st.one_of(
    st.builds(lambda t, b: {"quantize": {"after": t, "bits": b}}, st.lists(st.sampled_from(TYPES), min_size=1,
                                                                          max_size=3), st.integers(2, 8)),
    st.builds(lambda t: {"remove": {"types": t}}, st.lists(st.sampled_from(TYPES), min_size=1, max_size=2)),
    st.builds(lambda t, a: {"replace": {"types": [t], "to": "LeakyReLU", "args": {"alpha": a}}},
              st.sampled_from(["ReLU", "Tanh", "Sigmoid"]), st.one_of(st.floats(0.0, 0.5), st.sampled_from(["big", None]))),
    st.builds(lambda a, b, n: {"rename": {"functions": {f"@Runtime/{a}": n, f"@Runtime/{b}": "other"}}},
              st.sampled_from(["ReLU", "Affine", "Tanh"]), st.sampled_from(["Affine_1", "ReLU_1", "Sigmoid"]),
              st.sampled_from(["other", "fresh"])),
    st.just({"fold-batchnorm": {}}),
    st.builds(lambda n: {"cut": {"names": [f"@Runtime/{n}"]}}, st.sampled_from(["ReLU", "Affine", "Tanh", "Affine_1"])),
    st.builds(lambda n: {"rename": {"variables": {n: "renamed"}}}, st.sampled_from(["y", "z", "x", "nope"])),
    st.builds(lambda b: {"set-batch-size": {"batch-size": b}}, st.integers(1, 3)),
)


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=6),
       picks=st.lists(st.integers(0, 50), min_size=12, max_size=12),
       recipe=st.lists(steps, min_size=1, max_size=3))
def test_random_recipes_on_random_networks(ops, picks, recipe):
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "m.nnp")
        build_network(model, ops, picks)
        path = os.path.join(tmp, "r.yaml")
        with open(path, "w") as f:
            yaml.safe_dump({"version": 1, "steps": recipe}, f)
        out = os.path.join(tmp, "out.nnp")
        dry = run("apply", path, model, "--dry-run", "--format", "json")
        r = run("apply", path, model, "-o", out, "--format", "json")
        assert "Traceback" not in r.stderr and r.exit_code in (0, 2), (r.exit_code, r.stderr, ops, recipe)
        assert dry.exit_code == r.exit_code, (dry.stderr, r.stderr, ops, recipe)
        if r.exit_code == 2:
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: ") and not os.path.exists(out)
            assert any(reason in lines[0] for reason in REFUSALS), (lines[0], ops, recipe)
            assert dry.stderr == r.stderr
        else:
            assert [s["records"] for s in json.loads(dry.stdout)["steps"]] == \
                [s["records"] for s in json.loads(r.stdout)["steps"]]
            _, outs = nnabla_outputs(out, "Runtime")
            assert outs and all(np.isfinite(v).all() for v in outs.values())


# What a random recipe may legitimately be refused for (anything else, e.g. a result NNabla cannot build, fails).
REFUSALS = ["no function matches", "changes the shape", "of network 'Runtime', which the cut removes",
            "no function or variable named", "already has a variable", "straight to output",
            "is a parameter, shared by name", "only one-output functions", "several names would become",
            "argument 'alpha' of LeakyReLU must be a number", "already has a function"]
