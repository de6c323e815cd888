"""A file in the layout Neural Network Console writes: a text definition with Main/MainValidation/MainRuntime
networks, fixed batch dimensions, old-style context fields, an executor, optimizer, monitor, dataset and
training config; parameters in a separate binary .protobuf. Written here by hand in that format."""
import io
import json
import zipfile
from collections import OrderedDict

import numpy as np

from nnsurgeon.model import read_nnp

from .conftest import members, nnabla_outputs, run


def _net(name, batch, with_loss):
    loss = ""
    if with_loss:
        loss = f'''
  variable {{ name: "CategoricalCrossEntropy" type: "Buffer" shape: {{ dim: {batch} dim: 1 }} }}
  variable {{ name: "y" type: "Buffer" shape: {{ dim: {batch} dim: 1 }} }}
  function {{ name: "CategoricalCrossEntropy" type: "CategoricalCrossEntropy"
    input: "Softmax" input: "y" output: "CategoricalCrossEntropy"
    categorical_cross_entropy_param {{ axis: 1 }} }}'''
    return f'''network {{
  name: "{name}"
  batch_size: {batch}
  variable {{ name: "Input" type: "Buffer" shape: {{ dim: {batch} dim: 1 dim: 4 dim: 4 }} }}
  variable {{ name: "Affine/affine/W" type: "Parameter" shape: {{ dim: 16 dim: 5 }}
    initializer {{ type: "NormalAffineGlorot" multiplier: 1 }} }}
  variable {{ name: "Affine/affine/b" type: "Parameter" shape: {{ dim: 5 }}
    initializer {{ type: "Constant" multiplier: 0 }} }}
  variable {{ name: "Affine" type: "Buffer" shape: {{ dim: {batch} dim: 5 }} }}
  variable {{ name: "ReLU" type: "Buffer" shape: {{ dim: {batch} dim: 5 }} }}
  variable {{ name: "Affine_2/affine/W" type: "Parameter" shape: {{ dim: 5 dim: 3 }}
    initializer {{ type: "NormalAffineGlorot" multiplier: 1 }} }}
  variable {{ name: "Affine_2/affine/b" type: "Parameter" shape: {{ dim: 3 }}
    initializer {{ type: "Constant" multiplier: 0 }} }}
  variable {{ name: "Affine_2" type: "Buffer" shape: {{ dim: {batch} dim: 3 }} }}
  variable {{ name: "Softmax" type: "Buffer" shape: {{ dim: {batch} dim: 3 }} }}
  function {{ name: "Affine" type: "Affine" input: "Input" input: "Affine/affine/W" input: "Affine/affine/b"
    output: "Affine" affine_param {{ base_axis: 1 }} }}
  function {{ name: "ReLU" type: "ReLU" input: "Affine" output: "ReLU" }}
  function {{ name: "Affine_2" type: "Affine" input: "ReLU" input: "Affine_2/affine/W"
    input: "Affine_2/affine/b" output: "Affine_2" affine_param {{ base_axis: 1 }} }}
  function {{ name: "Softmax" type: "Softmax" input: "Affine_2" output: "Softmax" softmax_param {{ axis: 1 }} }}{loss}
}}
'''


NNTXT = ('''global_config { default_context { backend: "cpu|cuda" array_class: "CudaCachedArray" device_id: "0" } }
training_config { max_epoch: 10 iter_per_epoch: 23 save_best: true }
''' + _net("Main", 64, True) + _net("MainValidation", 64, True) + _net("MainRuntime", 64, False) + '''
dataset { name: "Training" uri: "C:\\\\data\\\\train.csv" cache_dir: "C:\\\\data\\\\cache" overwrite_cache: false
  create_cache_explicitly: true shuffle: true no_image_normalization: false batch_size: 64
  variable: "x" variable: "y" }
optimizer { name: "Optimizer" update_interval: 1 network_name: "Main" dataset_name: "Training"
  solver { type: "Adam" context { backend: "cpu|cuda" } weight_decay: 0
    adam_param { alpha: 0.001 beta1: 0.9 beta2: 0.999 eps: 1e-08 } lr_decay: 1 lr_decay_interval: 1 }
  data_variable { variable_name: "Input" data_name: "x" } data_variable { variable_name: "y" data_name: "y" }
  loss_variable { variable_name: "CategoricalCrossEntropy" }
  parameter_variable { variable_name: "Affine/affine/W" learning_rate_multiplier: 1 }
  parameter_variable { variable_name: "Affine/affine/b" learning_rate_multiplier: 1 }
  parameter_variable { variable_name: "Affine_2/affine/W" learning_rate_multiplier: 1 }
  parameter_variable { variable_name: "Affine_2/affine/b" learning_rate_multiplier: 1 } }
monitor { name: "train_error" network_name: "MainValidation" dataset_name: "Training"
  data_variable { variable_name: "Input" data_name: "x" } data_variable { variable_name: "y" data_name: "y" }
  monitor_variable { type: "Error" variable_name: "CategoricalCrossEntropy" } }
executor { name: "Executor" network_name: "MainRuntime" num_evaluations: 1 repeat_evaluation_type: "mean"
  need_back_propagation: false no_image_normalization: false
  data_variable { variable_name: "Input" data_name: "x" }
  output_variable { variable_name: "Softmax" type: "Default" data_name: "y'" }
  parameter_variable { variable_name: "Affine/affine/W" } parameter_variable { variable_name: "Affine/affine/b" }
  parameter_variable { variable_name: "Affine_2/affine/W" }
  parameter_variable { variable_name: "Affine_2/affine/b" } }
''')


def _nnc_file(path):
    import nnabla as nn

    rng = np.random.RandomState(0)
    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        for name, shape in [("Affine/affine/W", (16, 5)), ("Affine/affine/b", (5,)),
                            ("Affine_2/affine/W", (5, 3)), ("Affine_2/affine/b", (3,))]:
            nn.parameter.get_parameter_or_create(name, shape).d = rng.randn(*shape)
        params = io.BytesIO()
        nn.parameter.save_parameters(params, extension=".protobuf")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("nnp_version.txt", "0.1\n")
        zf.writestr("network.nntxt", NNTXT)
        zf.writestr("parameter.protobuf", params.getvalue())
    return str(path)


def test_nnc_layout_loads_lists_converts_and_runs(tmp_path):
    src = _nnc_file(tmp_path / "result.nnp")
    rows = json.loads(run("list-layers", src, "--network", "MainRuntime", "--format", "json").stdout)
    assert [r["name"] for r in rows] == ["Affine", "ReLU", "Affine_2", "Softmax"]
    assert rows[0]["inputs"][0]["shape"] == [64, 1, 4, 4]
    s = json.loads(run("info", src, "--format", "json").stdout)
    assert [n["name"] for n in s["networks"]] == ["Main", "MainValidation", "MainRuntime"]
    assert s["optimizers"][0]["solver"] == "Adam" and s["training_config"]["iter_per_epoch"] == 23
    out = tmp_path / "out.nnp"
    assert run("convert", src, "-o", out).exit_code == 0
    assert members(out) == members(src) and read_nnp(src).proto == read_nnp(str(out)).proto
    for net in ("Main", "MainValidation", "MainRuntime"):
        inputs, want = nnabla_outputs(src, net, seed=1)
        _, got = nnabla_outputs(str(out), net, inputs=inputs)
        assert all(want[k].tobytes() == got[k].tobytes() for k in want)
    q = tmp_path / "q.nnp"
    r = run("quantize", src, "--after", "ReLU,Affine", "--network", "MainRuntime", "-o", q)
    assert r.exit_code == 0, r.stderr
    _, outs = nnabla_outputs(str(q), "MainRuntime")
    assert outs["Softmax"].shape == (64, 3)
    x = np.random.RandomState(0).randn(3, 1, 4, 4).astype(np.float32)
    np.savez(tmp_path / "x.npz", Input=x)
    r = run("extract", src, "--network", "MainRuntime", "--input", tmp_path / "x.npz", "-o", tmp_path / "a.npz")
    assert r.exit_code == 0, r.stderr
    assert np.load(tmp_path / "a.npz")["Softmax"].shape == (3, 3)
