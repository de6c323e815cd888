"""list-layers and info: what NNabla builds, under stable names."""
import json
from collections import OrderedDict

import pytest

from nnsurgeon.graph.naming import assign_function_names
from nnsurgeon.model import read_nnp, write_nnp

from .conftest import run


def _nnabla_functions(path, network):
    """(type, output names) of every function NNabla's NnpLoader builds, found by walking the live graph."""
    import nnabla as nn
    from nnabla.utils.nnp_graph import NnpLoader

    with nn.parameter_scope("", OrderedDict()):
        net = NnpLoader(path).get_network(network)
        found = []
        seen = set()

        def visit(f):
            key = tuple(sorted(o.name for o in f.outputs))
            if (f.info.type_name, key) not in seen:
                seen.add((f.info.type_name, key))
                found.append((f.info.type_name, key))

        for out in net.outputs.values():
            out.visit(visit)
        return sorted(found)


@pytest.mark.parametrize("name", ["chain", "residual", "multi-output", "zoo", "multi-network"])
def test_json_lists_what_nnabla_builds(examples, name):
    path = examples[(name, "nntxt+h5")]
    r = run("list-layers", path, "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    for net in {row["network"] for row in rows}:
        mine = sorted((row["type"], tuple(sorted(o["name"] for o in row["outputs"])))
                      for row in rows if row["network"] == net)
        assert mine == _nnabla_functions(path, net)
        names = [row["name"] for row in rows if row["network"] == net]
        assert len(names) == len(set(names))
        assert [row["index"] for row in rows if row["network"] == net] == list(range(len(names)))
    for row in rows:
        assert set(row) >= {"network", "index", "name", "type", "inputs", "outputs", "args", "params"}
        assert all(set(p) == {"name", "shape"} for p in row["inputs"] + row["outputs"])
    again = json.loads(run("list-layers", path, "--format", "json").stdout)
    assert again == rows


def test_shapes_args_and_params(examples):
    rows = json.loads(run("list-layers", examples[("chain", "nntxt+h5")], "--format", "json").stdout)
    conv = rows[0]
    assert conv["type"] == "Convolution" and conv["inputs"][0]["shape"] == [2, 1, 8, 8]
    assert conv["outputs"][0]["shape"] == [2, 4, 8, 8]
    assert conv["args"]["pad"] == [1, 1] and conv["params"] == 4 * 1 * 3 * 3 + 4
    rows = json.loads(run("list-layers", examples[("chain", "nntxt+h5")], "--format", "json",
                          "--batch-size", "7").stdout)
    assert rows[0]["inputs"][0]["shape"] == [7, 1, 8, 8]


def test_filters_and_formats(examples):
    path = examples[("residual", "nntxt+h5")]
    rows = json.loads(run("list-layers", path, "--type", "ReLU", "--format", "json").stdout)
    assert len(rows) == 4 and {r["type"] for r in rows} == {"ReLU"}
    rows = json.loads(run("list-layers", path, "--name", "*Affine*", "--format", "json").stdout)
    assert [r["type"] for r in rows] == ["Affine", "Affine"]
    csv_out = run("list-layers", path, "--format", "csv").stdout.splitlines()
    assert csv_out[0] == "network,index,name,type,inputs,outputs,args,params" and len(csv_out) == 11
    table = run("list-layers", path).stdout.splitlines()
    assert table[0].split()[:4] == ["network", "index", "name", "type"] and len(table) == 12
    multi = json.loads(run("list-layers", examples[("multi-network", "nntxt+h5")], "--network", "Runtime",
                           "--format", "json").stdout)
    assert {r["network"] for r in multi} == {"Runtime"}


def test_stable_names_for_missing_and_duplicate_names(examples, tmp_path):
    m = read_nnp(examples[("residual", "nntxt+h5")])
    fs = m.proto.network[0].function
    fs[0].name = ""
    fs[1].name = fs[3].name = "dup"
    path = str(tmp_path / "dups.nnp")
    write_nnp(m, path)
    first = [r["name"] for r in json.loads(run("list-layers", path, "--format", "json").stdout)]
    second = [r["name"] for r in json.loads(run("list-layers", path, "--format", "json").stdout)]
    assert first == second and len(set(first)) == len(first)
    assert "Convolution" in first and "dup" in first and "dup_1" in first


def test_naming_rule_is_file_order():
    from nnabla.utils import nnabla_pb2

    net = nnabla_pb2.Network()
    for name, type_name in [("a", "ReLU"), ("", "ReLU"), ("a", "Tanh"), ("ReLU", "Add2"), ("", "ReLU")]:
        net.function.add(name=name, type=type_name)
    assert assign_function_names(net.function) == ["a", "ReLU_1", "a_1", "ReLU", "ReLU_2"]


def test_info(examples):
    r = run("info", examples[("multi-network", "nntxt+h5")], "--format", "json")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert [n["name"] for n in s["networks"]] == ["Training", "Validation", "Runtime"]
    assert [e["name"] for e in s["executors"]] == ["runtime", "validation"]
    assert s["optimizers"][0]["solver"] == "Sgd" and s["monitors"][0]["network"] == "Validation"
    assert s["datasets"][0]["name"] == "train_data" and s["training_config"]["max_epoch"] == 1
    assert s["parameters"]["count"] == 4 * 8 + 8 + 8 * 3 + 3
    assert s["function_types"]["Affine"] == 6
    assert [m["name"] for m in s["members"]] == ["nnp_version.txt", "network.nntxt", "parameter.h5"]
    text = run("info", examples[("multi-network", "nntxt+h5")]).stdout
    assert "executors:" in text and "optimizers:" in text
    assert "function types (counted over network(s) Training, Validation, Runtime): Affine 6," in text


@pytest.mark.parametrize("name,layout", [(n, lay) for n in ["chain", "residual", "multi-output", "zoo"]
                                         for lay in ["nntxt+h5", "protobuf"]] + [("multi-network", "nntxt+h5")])
def test_rows_from_stored_shapes_equal_rows_from_nnablas_graph(examples, name, layout, monkeypatch):
    """list-layers reads shapes from the file where it states them; every row equals the row computed from
    the graph NNabla builds (order, shapes, arguments such as Reshape's batch dimension)."""
    from nnsurgeon.graph import layers
    from nnsurgeon.graph.live import static_network
    from nnsurgeon.model import load_model

    model = load_model(examples[(name, layout)])
    assert static_network(model, "Runtime") is not None  # the fast path is taken
    fast = layers.layer_rows(model)
    monkeypatch.setattr(layers, "static_network", lambda *args, **kwargs: None)
    assert fast == layers.layer_rows(model)


def test_other_batch_size_goes_through_nnabla(examples):
    from nnsurgeon.graph.layers import layer_rows
    from nnsurgeon.graph.live import static_network
    from nnsurgeon.model import load_model

    model = load_model(examples[("zoo", "nntxt+h5")])
    assert static_network(model, "Runtime", batch_size=5) is None
    reshape = [r for r in layer_rows(model, "Runtime", batch_size=5) if r["type"] == "Reshape"][0]
    assert reshape["args"]["shape"][0] == 5 and reshape["outputs"][0]["shape"][0] == 5
